package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// eventTime is the ReceivedAt of test events. Events keep the time the
// caller gives, so time filters are checked without a clock.
var eventTime = time.Date(2025, time.March, 1, 12, 0, 0, 123456789, time.UTC)

// newEvent returns a GitHub push event of connID with a new UUID v7 ID.
func newEvent(connID, deliveryID string) store.Event {
	return store.Event{
		ID:           uuid.Must(uuid.NewV7()).String(),
		ConnectionID: connID,
		Provider:     store.ProviderGitHub,
		DeliveryID:   deliveryID,
		Kind:         "push",
		RawKind:      "push",
		Repository:   "octo/api",
		ReceivedAt:   eventTime,
		Headers:      []byte(`{"X-GitHub-Event":"push","X-GitHub-Delivery":"` + deliveryID + `"}`),
		Body:         []byte(`{"ref":"refs/heads/main"}`),
		Normalized:   []byte(`{"kind":"push","repository":"octo/api"}`),
	}
}

func mustRecordEvent(t *testing.T, s Store, e store.Event) store.Event {
	t.Helper()
	if dup, err := s.RecordEvent(t.Context(), e); err != nil || dup {
		t.Fatalf("RecordEvent(%s) = %v, %v; want a new event", e.DeliveryID, dup, err)
	}
	return e
}

func mustGetEvent(t *testing.T, s Store, id string) store.Event {
	t.Helper()
	e, err := s.GetEvent(t.Context(), id)
	if err != nil {
		t.Fatalf("GetEvent(%s): %v", id, err)
	}
	return e
}

// checkEvent compares got with want: byte slices by content, ReceivedAt as
// an instant that must come back in UTC.
func checkEvent(t *testing.T, got, want store.Event) {
	t.Helper()
	if !got.ReceivedAt.Equal(want.ReceivedAt) || got.ReceivedAt.Location() != time.UTC {
		t.Errorf("event %s received at %v, want %v in UTC", want.ID, got.ReceivedAt, want.ReceivedAt)
	}
	got.ReceivedAt = want.ReceivedAt
	for _, f := range []struct {
		got  *[]byte
		want []byte
	}{{&got.Headers, want.Headers}, {&got.Body, want.Body}, {&got.Normalized, want.Normalized}} {
		if bytes.Equal(*f.got, f.want) {
			*f.got = f.want
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("event\n got %+v\nwant %+v", got, want)
	}
}

// listEventIDs lists the events matching f, limit at a time.
func listEventIDs(t *testing.T, s Store, f store.EventFilter, limit int) []string {
	t.Helper()
	return pageAll(t, limit, func(p store.Page) ([]store.Event, error) {
		return s.ListEvents(t.Context(), f, p)
	}, func(e store.Event) string { return e.ID })
}

// sortedIDs returns the IDs of es in listing order.
func sortedIDs(es []store.Event) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	slices.Sort(ids)
	return ids
}

func testRecordGetEvent(t *testing.T, open opener) {
	s := open(t)
	c := mustCreateConnection(t, s, newConnection("hooks"))
	tests := []struct {
		name string
		edit func(e *store.Event)
	}{
		{"json body", func(*store.Event) {}},
		{"binary body", func(e *store.Event) { e.Body = []byte("\x00{\"a\":\xff\xfe}\x00\xc3\x28\x00") }},
		{"empty body", func(e *store.Event) { e.Body = []byte{} }},
		{"held, received in another zone", func(e *store.Event) {
			e.Held = true
			e.ReceivedAt = time.Date(2025, time.March, 1, 13, 0, 0, 1, time.FixedZone("CET", 3600))
		}},
		{"gitlab", func(e *store.Event) {
			e.Provider, e.Kind, e.RawKind = store.ProviderGitLab, "pull_request", "Merge Request Hook"
			e.Repository = "group/sub/project"
			e.Headers = []byte(`{"X-Gitlab-Event":"Merge Request Hook","X-Note":"é ✓"}`)
			e.Normalized = []byte(`{"kind":"pull_request","title":"naïve \u0000 fix"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEvent(c.ID, uuid.NewString())
			tt.edit(&e)
			mustRecordEvent(t, s, e)
			checkEvent(t, mustGetEvent(t, s, e.ID), e)
		})
	}
	_, err := s.GetEvent(t.Context(), uuid.NewString())
	checkErr(t, "GetEvent(unknown)", err, store.ErrNotFound)
}

func testRecordEventDuplicate(t *testing.T, open opener) {
	s := open(t)
	a := mustCreateConnection(t, s, newConnection("a"))
	b := mustCreateConnection(t, s, newConnection("b"))
	first := mustRecordEvent(t, s, newEvent(a.ID, "delivery-1"))

	again := newEvent(a.ID, first.DeliveryID)
	again.Held, again.Body = true, []byte(`{"redelivered":true}`)
	if dup, err := s.RecordEvent(t.Context(), again); err != nil || !dup {
		t.Fatalf("RecordEvent(redelivery) = %v, %v; want a duplicate", dup, err)
	}
	checkEvent(t, mustGetEvent(t, s, first.ID), first)
	_, err := s.GetEvent(t.Context(), again.ID)
	checkErr(t, "GetEvent(redelivery)", err, store.ErrNotFound)

	// Delivery IDs are unique per connection only.
	other := mustRecordEvent(t, s, newEvent(b.ID, first.DeliveryID))
	checkEvent(t, mustGetEvent(t, s, other.ID), other)
	if got, want := listEventIDs(t, s, store.EventFilter{}, 0), sortedIDs([]store.Event{first, other}); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func testRecordEventCancelled(t *testing.T, open opener) {
	s := open(t)
	c := mustCreateConnection(t, s, newConnection("hooks"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Repeated: a store that lets queueing race the cancellation fails only
	// some of the calls.
	for i := range 20 {
		e := newEvent(c.ID, fmt.Sprintf("cancelled-%d", i))
		if dup, err := s.RecordEvent(ctx, e); !errors.Is(err, context.Canceled) || dup {
			t.Fatalf("RecordEvent with a cancelled context = %v, %v; want error %v", dup, err, context.Canceled)
		}
	}
	if got := listEventIDs(t, s, store.EventFilter{}, 0); len(got) != 0 {
		t.Errorf("events %v recorded with a cancelled context", got)
	}
}

// recordConcurrently records events from one goroutine each and returns
// which were duplicates.
func recordConcurrently(t *testing.T, s Store, events []store.Event) []bool {
	t.Helper()
	dups := make([]bool, len(events))
	errs := concurrently(len(events), func(i int) error {
		var err error
		dups[i], err = s.RecordEvent(t.Context(), events[i])
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("RecordEvent(%s): %v", events[i].DeliveryID, err)
		}
	}
	return dups
}

func testConcurrentRecordEvent(t *testing.T, open opener) {
	s := open(t)
	t.Run("distinct deliveries", func(t *testing.T) {
		c := mustCreateConnection(t, s, newConnection("distinct"))
		events := make([]store.Event, 200)
		for i := range events {
			events[i] = newEvent(c.ID, fmt.Sprintf("delivery-%03d", i))
		}
		if dups := recordConcurrently(t, s, events); slices.Contains(dups, true) {
			t.Errorf("distinct deliveries reported as duplicates: %v", dups)
		}
		f := store.EventFilter{ConnectionID: c.ID}
		if got := listEventIDs(t, s, f, 0); !slices.Equal(got, sortedIDs(events)) {
			t.Errorf("listed %d events %v, want each of the %d recorded once", len(got), got, len(events))
		}
	})
	t.Run("same delivery", func(t *testing.T) {
		c := mustCreateConnection(t, s, newConnection("same"))
		events := make([]store.Event, 50)
		for i := range events {
			events[i] = newEvent(c.ID, "redelivered")
			events[i].Body = fmt.Appendf(nil, `{"attempt":%d}`, i)
		}
		dups := recordConcurrently(t, s, events)
		var winners []store.Event
		for i, dup := range dups {
			if !dup {
				winners = append(winners, events[i])
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d events recorded as new, want 1", len(winners))
		}
		checkEvent(t, mustGetEvent(t, s, winners[0].ID), winners[0])
		if got := listEventIDs(t, s, store.EventFilter{ConnectionID: c.ID}, 0); !slices.Equal(got, []string{winners[0].ID}) {
			t.Errorf("events %v, want only %v", got, winners[0].ID)
		}
	})
}

// matches reports whether f selects e.
func matches(f store.EventFilter, e store.Event) bool {
	return (f.ConnectionID == "" || e.ConnectionID == f.ConnectionID) &&
		(f.Repository == "" || e.Repository == f.Repository) &&
		(f.Kind == "" || e.Kind == f.Kind) &&
		(f.Since.IsZero() || !e.ReceivedAt.Before(f.Since)) &&
		(f.Until.IsZero() || e.ReceivedAt.Before(f.Until))
}

func testListEvents(t *testing.T, open opener) {
	s := open(t)
	conns := []store.Connection{
		mustCreateConnection(t, s, newConnection("a")),
		mustCreateConnection(t, s, newConnection("b")),
	}
	repos := []string{"octo/api", "octo/web", "other/lib"}
	kinds := []string{"push", "pull_request"}
	var events []store.Event
	for i := range 15 {
		e := newEvent(conns[i%2].ID, fmt.Sprintf("delivery-%02d", i))
		e.Repository, e.Kind = repos[i%3], kinds[i/2%2]
		// Receipt order differs from ID order: 7 permutes the minutes.
		e.ReceivedAt = eventTime.Add(time.Duration(i*7%15) * time.Minute)
		events = append(events, mustRecordEvent(t, s, e))
	}
	slices.SortFunc(events, func(a, b store.Event) int { return strings.Compare(a.ID, b.ID) })

	all, err := s.ListEvents(t.Context(), store.EventFilter{}, store.Page{})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if len(all) != len(events) {
		t.Fatalf("ListEvents returned %d events, want %d", len(all), len(events))
	}
	for i, e := range events {
		e.Body = nil // listings leave bodies out
		checkEvent(t, all[i], e)
	}

	// Both bounds fall on an event: Since includes it, Until excludes it.
	since, until := eventTime.Add(4*time.Minute), eventTime.Add(9*time.Minute)
	filters := []struct {
		name string
		f    store.EventFilter
	}{
		{"all", store.EventFilter{}},
		{"connection", store.EventFilter{ConnectionID: conns[0].ID}},
		{"repository", store.EventFilter{Repository: "octo/web"}},
		{"kind", store.EventFilter{Kind: "pull_request"}},
		{"since", store.EventFilter{Since: since}},
		{"until", store.EventFilter{Until: until}},
		{"window", store.EventFilter{Since: since, Until: until}},
		{"every field", store.EventFilter{ConnectionID: conns[1].ID, Repository: "octo/web", Kind: "pull_request", Since: since, Until: until}},
		{"empty window", store.EventFilter{Since: until, Until: since}},
		{"unknown connection", store.EventFilter{ConnectionID: uuid.NewString()}},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, e := range events {
				if matches(tt.f, e) {
					want = append(want, e.ID)
				}
			}
			checkListing(t, want, sortedIDs(events), func(p store.Page) ([]store.Event, error) {
				return s.ListEvents(t.Context(), tt.f, p)
			}, func(e store.Event) string { return e.ID })
		})
	}
}

func testReleaseHeldEvents(t *testing.T, open opener) {
	s := open(t)
	a := mustCreateConnection(t, s, newConnection("a"))
	b := mustCreateConnection(t, s, newConnection("b"))
	record := func(connID, deliveryID string, held bool) store.Event {
		e := newEvent(connID, deliveryID)
		e.Held = held
		return mustRecordEvent(t, s, e)
	}
	events := []store.Event{
		record(a.ID, "held-1", true),
		record(a.ID, "held-2", true),
		record(a.ID, "routed", false),
		record(b.ID, "held-1", true),
	}
	steps := []struct {
		status string
		held   []bool // Held of events afterwards
	}{
		{store.StatusError, []bool{true, true, false, true}},
		{store.StatusAvailable, []bool{false, false, false, true}},
	}
	for _, st := range steps {
		if err := s.SetConnectionStatus(t.Context(), a.ID, st.status, ""); err != nil {
			t.Fatalf("SetConnectionStatus(%s): %v", st.status, err)
		}
		listed, err := s.ListEvents(t.Context(), store.EventFilter{}, store.Page{})
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		for i, e := range events {
			e.Held = st.held[i]
			checkEvent(t, mustGetEvent(t, s, e.ID), e)
			if j := slices.IndexFunc(listed, func(l store.Event) bool { return l.ID == e.ID }); j < 0 || listed[j].Held != e.Held {
				t.Errorf("after %s: event %s not listed with Held %v", st.status, e.DeliveryID, e.Held)
			}
		}
	}
}
