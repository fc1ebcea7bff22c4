package dispatch

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

// QUEUED: one delivery at a time per pipeline, in push order, though the
// target could take more; another QUEUED pipeline on the same target runs
// alongside.
func TestQueuedInOrder(t *testing.T) {
	v := newEnv(t)
	f := &fake{script: func(context.Context, *notify.Message, int) notify.Result {
		time.Sleep(time.Millisecond) // widen the window for an overlap
		return notify.Result{}
	}}
	buildQ, lintQ := pipe{"build", "ci", "QUEUED"}, pipe{"lint", "ci", "QUEUED"}
	var builds, lints []store.Delivery
	push := func(n int) {
		for range n {
			builds = append(builds, v.push(buildQ, "main"))
			if len(lints) < 8 {
				lints = append(lints, v.push(lintQ, "dev"))
			}
		}
	}
	push(10)
	run(t, v.engine(Options{}, target("ci", f, 4)), time.Second)
	push(10) // while the engine runs

	v.waitAll(builds, store.DeliverySucceeded)
	v.waitAll(lints, store.DeliverySucceeded)
	if got, want := f.ids("build"), deliveryIDs(builds); !slices.Equal(got, want) {
		t.Errorf("build delivered in order\n%v\nwant\n%v", got, want)
	}
	if got, want := f.ids("lint"), deliveryIDs(lints); !slices.Equal(got, want) {
		t.Errorf("lint delivered in order\n%v\nwant\n%v", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range []string{"build", "lint"} {
		if n := f.maxByPipe[p]; n != 1 {
			t.Errorf("pipeline %s had up to %d attempts in flight, want 1", p, n)
		}
	}
}

// QUEUED: a failing head holds its pipeline until it is settled.
func TestQueuedHeadRetry(t *testing.T) {
	v := newEnv(t)
	f := &fake{script: results(retryable, retryable)}
	queued := pipe{"build", "ci", "QUEUED"}
	ds := []store.Delivery{v.push(queued, "main"), v.push(queued, "main"), v.push(queued, "main")}
	run(t, v.engine(Options{}, target("ci", f, 4)), time.Second)
	v.waitAll(ds, store.DeliverySucceeded)
	want := []string{ds[0].ID, ds[0].ID, ds[0].ID, ds[1].ID, ds[2].ID}
	if got := f.ids(""); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

// PARALLEL: up to the target's concurrency at once, never more.
func TestParallelConcurrency(t *testing.T) {
	v := newEnv(t)
	release := make(chan struct{})
	f := &fake{script: func(ctx context.Context, _ *notify.Message, _ int) notify.Result { return hold(ctx, release) }}
	var ds []store.Delivery
	for range 12 {
		ds = append(ds, v.push(build, "main"))
	}
	clk := &clock{}
	run(t, v.engine(Options{Now: clk.Now}, target("ci", f, 4)), time.Second)
	waitFor(t, "4 attempts in flight", func() bool { return f.inFlight() == 4 })
	clk.idle(t, 30)
	if n, active := f.calls(), f.inFlight(); n != 4 || active != 4 {
		t.Fatalf("with the target full: %d calls, %d in flight; want 4, 4", n, active)
	}
	close(release)
	v.waitAll(ds, store.DeliverySucceeded)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.maxActive != 4 {
		t.Errorf("up to %d attempts in flight, want 4", f.maxActive)
	}
	if len(f.msgs) != len(ds) {
		t.Errorf("%d calls, want %d", len(f.msgs), len(ds))
	}
}

// SUPERSEDED: while a delivery of a branch is in flight, newer ones wait,
// and only the newest of them is delivered; other branches go on.
func TestSuperseded(t *testing.T) {
	v := newEnv(t)
	deploy := pipe{"deploy", "ci", "SUPERSEDED"}
	release := make(chan struct{})
	first := v.push(deploy, "main")
	f := &fake{script: func(ctx context.Context, m *notify.Message, _ int) notify.Result {
		if m.DeliveryID == first.ID {
			return hold(ctx, release)
		}
		return notify.Result{}
	}}
	run(t, v.engine(Options{}, target("ci", f, 4)), time.Second)
	waitFor(t, "the first attempt", func() bool { return f.inFlight() == 1 })

	waiting := []store.Delivery{v.push(deploy, "main"), v.push(deploy, "main"), v.push(deploy, "main")}
	dev := v.push(deploy, "dev")
	v.waitState(dev.ID, store.DeliverySucceeded)
	// main waits for its delivery in flight.
	for _, d := range waiting {
		if got, _ := v.get(d.ID); got.State != store.DeliveryPending && got.State != store.DeliverySuperseded {
			t.Errorf("delivery %s is %s while main's first is in flight, want waiting", d.ID, got.State)
		}
	}

	close(release)
	v.waitState(first.ID, store.DeliverySucceeded)
	v.waitState(waiting[2].ID, store.DeliverySucceeded)
	if got, want := f.ids(""), []string{first.ID, dev.ID, waiting[2].ID}; !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	for _, d := range waiting[:2] {
		got, attempts := v.get(d.ID)
		if got.State != store.DeliverySuperseded || got.Attempts != 0 || len(attempts) != 0 {
			t.Errorf("delivery %s is %s after %d attempts (%d recorded), want superseded without attempts", d.ID, got.State, got.Attempts, len(attempts))
		}
	}
}

// SUPERSEDED after a crash: the delivery whose attempt died with its
// daemon is waiting again, so a newer one on the branch replaces it; it is
// never delivered after the newer one.
func TestSupersededAfterCrash(t *testing.T) {
	v := newEnv(t)
	deploy := pipe{"deploy", "ci", "SUPERSEDED"}
	now := time.Now()
	old := v.pushAt(now.Add(-2*time.Hour), deploy, "main")
	claimed, err := v.st.ClaimDeliveries(t.Context(), store.ClaimRequest{
		Owner: "crashed", Now: now.Add(-time.Hour), Lease: time.Minute, Limits: map[string]int{"ci": 10},
	})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim as the crashed daemon = %d, %v; want 1", len(claimed), err)
	}
	newer := v.push(deploy, "main")

	f := &fake{}
	run(t, v.engine(Options{}, target("ci", f, 4)), time.Second)
	v.waitState(newer.ID, store.DeliverySucceeded)
	v.waitState(old.ID, store.DeliverySuperseded)
	if got := f.ids(""); !slices.Equal(got, []string{newer.ID}) {
		t.Errorf("delivered %v, want only the newer %s", got, newer.ID)
	}
}

// A reload changed a pipeline from PARALLEL to SUPERSEDED while two of its
// deliveries on a branch were in flight: the new delivery waits for them,
// and nothing else is held up.
func TestModeChangedByReload(t *testing.T) {
	v := newEnv(t)
	release := make(chan struct{})
	f := &fake{script: func(ctx context.Context, m *notify.Message, _ int) notify.Result {
		if m.Pipeline == "deploy" {
			return hold(ctx, release)
		}
		return notify.Result{}
	}}
	parallel := []store.Delivery{v.push(pipe{"deploy", "ci", "PARALLEL"}, "main"), v.push(pipe{"deploy", "ci", "PARALLEL"}, "main")}
	run(t, v.engine(Options{}, target("ci", f, 4)), time.Second)
	waitFor(t, "both parallel attempts", func() bool { return f.inFlight() == 2 })

	superseding := v.push(pipe{"deploy", "ci", "SUPERSEDED"}, "main")
	other := v.push(pipe{"lint", "ci", "PARALLEL"}, "main")
	v.waitState(other.ID, store.DeliverySucceeded)
	close(release)
	v.waitAll(append(parallel, superseding), store.DeliverySucceeded)
	if got := f.ids("deploy"); len(got) != 3 || got[2] != superseding.ID {
		t.Errorf("deploy delivered %v, want the superseding delivery last", got)
	}
}
