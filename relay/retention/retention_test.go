package retention_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/retention"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
	"github.com/forgelink/forgelink/store/storetest"
)

const day = 24 * time.Hour

type fixture struct {
	t     *testing.T
	clock *clocktest.Clock
	st    *sqlite.Store
	reg   *prometheus.Registry
	logs  *observer.ObservedLogs
	conn  string
}

func newFixture(t *testing.T) *fixture {
	clock := clocktest.New(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC))
	st := sqlitetest.Open(t, sqlite.WithClock(clock.Now))
	return &fixture{t: t, clock: clock, st: st, reg: prometheus.NewRegistry(), conn: uuid.NewString()}
}

func (f *fixture) pruner(p retention.Policy, batch int, interval time.Duration) *retention.Pruner {
	core, logs := observer.New(zap.InfoLevel)
	f.logs = logs
	return retention.New(retention.Options{Store: f.st, Policy: p, Now: f.clock.Now, Log: zap.New(core), Registerer: f.reg,
		Batch: batch, Interval: interval})
}

// record records an event received now with a body of size bytes (random:
// incompressible), routed to a pending delivery when open.
func (f *fixture) record(size int, open bool) store.Event {
	f.t.Helper()
	now := f.clock.Now()
	e := store.Event{ID: storetest.EventIDAt(now), ConnectionID: f.conn, Provider: store.ProviderGitHub, DeliveryID: uuid.NewString(),
		Kind: "push", RawKind: "push", Repository: "octo/api", ReceivedAt: now, Headers: []byte("{}"),
		Body: make([]byte, size), Normalized: []byte("{}"), Routed: true}
	rand.Read(e.Body)
	if open {
		e.Deliveries = []store.Delivery{{ID: uuid.NewString(), EventID: e.ID, ConnectionID: f.conn, Pipeline: "p", Target: "t",
			Mode: "PARALLEL", Branch: "main", Message: []byte("{}")}}
	}
	if dup, err := f.st.RecordEvent(f.t.Context(), e); err != nil || dup {
		f.t.Fatalf("RecordEvent: %v, %v", dup, err)
	}
	f.clock.Add(time.Second)
	return e
}

func (f *fixture) stored(e store.Event) bool {
	_, err := f.st.GetEvent(f.t.Context(), e.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		f.t.Fatal(err)
	}
	return err == nil
}

func (f *fixture) metric(name string, labels ...string) float64 {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(labels) == 0 || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == labels[0]) {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	f.t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func (f *fixture) round(p *retention.Pruner) retention.Result {
	f.t.Helper()
	res, err := p.Round(f.t.Context())
	if err != nil {
		f.t.Fatalf("Round: %v", err)
	}
	return res
}

func TestRoundByAge(t *testing.T) {
	f := newFixture(t)
	p := f.pruner(retention.Policy{MaxAge: 30 * day}, 3, 0) // batches of 3: several per round
	var old []store.Event
	for range 10 {
		old = append(old, f.record(1024, false))
	}
	open := f.record(1024, true)
	if res := f.round(p); res.ByAge.Events != 0 || f.logs.Len() != 0 {
		t.Fatalf("first round = %+v, logs %v; want nothing pruned and nothing said", res, f.logs.All())
	}
	if got := f.metric("forgelink_store_events"); got != 11 {
		t.Errorf("forgelink_store_events = %v, want 11", got)
	}
	f.clock.Add(30*day + time.Minute)
	fresh := f.record(1024, false)
	res := f.round(p)
	if res.ByAge.Events != 10 || res.ByAge.Last != old[9].ID || res.BySize.Events != 0 {
		t.Errorf("round after 30 days = %+v, want the 10 finished old events", res)
	}
	for _, e := range old {
		if f.stored(e) {
			t.Errorf("old event %s still stored", e.ID)
		}
	}
	if !f.stored(open) || !f.stored(fresh) {
		t.Error("the open or the fresh event was pruned")
	}
	for name, want := range map[string]float64{
		"forgelink_store_events":                 2,
		"forgelink_store_bytes":                  float64(res.Usage.Bytes),
		"forgelink_retention_pruned_bytes_total": float64(res.ByAge.Bytes),
	} {
		if got := f.metric(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := f.metric("forgelink_retention_pruned_events_total", "age"); got != 10 {
		t.Errorf("pruned events by age = %v, want 10", got)
	}
	if res.ByAge.Bytes < 10*1024 {
		t.Errorf("pruned %d bytes, want at least the 10 bodies' 10 KiB", res.ByAge.Bytes)
	}
	lines := f.logs.FilterMessage("pruned old events").All()
	if len(lines) != 1 || lines[0].ContextMap()["events"] != int64(10) {
		t.Errorf("log lines %v, want one saying 10 events", f.logs.All())
	}
	f.round(p)
	if n := f.logs.FilterMessage("pruned old events").Len(); n != 1 {
		t.Errorf("a round that pruned nothing logged; %d lines", n)
	}
}

func TestRoundBySize(t *testing.T) {
	f := newFixture(t)
	var es []store.Event
	for range 60 {
		es = append(es, f.record(32<<10, false))
	}
	open := f.record(32<<10, true)
	full, err := f.st.StoreUsage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	limit := full.Bytes - 20*(32<<10)
	p := f.pruner(retention.Policy{MaxAge: 30 * day, MaxBytes: limit}, 500, 0)
	res := f.round(p)
	if res.ByAge.Events != 0 || res.BySize.Events < 20 || res.BySize.Events > 30 || res.Usage.Bytes > limit {
		t.Errorf("round = %+v over a limit of %d from %d: want about 20 of the oldest pruned, under the limit", res, limit, full.Bytes)
	}
	for i, e := range es {
		if f.stored(e) != (i >= res.BySize.Events) {
			t.Errorf("event %d stored = %v; want the %d oldest pruned", i, f.stored(e), res.BySize.Events)
		}
	}
	if got := f.metric("forgelink_retention_pruned_events_total", "size"); got != float64(res.BySize.Events) {
		t.Errorf("pruned events by size = %v, want %d", got, res.BySize.Events)
	}
	if !f.stored(open) {
		t.Error("the open event was pruned")
	}
}

func TestRoundOverLimitWithOnlyOpenWork(t *testing.T) {
	f := newFixture(t)
	for range 5 {
		f.record(64<<10, true)
	}
	p := f.pruner(retention.Policy{MaxBytes: 1}, 500, 0)
	for range 3 {
		if res := f.round(p); res.BySize.Events != 0 {
			t.Fatalf("round = %+v, want nothing pruned: every event has a pending delivery", res)
		}
	}
	if n := f.logs.FilterMessage("store is over retention.maxBytes and nothing left in it may be pruned (open or dead deliveries, held events)").Len(); n != 1 {
		t.Errorf("%d warnings over 3 rounds, want 1: %v", n, f.logs.All())
	}
}

func TestRunRoundsUntilCancelled(t *testing.T) {
	f := newFixture(t)
	old := f.record(1024, false)
	f.clock.Add(31 * day)
	p := f.pruner(retention.Policy{MaxAge: 30 * day}, 500, 10*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	// The first round runs at once; a later event ages on the clock and a
	// later round prunes it.
	later := f.record(1024, false)
	f.clock.Add(31 * day)
	deadline := time.Now().Add(10 * time.Second)
	for f.stored(old) || f.stored(later) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not prune both aged events within 10 s")
		}
		time.Sleep(10 * time.Millisecond) // polling, with a deadline
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestRoundDeadDeliveries: an event whose delivery went dead stays past
// MaxAge until it has been dead for DeadAge (by the store's clock).
func TestRoundDeadDeliveries(t *testing.T) {
	f := newFixture(t)
	e := f.record(1024, true)
	ctx := t.Context()
	claimed, err := f.st.ClaimDeliveries(ctx, store.ClaimRequest{Owner: "w", Now: f.clock.Now(), Lease: time.Hour, Limits: map[string]int{"t": 1}})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	d := claimed[0]
	if err := f.st.CompleteAttempts(ctx, []store.AttemptResult{{Attempt: store.Attempt{DeliveryID: d.ID, N: d.Attempts,
		StartedAt: f.clock.Now(), Outcome: "dead", Error: "410 Gone"}, LeaseOwner: "w", State: store.DeliveryDead}}); err != nil {
		t.Fatal(err)
	}
	p := f.pruner(retention.Policy{MaxAge: 30 * day, DeadAge: 60 * day}, 100, 0)
	f.clock.Add(59 * day)
	if res := f.round(p); res.ByAge.Events != 0 || !f.stored(e) {
		t.Fatalf("round 59 days after the delivery died = %+v; want its event kept", res)
	}
	f.clock.Add(2 * day)
	if res := f.round(p); res.ByAge.Events != 1 || res.ByAge.Deliveries != 1 || res.ByAge.Attempts != 1 || f.stored(e) {
		t.Errorf("round 61 days after the delivery died = %+v; want its event, delivery and attempt pruned", res)
	}
}
