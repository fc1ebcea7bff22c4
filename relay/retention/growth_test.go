package retention_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	_ "modernc.org/sqlite" // the driver, to read the file's page count

	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/retention"
	"github.com/forgelink/forgelink/store/sqlite"
)

// fileBytes is the size the database file has once its WAL is copied
// back: page_count × page_size, as a reader sees it now.
func fileBytes(t *testing.T, path string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pages, size int64
	if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA page_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	return pages * size
}

// TestSQLiteFileStopsGrowing streams events into a SQLite store with a
// retention of 100 minutes of them and runs a round after every 50: once
// retention has something to prune, the file stays within the size it had
// then, and when the stream stops and everything ages out, incremental
// vacuum gives the space back.
func TestSQLiteFileStopsGrowing(t *testing.T) {
	clock := clocktest.New(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "forgelink.db")
	st, err := sqlite.Open(t.Context(), path, zap.NewNop(), sqlite.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if converted, err := st.EnableIncrementalVacuum(t.Context(), 1<<20); err != nil || !converted {
		t.Fatalf("EnableIncrementalVacuum on a new store = %v, %v; want converted", converted, err)
	}
	f := &fixture{t: t, clock: clock, st: st, conn: "c"}
	p := retention.New(retention.Options{Store: st, Policy: retention.Policy{MaxAge: 100 * time.Minute},
		Now: clock.Now, Log: zap.NewNop(), Batch: 40})
	const rounds, perRound = 30, 50
	var sizes []int64
	for range rounds {
		for range perRound {
			f.record(8<<10, false)
			clock.Add(time.Minute - time.Second) // record adds a second
		}
		f.round(p)
		sizes = append(sizes, fileBytes(t, path))
	}
	// By round 4, 200 minutes of events have come and 100 have gone.
	steady := sizes[3]
	for i, s := range sizes[4:] {
		if s > steady+steady/10 {
			t.Errorf("after round %d the file is %d bytes, more than 10%% over the %d of round 4: %v", i+5, s, steady, sizes)
		}
	}
	if grown := sizes[rounds-1]; grown > 2*sizes[1] {
		t.Errorf("file grew from %d to %d bytes over %d rounds", sizes[1], grown, rounds)
	}
	clock.Add(200 * time.Minute)
	if res := f.round(p); res.Usage.Events != 0 {
		t.Fatalf("round after the stream stopped = %+v, want every event gone", res)
	}
	if after := fileBytes(t, path); after > steady/4 {
		t.Errorf("file is %d bytes once everything is pruned, want it shrunk well below %d", after, steady)
	}
	t.Logf("file bytes per round: %v", sizes)
}
