package console

import (
	"context"
)

// recentLimit is how many events and deliveries a list shows.
const recentLimit = 50

// scanPage is the page size in which recent reads a listing.
const scanPage = 500

// maxScan bounds how many records one list reads: a key allowed only a
// few connections' records must not make each view read the whole
// history. The page then ends early, with an Older link to go on.
const maxScan = 20 * scanPage

// lister lists records older than before ("": the newest), newest first,
// at most limit.
type lister[T any] func(ctx context.Context, before string, limit int) ([]T, error)

// recent returns up to recentLimit of the newest records older than
// before that keep accepts, newest first, and where the next (older) page
// starts: "" when the listing has no more. The stores list newest first,
// so only as many records are read as the page needs.
func recent[T any](ctx context.Context, before string, list lister[T], id func(T) string, keep func(T) bool) (kept []T, next string, err error) {
	for scanned := 0; scanned < maxScan; {
		page, err := list(ctx, before, scanPage)
		if err != nil {
			return nil, "", err
		}
		scanned += len(page)
		for _, r := range page {
			before = id(r)
			if !keep(r) {
				continue
			}
			if kept = append(kept, r); len(kept) == recentLimit {
				return kept, before, nil
			}
		}
		if len(page) < scanPage {
			return kept, "", nil
		}
	}
	return kept, before, nil
}
