package recovery

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// missed is an event of a hook's log that forgelink lacks: the attempt to
// redeliver and when the event first came.
type missed struct {
	guid    string
	attempt string
	first   time.Time
}

// checkHook reads h's log since the previous round and redelivers what
// forgelink missed. It reports whether h is unrecoverable.
func (r *Recoverer) checkHook(ctx context.Context, h Hook, st *Stats) bool {
	state, err := r.o.Store.GetRecoveryHook(ctx, h.Key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		r.o.Log.Warn("recovery: cannot read hook state", zap.String("hook", h.Key), zap.Error(err))
		st.fail(h.Provider)
		return false
	}
	state.Key = h.Key
	start := r.o.Now()
	if state.Unrecoverable && start.Sub(state.UpdatedAt) < recheckUnrecoverable {
		st.Unrecoverable++
		return true
	}
	// GitHub's own recipe: this round's start is the next round's bound,
	// taken before listing; never further back than the provider keeps.
	since := start.Add(-h.Retention)
	if state.CheckedUntil.After(since) {
		since = state.CheckedUntil
	}
	var ds []providers.HookDelivery
	err = r.call(ctx, func() (err error) {
		ds, err = h.Log.Deliveries(ctx, since)
		return err
	})
	st.Hooks++
	switch {
	case errors.Is(err, providers.ErrHookLogRefused):
		r.markUnrecoverable(ctx, h, state, err)
		st.Unrecoverable++
		return true
	case err != nil:
		if !r.refused(ctx, h.ConnectionIDs, "hook "+h.Key+"'s deliveries", err) {
			r.o.Log.Warn("recovery: cannot list deliveries", zap.String("hook", h.Key), zap.Error(err))
		}
		st.fail(h.Provider)
		return false
	}
	st.Listed += len(ds)
	todo, err := r.missedEvents(ctx, h, ds)
	if err != nil {
		r.o.Log.Warn("recovery: cannot compare deliveries", zap.String("hook", h.Key), zap.Error(err))
		st.fail(h.Provider)
		return false
	}
	st.Missed += len(todo)
	if !r.redeliver(ctx, h, todo, st) {
		return false // the cursor stays: the next round sees them again
	}
	state.CheckedUntil, state.UpdatedAt = start, r.o.Now()
	if err := r.o.Store.PutRecoveryHook(ctx, state); err != nil {
		r.o.Log.Warn("recovery: cannot save hook state", zap.String("hook", h.Key), zap.Error(err))
		st.fail(h.Provider)
	}
	return false
}

// missedEvents groups ds by GUID and returns the events forgelink never
// recorded, oldest first, without those already redelivered
// maxRedeliveries times. An App hook's event counts only when none of
// its attempts succeeded: it may be for an installation forgelink does
// not serve, which it never records.
func (r *Recoverer) missedEvents(ctx context.Context, h Hook, ds []providers.HookDelivery) ([]missed, error) {
	groups := map[string]*missed{}
	ok := map[string]bool{}
	for _, d := range ds { // newest first: the last seen is the oldest attempt
		if d.GUID == "" || d.ID == "" {
			continue
		}
		ok[d.GUID] = ok[d.GUID] || d.OK
		g := groups[d.GUID]
		if g == nil {
			g = &missed{guid: d.GUID, attempt: d.ID}
			groups[d.GUID] = g
		}
		g.first = d.DeliveredAt
	}
	if h.App {
		maps.DeleteFunc(groups, func(guid string, _ *missed) bool { return ok[guid] })
	}
	if len(groups) == 0 {
		return nil, nil
	}
	guids := slices.Sorted(maps.Keys(groups))
	recorded, err := r.o.Store.RecordedDeliveries(ctx, h.ConnectionIDs, guids)
	if err != nil {
		return nil, err
	}
	asked, err := r.o.Store.Redeliveries(ctx, h.Key, guids)
	if err != nil {
		return nil, err
	}
	var out []missed
	for _, guid := range guids {
		if !recorded[guid] && asked[guid] < maxRedeliveries {
			out = append(out, *groups[guid])
		}
	}
	slices.SortFunc(out, func(a, b missed) int { return cmp.Or(a.first.Compare(b.first), cmp.Compare(a.guid, b.guid)) })
	return out, nil
}

// pace waits until gap has passed since the previous redelivery of any
// hook: GitHub asks for a second between mutating calls.
func (r *Recoverer) pace(ctx context.Context, gap time.Duration) error {
	r.mu.Lock()
	last := r.lastRedelivery
	r.mu.Unlock()
	if wait := gap - r.o.Now().Sub(last); !last.IsZero() && wait > 0 {
		if err := r.o.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.lastRedelivery = r.o.Now()
	r.mu.Unlock()
	return nil
}

// redeliver asks for each of todo again, serially and RedeliverGap apart.
// It reports whether all were asked for.
func (r *Recoverer) redeliver(ctx context.Context, h Hook, todo []missed, st *Stats) bool {
	for _, m := range todo {
		if err := r.pace(ctx, max(r.o.RedeliverGap, h.Gap)); err != nil {
			return false
		}
		// Counted before asking: a redelivery that happened but whose
		// answer was lost must not be asked for without end.
		if err := r.o.Store.AddRedelivery(ctx, h.Key, m.guid, r.o.Now()); err != nil {
			r.o.Log.Warn("recovery: cannot record redelivery", zap.String("hook", h.Key), zap.Error(err))
			st.fail(h.Provider)
			return false
		}
		err := r.call(ctx, func() error { return h.Log.Redeliver(ctx, m.attempt) })
		if err != nil {
			if !r.refused(ctx, h.ConnectionIDs, "hook "+h.Key+"'s deliveries", err) {
				r.o.Log.Warn("recovery: redelivery failed", zap.String("hook", h.Key),
					zap.String("delivery", m.guid), zap.Error(err))
			}
			st.fail(h.Provider)
			return false
		}
		st.Redelivered++
		r.o.Metrics.redelivered.Inc()
	}
	return true
}

// markUnrecoverable records that the provider refuses h's log, and logs
// it once per process.
func (r *Recoverer) markUnrecoverable(ctx context.Context, h Hook, state store.RecoveryHook, cause error) {
	state.Unrecoverable, state.Reason, state.UpdatedAt = true, cause.Error(), r.o.Now()
	if err := r.o.Store.PutRecoveryHook(ctx, state); err != nil {
		r.o.Log.Warn("recovery: cannot save hook state", zap.String("hook", h.Key), zap.Error(err))
	}
	r.mu.Lock()
	first := !r.warned[h.Key]
	r.warned[h.Key] = true
	r.mu.Unlock()
	if first {
		r.o.Log.Warn("recovery: the provider refuses this hook's deliveries; its pipelines' refs are polled instead",
			zap.String("hook", h.Key), zap.Error(cause))
	}
}
