//go:build unix

package main_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/storetest"
)

// recordEvents writes events into a stopped daemon's store, as ingress
// would have recorded them at their ReceivedAt.
func recordEvents(t *testing.T, dataDir string, es ...store.Event) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "forgelink.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, e := range es {
		if dup, err := st.RecordEvent(t.Context(), e); err != nil || dup {
			t.Fatalf("RecordEvent: %v, %v", dup, err)
		}
	}
}

func retentionEvent(at time.Time, pending bool) store.Event {
	e := store.Event{ID: storetest.EventIDAt(at), ConnectionID: uuid.NewString(), Provider: store.ProviderGitHub, DeliveryID: uuid.NewString(),
		Kind: "push", RawKind: "push", Repository: "octo/api", ReceivedAt: at, Headers: []byte("{}"),
		Body: []byte(`{"ref":"refs/heads/main"}`), Normalized: []byte("{}"), Routed: true}
	if pending {
		e.Deliveries = []store.Delivery{{ID: uuid.NewString(), EventID: e.ID, ConnectionID: e.ConnectionID,
			Pipeline: "gone", Target: "gone", Mode: "PARALLEL", Branch: "main", Message: []byte("{}")}}
	}
	return e
}

// TestE2ERetention: a daemon prunes events older than retention.events at
// start, keeps an old one whose delivery is pending and a recent one, and
// says so in its log and metrics.
func TestE2ERetention(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	startDaemon(t, daemonOptions{dataDir: dir}).stop(t) // a store and its key
	old := time.Now().Add(-10 * 24 * time.Hour)
	var pruned []store.Event
	for i := range 5 {
		pruned = append(pruned, retentionEvent(old.Add(time.Duration(i)*time.Second), false))
	}
	kept := []store.Event{retentionEvent(old, true), retentionEvent(time.Now().Add(-time.Hour), false)}
	recordEvents(t, dir, append(pruned, kept...)...)
	cfg := filepath.Join(t.TempDir(), "forgelink.yaml")
	if err := os.WriteFile(cfg, []byte("retention:\n  events: 7d\n  maxBytes: 1GiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, daemonOptions{dataDir: dir, env: []string{"FORGELINK_CONFIG=" + cfg}})
	deadline := time.Now().Add(30 * time.Second)
	for !d.logged("pruned old events") {
		if time.Now().After(deadline) {
			t.Fatal("no \"pruned old events\" line within 30 s")
		}
		time.Sleep(50 * time.Millisecond) // polling the log, with a deadline
	}
	m := scrape(t, d)
	for s, want := range map[string]float64{
		series("forgelink_retention_pruned_events_total", "reason", "age"):  5,
		series("forgelink_retention_pruned_events_total", "reason", "size"): 0,
		"forgelink_store_events": 2,
	} {
		if got, ok := m[s]; got != want || !ok {
			t.Errorf("/metrics: %s = %v (present: %t), want %v", s, got, ok, want)
		}
	}
	if m["forgelink_store_bytes"] <= 0 || m["forgelink_retention_pruned_bytes_total"] <= 0 {
		t.Errorf("/metrics: forgelink_store_bytes %v, forgelink_retention_pruned_bytes_total %v; want both above 0",
			m["forgelink_store_bytes"], m["forgelink_retention_pruned_bytes_total"])
	}
	d.stop(t)
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "forgelink.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// With no room to convert, only a database converted already (by the
	// first daemon, or the second) answers true.
	if converted, err := st.EnableIncrementalVacuum(t.Context(), 0); err != nil || !converted {
		t.Errorf("the small database is not in incremental auto_vacuum mode (%v)", err)
	}
	for _, e := range append(pruned, kept...) {
		_, err := st.GetEvent(t.Context(), e.ID)
		if want := !slices.ContainsFunc(pruned, func(p store.Event) bool { return p.ID == e.ID }); errors.Is(err, store.ErrNotFound) == want || (err != nil && !errors.Is(err, store.ErrNotFound)) {
			t.Errorf("event received %v (pending %t): GetEvent = %v; want kept %t", e.ReceivedAt, len(e.Deliveries) > 0, err, want)
		}
	}
}
