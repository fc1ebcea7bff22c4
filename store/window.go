package store

import (
	"fmt"
	"time"
)

// EventIDSkew is how far apart an event's id (a UUID v7, made on receipt)
// and its ReceivedAt may be for a time-bounded listing to find the event
// by its id. Ids are ordered and indexed, times are not: a window
// [Since, Until) is read as an id range, widened by EventIDSkew, with the
// time conditions kept, so the range only narrows the scan. An event whose
// id is further from its ReceivedAt (a clock step, an id made elsewhere) is
// "skewed": the stores keep those in a partial index of their own, whose
// predicate (migration 0009) spells the same bound in SQL, and read it
// beside the range, so every listing stays exact.
const EventIDSkew = time.Second

// IDWindow is the id range [lo, hi) holding every event that is not skewed
// and was received in [since, until); "" leaves that end open, as a zero
// time does.
func IDWindow(since, until time.Time) (lo, hi string) {
	skew := EventIDSkew.Milliseconds()
	if !since.IsZero() && since.UnixMilli()-skew >= 0 {
		lo = IDPrefix(since.UnixMilli() - skew)
	}
	if !until.IsZero() {
		// Received before until: at the latest in until's millisecond.
		// Before 1970 no id is in time: all are skewed.
		hi = IDPrefix(max(0, until.UnixMilli()+skew+1))
	}
	return lo, hi
}

// IDPrefix is the first 13 characters of a UUID v7 made in the Unix
// millisecond ms ("0189abcd-ef01"): bytewise, every id made in ms or later
// sorts at or after it, and every id made earlier before it.
func IDPrefix(ms int64) string {
	return fmt.Sprintf("%08x-%04x", uint64(ms)>>16, uint64(ms)&0xffff)
}

// MergePages merges two pages of one listing, each in p's order, into one:
// each record once, at most p.Limit. A listing read in two parts (an id
// range and the skewed events) answers this way.
func MergePages[T any](a, b []T, id func(T) string, p Page) []T {
	before := func(x, y string) bool { return x < y }
	if p.Descending {
		before = func(x, y string) bool { return x > y }
	}
	out := make([]T, 0, len(a)+len(b))
	for (len(a) > 0 || len(b) > 0) && (p.Limit <= 0 || len(out) < p.Limit) {
		switch {
		case len(b) == 0 || (len(a) > 0 && before(id(a[0]), id(b[0]))):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || before(id(b[0]), id(a[0])):
			out, b = append(out, b[0]), b[1:]
		default: // the same record in both
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}
