package dispatch

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// Releaser routes events that were recorded without deliveries: events
// held while their connection was not AVAILABLE, once it is. (Events of
// AVAILABLE connections get their deliveries in the ingress, in the same
// transaction that records them.)
type Releaser struct {
	Store interface {
		UnroutedEvents(ctx context.Context, limit int) ([]store.Event, error)
		RouteEvent(ctx context.Context, eventID string, ds []store.Delivery) error
	}
	// Route decides an event's deliveries under the current configuration.
	Route  func(conn string, eventID string, at time.Time, ev *providers.Event) []store.Delivery
	Engine *Engine
	Log    *zap.Logger
	Every  time.Duration // 1 s if zero
}

// releaseBatch bounds the events routed per pass.
const releaseBatch = 256

// Run routes released events until ctx is done.
func (r *Releaser) Run(ctx context.Context) {
	every := r.Every
	if every == 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for r.pass(ctx) == releaseBatch {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pass routes one batch and reports how many events it looked at.
func (r *Releaser) pass(ctx context.Context) int {
	events, err := r.Store.UnroutedEvents(ctx, releaseBatch)
	if err != nil {
		if ctx.Err() == nil {
			r.Log.Error("list released events", zap.Error(err))
		}
		return 0
	}
	routed := 0
	for _, e := range events {
		var ds []store.Delivery
		var ev providers.Event
		if err := json.Unmarshal(e.Normalized, &ev); err != nil {
			// Marked routed with no deliveries, so it is not retried forever.
			r.Log.Error("stored event unreadable; not routed", zap.String("event_id", e.ID), zap.Error(err))
		} else {
			ds = r.Route(e.ConnectionID, e.ID, e.ReceivedAt, &ev)
		}
		if err := r.Store.RouteEvent(ctx, e.ID, ds); err != nil {
			r.Log.Error("route released event", zap.String("event_id", e.ID), zap.Error(err))
			return 0
		}
		routed += len(ds)
	}
	if routed > 0 {
		r.Engine.Wake()
	}
	return len(events)
}
