package postgres_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/postgres"
	"github.com/forgelink/forgelink/store/storetest"
)

// TestListingPlans: every documented listing filter, alone and combined,
// in both directions, has an index to read from where its page starts:
// with sequential scans and sorts priced out, no plan keeps one, and a
// window reads its id range and the skewed events' own index.
func TestListingPlans(t *testing.T) {
	d := storetest.PlanData()
	s := mustOpen(t, newSchema(t), zap.NewNop())
	defer mustClose(t, s)
	if err := s.BulkInsert(t.Context(), d.Each); err != nil {
		t.Fatal(err)
	}
	for _, l := range d.BenchListings() {
		for _, desc := range []bool{false, true} {
			t.Run(l.Name+"/"+storetest.Order(desc), func(t *testing.T) {
				plans, err := s.ListingPlans(t.Context(), l.Events, l.Deliveries, store.Page{Limit: 101, Descending: desc})
				if err != nil {
					t.Fatal(err)
				}
				for _, plan := range plans {
					if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") {
						t.Errorf("a scan or a sort:\n%s", plan)
					}
				}
				// A window: its id range, and the skewed events from their own index.
				if l.Events != nil && (!l.Events.Since.IsZero() || !l.Events.Until.IsZero()) &&
					(len(plans) != 2 || !strings.Contains(plans[0], "id >") && !strings.Contains(plans[0], "id <") ||
						!strings.Contains(plans[1], "events_skewed")) {
					t.Errorf("a window read without its id range or the skewed events' index:\n%s", strings.Join(plans, "\n--\n"))
				}
			})
		}
	}
}

// BenchmarkListings times a page of every documented listing filter,
// alone and combined, in both directions (storetest.BenchListings), on a
// history built once by COPY in the schema bench_<events>, kept for the
// next run.
//
//	FORGELINK_BENCH_EVENTS=1000000 go test -run '^$' -bench Listings ./store/postgres
func BenchmarkListings(b *testing.B) {
	d := storetest.BenchDataFromEnv(b)
	s := benchStore(b, d)
	defer mustClose(b, s)
	d.RunListingBenchmarks(b, s)
}

// benchStore opens the schema bench_<events>, filling it first when it
// has no events.
func benchStore(b *testing.B, d storetest.BenchData) *postgres.Store {
	schema := "bench_" + strconv.Itoa(d.Events)
	admin, err := pgx.Connect(b.Context(), serverDSN())
	if err != nil {
		testenv.Missing(b, "PostgreSQL not reachable ("+err.Error()+")", "start it on 127.0.0.1:5432 with a database test, or set FORGELINK_TEST_POSTGRES_DSN")
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(b.Context(), "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		b.Fatal(err)
	}
	s := mustOpen(b, withSearchPath(b, serverDSN(), schema), zap.NewNop())
	var have bool
	if err := admin.QueryRow(b.Context(), "SELECT EXISTS (SELECT 1 FROM "+schema+".events)").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if !have {
		start := time.Now()
		if err := s.BulkInsert(b.Context(), d.Each); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %s with %d events in %v", schema, d.Events, time.Since(start).Round(time.Second))
	}
	return s
}
