package console

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// recentLimit is how many events and deliveries the overview shows.
const recentLimit = 50

// scanPage is the page size used to read a look-back window.
const scanPage = 500

// lookBack are the windows tried in turn to find the newest records. The
// stores list in ascending id order only; ids are UUIDv7, so a window
// starts at the smallest id of its first millisecond, and only the records
// of the first window holding recentLimit of them are read, not the whole
// history. The last resort reads everything.
var lookBack = []time.Duration{5 * time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// lister lists records whose id sorts after after, in id order.
type lister[T any] func(ctx context.Context, after string, limit int) ([]T, error)

// recent returns up to recentLimit of the newest records that keep
// accepts, newest first.
func recent[T any](ctx context.Context, now time.Time, list lister[T], id func(T) string, keep func(T) bool) ([]T, error) {
	for _, d := range lookBack {
		got, err := tail(ctx, uuidv7Floor(now.Add(-d)), list, id, keep)
		if err != nil || len(got) >= recentLimit {
			return got, err
		}
	}
	return tail(ctx, "", list, id, keep)
}

// tail reads every record after from and keeps the last recentLimit that
// keep accepts, reversed. Paging goes by the unfiltered page, so records
// filtered out never end the scan early.
func tail[T any](ctx context.Context, from string, list lister[T], id func(T) string, keep func(T) bool) ([]T, error) {
	var kept []T
	after := from
	for {
		page, err := list(ctx, after, scanPage)
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if keep(r) {
				kept = append(kept, r)
			}
		}
		if len(kept) > recentLimit {
			kept = slices.Clone(kept[len(kept)-recentLimit:])
		}
		if len(page) < scanPage {
			break
		}
		after = id(page[len(page)-1])
	}
	slices.Reverse(kept)
	return kept, nil
}

// uuidv7Floor is a string that sorts before every UUIDv7 made at or after
// t and after every one made before: the 48-bit millisecond timestamp,
// then zeros (lower than any version nibble).
func uuidv7Floor(t time.Time) string {
	ms := t.UnixMilli()
	if ms < 0 {
		return ""
	}
	return fmt.Sprintf("%08x-%04x-0000-0000-000000000000", uint64(ms)>>16&0xffffffff, ms&0xffff)
}
