package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

// FuzzIDWindow: an event received in [since, until) whose id is within
// EventIDSkew of its receipt (the stores' events_skewed predicate false)
// has an id inside IDWindow's range, whatever the bounds, down to the
// nanosecond and the millisecond's edges.
func FuzzIDWindow(f *testing.F) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, seed := range [][4]int64{
		{0, 1, 0, 0},                     // a window of one nanosecond
		{0, 1_000_000, 999_999, 1000},    // the last nanosecond of a millisecond, id a second later
		{5_000_000, 0, 5_000_000, -1000}, // no upper bound, id a second earlier
		{0, 0, 0, 0},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, sinceOff, untilOff, receivedOff, skewMs int64) {
		// Within ten seconds of each other, so that windows often hold the
		// event; zero leaves a bound open.
		const span = 10 * int64(time.Second)
		at := func(off int64) time.Time { return time.Unix(0, base+off%span) }
		received, skewMs := at(receivedOff), skewMs%1001
		var since, until time.Time
		if sinceOff != 0 {
			since = at(sinceOff)
		}
		if untilOff != 0 {
			until = at(untilOff)
		}
		if (!since.IsZero() && received.Before(since)) || (!until.IsZero() && !received.Before(until)) {
			return // not in the window
		}
		id := store.IDPrefix(received.UnixMilli()+skewMs) + "-7fff-bfff-ffffffffffff"
		lo, hi := store.IDWindow(since, until)
		if lo != "" && id < lo || hi != "" && id >= hi {
			t.Errorf("event received %v with id %s (skew %d ms) is outside [%q, %q) of window [%v, %v)", received, id, skewMs, lo, hi, since, until)
		}
	})
}

// FuzzMergePages: merging two pages of one listing is their union in the
// page's order, each record once, cut at the limit.
func FuzzMergePages(f *testing.F) {
	f.Add(uint64(0b1011), uint64(0b0110), 3, false)
	f.Add(uint64(0xff), uint64(0xf0f0), 0, true)
	f.Fuzz(func(t *testing.T, a, b uint64, limit int, desc bool) {
		p := store.Page{Limit: limit % 70, Descending: desc}
		// Bit i of a or b: record i is in that page.
		page := func(bits uint64) []string {
			var ids []string
			for i := range 64 {
				if bits&(1<<i) != 0 {
					ids = append(ids, fmt.Sprintf("%02d", i))
				}
			}
			if desc {
				slices.Reverse(ids)
			}
			return ids
		}
		want := page(a | b)
		if p.Limit > 0 && len(want) > p.Limit {
			want = want[:p.Limit]
		}
		if got := store.MergePages(page(a), page(b), func(s string) string { return s }, p); !slices.Equal(got, want) {
			t.Errorf("MergePages(%v, %v, %+v) = %v, want %v", page(a), page(b), p, got, want)
		}
	})
}
