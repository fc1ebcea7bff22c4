package storetest

import (
	"slices"
	"testing"

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
