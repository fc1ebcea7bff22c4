package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/storetest"
)

// benchStore returns the path of a store holding d, built by a bulk insert
// in FORGELINK_BENCH_DIR (kept there for the next run) or a temporary
// directory.
func benchStore(b *testing.B, d storetest.BenchData) string {
	dir := os.Getenv("FORGELINK_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "bench-"+strconv.Itoa(d.Events)+".db")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	building := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(building + suffix)
	}
	s, err := sqlite.Open(b.Context(), building, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	mustClose(b, s)
	if err := bulkInsert(building, d); err != nil {
		b.Fatalf("fill %s: %v", building, err)
	}
	if err := os.Rename(building, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s with %d events in %v", path, d.Events, time.Since(start).Round(time.Second))
	return path
}

// bulkInsert writes d's events and deliveries straight into the tables,
// without journal or fsync: a benchmark's fixture, not a store's write.
func bulkInsert(path string, d storetest.BenchData) error {
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var tx *sql.Tx
	var events, deliveries *sql.Stmt
	begin := func() error {
		if tx, err = db.Begin(); err != nil {
			return err
		}
		if events, err = tx.Prepare("INSERT INTO events (id, connection_id, provider, delivery_id, kind, raw_kind, repository, held, received_at, headers, body, normalized, routed) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, 1)"); err != nil {
			return err
		}
		deliveries, err = tx.Prepare("INSERT INTO deliveries (id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete, message, state, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)")
		return err
	}
	if err := begin(); err != nil {
		return err
	}
	n := 0
	err = d.Each(func(e store.Event) error {
		if _, err := events.Exec(e.ID, e.ConnectionID, e.Provider, e.DeliveryID, e.Kind, e.RawKind, e.Repository,
			e.ReceivedAt.UnixNano(), string(e.Headers), e.Body, string(e.Normalized)); err != nil {
			return err
		}
		for _, x := range e.Deliveries {
			if _, err := deliveries.Exec(x.ID, x.EventID, x.ConnectionID, x.Pipeline, x.Target, x.Mode, x.Branch, string(x.Message),
				x.State, x.Attempts, x.NextAttemptAt.UnixNano(), x.CreatedAt.UnixNano(), x.UpdatedAt.UnixNano()); err != nil {
				return err
			}
		}
		if n++; n%10_000 != 0 {
			return nil
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return begin()
	})
	return errors.Join(err, tx.Commit())
}

// BenchmarkListings times a page of every documented listing filter,
// alone and combined, in both directions (storetest.BenchListings).
//
//	FORGELINK_BENCH_EVENTS=1000000 FORGELINK_BENCH_DIR=/var/tmp go test -run '^$' -bench Listings ./store/sqlite
func BenchmarkListings(b *testing.B) {
	d := storetest.BenchDataFromEnv(b)
	s := mustOpen(b, benchStore(b, d))
	defer mustClose(b, s)
	d.RunListingBenchmarks(b, s)
}

// BenchmarkOpen times Open and Close of the benchmark store after a clean
// Close; with FORGELINK_BENCH_COLD=1, from a cold page cache (dropped
// before each Open: root only).
func BenchmarkOpen(b *testing.B) {
	d := storetest.BenchDataFromEnv(b)
	path := benchStore(b, d)
	mustClose(b, mustOpen(b, path)) // migrations applied, closed cleanly
	cold := os.Getenv("FORGELINK_BENCH_COLD") == "1"
	for b.Loop() {
		if cold {
			b.StopTimer()
			dropCaches(b)
			b.StartTimer()
		}
		s, err := sqlite.Open(b.Context(), path, zap.NewNop())
		if err != nil {
			b.Fatal(err)
		}
		mustClose(b, s)
	}
}

func dropCaches(b *testing.B) {
	syscall.Sync() // dirty pages are not dropped
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		b.Fatalf("drop the page cache (FORGELINK_BENCH_COLD=1 needs root): %v", err)
	}
}
