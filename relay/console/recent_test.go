package console

import (
	"context"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

func TestRecentNewestFirst(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		n         int
		spacing   time.Duration // between consecutive events, going back from now
		wantLen   int
		maxListed int // ListEvents calls allowed
	}{
		{name: "none", n: 0, wantLen: 0, maxListed: len(lookBack) + 1},
		{name: "few and old", n: 7, spacing: 90 * 24 * time.Hour, wantLen: 7, maxListed: len(lookBack) + 1},
		{name: "many, spread over months", n: 300, spacing: 12 * time.Hour, wantLen: recentLimit, maxListed: 5},
		// 2000 in the last minutes: the first window holds them; they take
		// several pages.
		{name: "dense", n: 2000, spacing: 100 * time.Millisecond, wantLen: recentLimit, maxListed: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			for i := range tc.n {
				at := now.Add(-time.Duration(i) * tc.spacing)
				st.events = append(st.events, store.Event{ID: uuidv7At(at, i), ReceivedAt: at})
			}
			got, err := recent(context.Background(), now, func(ctx context.Context, after string, limit int) ([]store.Event, error) {
				return st.ListEvents(ctx, store.EventFilter{}, store.Page{After: after, Limit: limit})
			}, func(e store.Event) string { return e.ID }, func(store.Event) bool { return true })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantLen {
				t.Fatalf("%d events, want %d", len(got), tc.wantLen)
			}
			for i, e := range got {
				// Event i was made i spacings ago: newest first, none skipped.
				if want := now.Add(-time.Duration(i) * tc.spacing); !e.ReceivedAt.Equal(want) {
					t.Fatalf("event %d received %v, want %v", i, e.ReceivedAt, want)
				}
			}
			if st.eventPages > tc.maxListed {
				t.Errorf("%d listings, want at most %d", st.eventPages, tc.maxListed)
			}
		})
	}
}

func TestUUIDv7Floor(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	floor := uuidv7Floor(at)
	for _, tc := range []struct {
		id    string
		after bool
	}{
		{uuidv7At(at, 0), true},
		{uuidv7At(at.Add(time.Millisecond), 0), true},
		{uuidv7At(at.Add(time.Hour*24*365*100), 0), true},
		{uuidv7At(at.Add(-time.Millisecond), 0xfff), false},
		{uuidv7At(time.Unix(0, 0), 1), false},
	} {
		if got := tc.id > floor; got != tc.after {
			t.Errorf("%s > %s = %v, want %v", tc.id, floor, got, tc.after)
		}
	}
	if uuidv7Floor(time.Unix(-1, 0)) != "" {
		t.Error("a time before 1970 has a floor")
	}
}
