package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// synthesizedPrefix starts the delivery id of every synthesised push:
// the mark that tells them from webhooks.
const synthesizedPrefix = store.SynthesizedDeliveryPrefix

// SynthesizedID is the delivery id of the synthesised push that moved
// ref of repository to after. It is fixed by the move, so synthesising it
// twice is a duplicate for the store, and a late webhook of the same move
// finds it.
func SynthesizedID(repository, ref, after string) string {
	return synthesizedPrefix + store.RepositoryKey(repository) + ":" + ref + ":" + after
}

// IsSynthesized reports whether deliveryID is a synthesised push's.
func IsSynthesized(deliveryID string) bool {
	return strings.HasPrefix(deliveryID, synthesizedPrefix)
}

// EventStore records events with their deliveries (the outbox).
type EventStore interface {
	RecordEvent(ctx context.Context, e store.Event) (duplicate bool, err error)
}

// Synthesizer records synthesised pushes as push events routed like a
// webhook's: Synthesize is its method value for Options.Synthesize.
type Synthesizer struct {
	Store EventStore
	// Route decides the event's deliveries (the ingress's routing).
	Route func(connID, eventID string, at time.Time, ev *providers.Event) []store.Delivery
	// Recorded wakes the delivery engine; optional.
	Recorded func()
	Now      func() time.Time
}

// Synthesize records p. Its changed files are left to the delivery
// engine, which completes a push whose FilesIncomplete is set through the
// provider's compare API (relay/changes) from Before to After.
func (s *Synthesizer) Synthesize(ctx context.Context, p SyntheticPush) error {
	ev := SyntheticEvent(p)
	normalized, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode synthesised push: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("event id: %w", err)
	}
	e := store.Event{
		ID: id.String(), ConnectionID: p.ConnectionID, Provider: p.Provider, DeliveryID: ev.DeliveryID,
		Kind: string(ev.Kind), RawKind: ev.RawKind, Repository: p.Repository, ReceivedAt: s.Now().UTC(),
		Headers: []byte(`{}`), Body: normalized, Normalized: normalized, Routed: true,
	}
	e.Deliveries = s.Route(p.ConnectionID, e.ID, e.ReceivedAt, &ev)
	dup, err := s.Store.RecordEvent(ctx, e)
	if err != nil {
		return fmt.Errorf("record synthesised push: %w", err)
	}
	if !dup && len(e.Deliveries) > 0 && s.Recorded != nil {
		s.Recorded()
	}
	return nil
}

// SyntheticEvent is p in forgelink's normalised form: a push of one ref,
// without commits, whose file list is to be completed.
func SyntheticEvent(p SyntheticPush) providers.Event {
	refType, name := providers.RefBranch, strings.TrimPrefix(p.Ref, "refs/heads/")
	if tag, ok := strings.CutPrefix(p.Ref, "refs/tags/"); ok {
		refType, name = providers.RefTag, tag
	}
	return providers.Event{
		Provider: p.Provider, DeliveryID: SynthesizedID(p.Repository, p.Ref, p.After), Kind: providers.KindPush,
		RawKind: "synthesized", Repository: providers.Repository{FullName: p.Repository},
		Pushes: []providers.Push{{
			Ref: p.Ref, RefType: refType, RefName: name, Before: p.Before, After: p.After,
			CommitsTruncated: true, FilesIncomplete: true,
		}},
	}
}

// DeliveryLookup tells which delivery ids a connection recorded.
type DeliveryLookup interface {
	RecordedDeliveries(ctx context.Context, connIDs, guids []string) (map[string]bool, error)
}

// AlreadySynthesized reports whether every push of ev, a webhook of
// connection connID, was synthesised already: the late webhook is then
// recorded without deliveries, so no pipeline gets the same move twice.
func AlreadySynthesized(ctx context.Context, st DeliveryLookup, connID string, ev *providers.Event) (bool, error) {
	if ev.Kind != providers.KindPush || len(ev.Pushes) == 0 || IsSynthesized(ev.DeliveryID) {
		return false, nil
	}
	ids := make([]string, 0, len(ev.Pushes))
	for _, p := range ev.Pushes {
		if p.After == "" {
			return false, nil
		}
		ids = append(ids, SynthesizedID(ev.Repository.FullName, p.Ref, p.After))
	}
	found, err := st.RecordedDeliveries(ctx, []string{connID}, ids)
	if err != nil {
		return false, fmt.Errorf("synthesised pushes: %w", err)
	}
	for _, id := range ids {
		if !found[id] {
			return false, nil
		}
	}
	return true, nil
}
