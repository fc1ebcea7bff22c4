package console

import (
	"context"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

// TestRecentNewestFirst: recent shows the newest records first, reads
// only the pages it needs, and bounds what it reads for a key that may see
// few records, handing on where the next page starts.
func TestRecentNewestFirst(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		n         int
		keepEvery int // keep one record in keepEvery
		wantLen   int
		wantNext  bool
		maxListed int // ListEvents calls allowed
	}{
		{name: "none", n: 0, keepEvery: 1, wantLen: 0, maxListed: 1},
		{name: "few", n: 7, keepEvery: 1, wantLen: 7, maxListed: 1},
		{name: "many", n: 2 * scanPage, keepEvery: 1, wantLen: recentLimit, wantNext: true, maxListed: 1},
		{name: "one in a thousand kept", n: maxScan + 2*scanPage, keepEvery: 1000, wantLen: maxScan / 1000, wantNext: true, maxListed: maxScan / scanPage},
		{name: "last page short", n: 3 * scanPage / 2, keepEvery: 100, wantLen: 8, maxListed: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			for i := range tc.n {
				at := now.Add(-time.Duration(i) * time.Second)
				st.events = append(st.events, store.Event{ID: uuidv7At(at, i), ReceivedAt: at, DeliveryID: string(rune('a' + i%tc.keepEvery))})
			}
			list := func(ctx context.Context, before string, limit int) ([]store.Event, error) {
				return st.ListEvents(ctx, store.EventFilter{}, store.Page{After: before, Limit: limit, Descending: true})
			}
			id := func(e store.Event) string { return e.ID }
			keep := func(e store.Event) bool { return e.DeliveryID == "a" }
			got, next, err := recent(context.Background(), "", list, id, keep)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantLen || (next != "") != tc.wantNext {
				t.Fatalf("%d events, next %q; want %d, a next page %v", len(got), next, tc.wantLen, tc.wantNext)
			}
			for i, e := range got {
				// The i-th kept event was made i*keepEvery seconds ago: newest first, none skipped.
				if want := now.Add(-time.Duration(i*tc.keepEvery) * time.Second); !e.ReceivedAt.Equal(want) {
					t.Fatalf("event %d received %v, want %v", i, e.ReceivedAt, want)
				}
			}
			if st.eventPages > tc.maxListed {
				t.Errorf("%d listings, want at most %d", st.eventPages, tc.maxListed)
			}
			if next == "" {
				return
			}
			// The next page goes on exactly where this one stopped.
			more, _, err := recent(context.Background(), next, list, id, keep)
			if err != nil {
				t.Fatal(err)
			}
			if want := now.Add(-time.Duration(len(got)*tc.keepEvery) * time.Second); len(more) == 0 || !more[0].ReceivedAt.Equal(want) {
				t.Errorf("next page starts %v, want %v", more, want)
			}
		})
	}
}
