package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

// checkListing checks a listing against want, the matching ids in
// ascending order: paged at several sizes in both directions, and resumed
// both ways from a cursor on each record (After need not be a matching
// record's id, so a cursor left by another filter works too).
func checkListing[T any](t *testing.T, want []string, all []string, list func(store.Page) ([]T, error), id func(T) string) {
	t.Helper()
	newest := slices.Clone(want)
	slices.Reverse(newest)
	for _, desc := range []bool{false, true} {
		expect := want
		if desc {
			expect = newest
		}
		ordered := func(p store.Page) ([]T, error) {
			p.Descending = desc
			return list(p)
		}
		for _, limit := range []int{0, -1, 1, 2, 3, len(want), 100} {
			if got := pageAll(t, limit, ordered, id); !slices.Equal(got, expect) {
				t.Errorf("descending %v, limit %d: listed %v, want %v", desc, limit, got, expect)
			}
		}
		for _, cursor := range all {
			got, err := list(store.Page{After: cursor, Descending: desc})
			if err != nil {
				t.Fatalf("list after %s, descending %v: %v", cursor, desc, err)
			}
			past := func(x string) bool { return x <= cursor }
			if desc {
				past = func(x string) bool { return x >= cursor }
			}
			if ids, exp := idsOf(got, id), slices.DeleteFunc(slices.Clone(expect), past); !slices.Equal(ids, exp) {
				t.Errorf("descending %v after %s: listed %v, want %v", desc, cursor, ids, exp)
			}
		}
	}
}

func idsOf[T any](records []T, id func(T) string) []string {
	ids := make([]string, 0, len(records))
	for _, r := range records {
		ids = append(ids, id(r))
	}
	return ids
}

// idAt is a UUID v7 made in t's millisecond, n telling apart those of one
// millisecond.
func idAt(t time.Time, n int) string {
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-7%03x-8000-%012x", ms>>16, ms&0xffff, n&0xfff, n)
}

// testListEventWindows: time windows find every event received in them,
// whether its id was made at its receipt (the id range a store may read)
// or far from it (a stepped clock, an id made elsewhere), at the edges of
// the skew a store may allow for, in both directions and with each filter.
func testListEventWindows(t *testing.T, open opener) {
	s := open(t)
	conns := []store.Connection{
		mustCreateConnection(t, s, newConnection("a")),
		mustCreateConnection(t, s, newConnection("b")),
	}
	base := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	// How far each event's id is from its receipt; a second either way is
	// the edge (events 10 and 30, at the edges of the windows below).
	second := time.Second
	skews := []time.Duration{0, second - time.Millisecond, -second, second + time.Millisecond,
		-second - time.Millisecond, time.Hour, second, -24 * time.Hour}
	var events []store.Event
	for i := range 48 {
		received := base.Add(time.Duration(i)*250*time.Millisecond + time.Duration(i%3)*time.Microsecond)
		e := newEvent(conns[i%2].ID, fmt.Sprintf("window-%02d", i))
		e.ID, e.ReceivedAt = idAt(received.Add(skews[i%len(skews)]), i), received
		e.Repository, e.Kind = []string{"octo/api", "octo/web"}[i/2%2], []string{"push", "pull_request", "release"}[i%3]
		events = append(events, mustRecordEvent(t, s, e))
	}
	ids := sortedIDs(events)
	at := func(i int) time.Time { return events[i].ReceivedAt }
	windows := []struct {
		name         string
		since, until time.Time
	}{
		{"since an event", at(10), time.Time{}},
		{"since just after an event", at(10).Add(time.Nanosecond), time.Time{}},
		{"until an event", time.Time{}, at(30)},
		{"until just after an event", time.Time{}, at(30).Add(time.Nanosecond)},
		{"window", at(9), at(33)},
		{"window of one millisecond", at(20).Truncate(time.Millisecond), at(20).Truncate(time.Millisecond).Add(time.Millisecond)},
		{"before everything", time.Time{}, base},
		{"after everything", base.Add(time.Hour), time.Time{}},
		{"since 1970", time.Unix(0, 0), time.Time{}},
		{"until 1970", time.Time{}, time.Unix(0, 1)},
	}
	others := []struct {
		name string
		f    store.EventFilter
	}{
		{"", store.EventFilter{}},
		{" of a connection", store.EventFilter{ConnectionID: conns[1].ID}},
		{" of a repository", store.EventFilter{Repository: "octo/web"}},
		{" of a kind", store.EventFilter{Kind: "release"}},
		{" with every filter", store.EventFilter{ConnectionID: conns[0].ID, Repository: "octo/api", Kind: "push"}},
	}
	for _, w := range windows {
		for _, o := range others {
			f := o.f
			f.Since, f.Until = w.since, w.until
			t.Run(w.name+o.name, func(t *testing.T) {
				var want []string
				for _, id := range ids {
					if e := events[slices.IndexFunc(events, func(e store.Event) bool { return e.ID == id })]; matches(f, e) {
						want = append(want, id)
					}
				}
				checkListing(t, want, ids, func(p store.Page) ([]store.Event, error) {
					return s.ListEvents(t.Context(), f, p)
				}, func(e store.Event) string { return e.ID })
			})
		}
	}
}
