package sqlite_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/storetest"
)

// TestListingPlans: every documented listing filter, alone and combined,
// in both directions, reads an index from where its page starts: no table
// scan, and no sort of what it matched. A change that loses an index fails
// here, not at a million events.
func TestListingPlans(t *testing.T) {
	d := storetest.PlanData()
	path := filepath.Join(t.TempDir(), "plans.db")
	mustClose(t, mustOpen(t, path))
	if err := bulkInsert(path, d); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path)
	defer mustClose(t, s)
	for _, l := range d.BenchListings() {
		for _, desc := range []bool{false, true} {
			t.Run(l.Name+"/"+storetest.Order(desc), func(t *testing.T) {
				plans, err := s.ListingPlans(t.Context(), l.Events, l.Deliveries, store.Page{Limit: 101, Descending: desc})
				if err != nil {
					t.Fatal(err)
				}
				for _, plan := range plans {
					if problem := planProblem(plan, l); problem != "" {
						t.Errorf("%s:\n%s", problem, plan)
					}
				}
				if l.Events == nil || (l.Events.Since.IsZero() && l.Events.Until.IsZero()) {
					return
				}
				// A window: its id range, and the skewed events from their own index.
				if len(plans) != 2 || !strings.Contains(plans[0], "id>") && !strings.Contains(plans[0], "id<") ||
					!strings.Contains(plans[1], "events_skewed") {
					t.Errorf("a window read without its id range or the skewed events' index:\n%s", strings.Join(plans, "\n--\n"))
				}
			})
		}
	}
}

// planProblem says what is wrong with a listing's plan, "" if nothing.
func planProblem(plan string, l storetest.BenchListing) string {
	unfiltered := (l.Events != nil && *l.Events == store.EventFilter{}) || (l.Events == nil && l.Deliveries == store.DeliveryFilter{})
	for _, step := range strings.Split(plan, "\n") {
		switch {
		case step == "SCAN events" || step == "SCAN deliveries":
			return "a table scan"
		case strings.Contains(step, "TEMP B-TREE"):
			return "a sort of every match"
		case strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "events_skewed") && !unfiltered:
			return "a whole index read for a filtered listing"
		}
	}
	return ""
}
