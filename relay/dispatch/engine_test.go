package dispatch

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

var build = pipe{"build", "ci", "PARALLEL"}

func TestDeliverSuccess(t *testing.T) {
	v := newEnv(t)
	f := &fake{}
	d := v.push(pipe{"build", "ci", "QUEUED"}, "main")
	run(t, v.engine(Options{}, target("ci", f, 1)), time.Second)

	got, attempts := v.waitState(d.ID, store.DeliverySucceeded)
	ms := f.messages()
	if len(ms) != 1 {
		t.Fatalf("notifier got %d messages, want 1", len(ms))
	}
	m := ms[0]
	if m.DeliveryID != d.ID || m.Attempt != 1 || m.Pipeline != "build" || m.EventID != d.EventID ||
		m.Variables[notify.VarBranchName] != "main" || m.Push == nil || m.Push.RefName != "main" {
		t.Errorf("message = %+v; want delivery %s, attempt 1, pipeline build, event %s, branch main", m, d.ID, d.EventID)
	}
	if got.Attempts != 1 || got.LeaseOwner != "" || got.LastError != "" {
		t.Errorf("delivery = %+v; want 1 attempt, no lease, no error", got)
	}
	if len(attempts) != 1 {
		t.Fatalf("attempts = %+v, want 1", attempts)
	}
	if a := attempts[0]; a.N != 1 || a.Outcome != "succeeded" || a.Error != "" || a.DeliveryID != d.ID || a.StartedAt.IsZero() {
		t.Errorf("attempt = %+v; want attempt 1 succeeded", a)
	}
}

func TestWakeWithoutPolling(t *testing.T) {
	v := newEnv(t)
	f := &fake{}
	e := v.engine(Options{Poll: time.Hour}, target("ci", f, 1))
	run(t, e, time.Second)
	// The engine looked once at start and found nothing; now it sleeps
	// for an hour unless woken.
	d := v.push(build, "main")
	e.Wake()
	v.waitState(d.ID, store.DeliverySucceeded)
}

func TestRetryThenSuccess(t *testing.T) {
	const initial = 200 * time.Millisecond
	v := newEnv(t)
	f := &fake{script: results(retryable)}
	tg := target("ci", f, 1)
	tg.Retry = Retry{InitialInterval: initial, MaxInterval: time.Second, MaxAttempts: 5, MaxAge: time.Hour}
	// The jitter takes the whole ceiling: the wait is exactly the backoff.
	d := v.push(build, "main")
	run(t, v.engine(Options{Jitter: func(d time.Duration) time.Duration { return d }}, tg), time.Second)

	got, attempts := v.waitState(d.ID, store.DeliverySucceeded)
	if n := attemptNumbers(f.messages()); !slices.Equal(n, []int{1, 2}) {
		t.Errorf("notifier saw attempts %v, want [1 2]", n)
	}
	if o := outcomes(attempts); !slices.Equal(o, []string{"retry", "succeeded"}) {
		t.Fatalf("outcomes = %v, want [retry succeeded]", o)
	}
	if a := attempts[0]; a.StatusCode != 503 || a.Error != errTarget.Error() {
		t.Errorf("first attempt = %+v; want status 503 and the target's error", a)
	}
	if got.Attempts != 2 || got.LastError != "" {
		t.Errorf("delivery = %+v; want 2 attempts, no error left", got)
	}
	if wait := attempts[1].StartedAt.Sub(attempts[0].StartedAt.Add(attempts[0].Duration)); wait < initial {
		t.Errorf("second attempt %v after the first finished, want at least the backoff %v", wait, initial)
	}
}

func TestRetryAfter(t *testing.T) {
	const retryAfter = 300 * time.Millisecond
	v := newEnv(t)
	r := retryable
	r.StatusCode, r.RetryAfter = 429, retryAfter
	f := &fake{script: results(r)}
	d := v.push(build, "main")
	// The backoff alone would be at most 10 ms.
	run(t, v.engine(Options{Jitter: func(d time.Duration) time.Duration { return d }}, target("ci", f, 1)), time.Second)

	_, attempts := v.waitState(d.ID, store.DeliverySucceeded)
	if o := outcomes(attempts); !slices.Equal(o, []string{"retry", "succeeded"}) {
		t.Fatalf("outcomes = %v, want [retry succeeded]", o)
	}
	if wait := attempts[1].StartedAt.Sub(attempts[0].StartedAt.Add(attempts[0].Duration)); wait < retryAfter {
		t.Errorf("second attempt %v after the first finished, want at least Retry-After %v", wait, retryAfter)
	}
}

func TestDeadLetter(t *testing.T) {
	fatal := notify.Result{Err: errTarget, StatusCode: 400, Output: "bad request"}
	tests := []struct {
		name     string
		script   func(context.Context, *notify.Message, int) notify.Result
		age      time.Duration // of the event when the engine starts
		retry    Retry
		outcomes []string
	}{
		{
			name:     "non-retryable",
			script:   results(fatal),
			retry:    testRetry,
			outcomes: []string{"dead"},
		},
		{
			name:     "max attempts",
			script:   results(retryable, retryable, retryable, retryable),
			retry:    Retry{InitialInterval: 5 * time.Millisecond, MaxInterval: 10 * time.Millisecond, MaxAttempts: 3, MaxAge: time.Hour},
			outcomes: []string{"retry", "retry", "dead"},
		},
		{
			name:     "max age",
			script:   results(retryable),
			age:      2 * time.Hour,
			retry:    testRetry,
			outcomes: []string{"dead"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t)
			f := &fake{script: tt.script}
			tg := target("ci", f, 1)
			tg.Retry = tt.retry
			d := v.pushAt(time.Now().Add(-tt.age), build, "main")
			run(t, v.engine(Options{}, tg), time.Second)

			got, attempts := v.waitState(d.ID, store.DeliveryDead)
			if o := outcomes(attempts); !slices.Equal(o, tt.outcomes) {
				t.Errorf("outcomes = %v, want %v", o, tt.outcomes)
			}
			if got.Attempts != len(tt.outcomes) || got.LastError != errTarget.Error() || got.LeaseOwner != "" {
				t.Errorf("delivery = %+v; want %d attempts and the last error", got, len(tt.outcomes))
			}
			if n := f.calls(); n != len(tt.outcomes) {
				t.Errorf("notifier called %d times, want %d", n, len(tt.outcomes))
			}
		})
	}
}

// A target that hangs holds only its own concurrency slots.
func TestTargetIsolation(t *testing.T) {
	v := newEnv(t)
	hung := &fake{script: func(ctx context.Context, _ *notify.Message, _ int) notify.Result {
		<-ctx.Done() // until the engine shuts down
		return notify.Result{Err: ctx.Err(), Retryable: true}
	}}
	ok := &fake{}
	var slow, fast []store.Delivery
	for range 5 {
		slow = append(slow, v.push(pipe{"slow", "hung", "PARALLEL"}, "main"))
	}
	run(t, v.engine(Options{}, target("hung", hung, 2), target("ok", ok, 2)), 0)
	waitFor(t, "two attempts on the hung target", func() bool { return hung.inFlight() == 2 })
	for range 10 {
		fast = append(fast, v.push(pipe{"fast", "ok", "PARALLEL"}, "main"))
	}
	v.waitAll(fast, store.DeliverySucceeded)
	if n, active := hung.calls(), hung.inFlight(); n != 2 || active != 2 {
		t.Errorf("hung target: %d calls, %d in flight; want 2 and 2", n, active)
	}
	// The engine owns the store's deliveries: nothing is written before an
	// attempt, so the two in flight are pending like the three waiting.
	pending, err := v.st.ListDeliveries(t.Context(), store.DeliveryFilter{Pipeline: "slow", State: store.DeliveryPending}, store.Page{})
	if err != nil || len(pending) != len(slow) {
		t.Errorf("pending deliveries of the hung target = %d, %v; want %d", len(pending), err, len(slow))
	}
}

func TestCircuitBreaker(t *testing.T) {
	const cooldown = time.Minute
	v := newEnv(t)
	t0 := time.Now().Truncate(time.Second)
	clk := &clock{}
	clk.Set(t0)
	probe := make(chan struct{})
	f := &fake{script: func(ctx context.Context, _ *notify.Message, call int) notify.Result {
		switch call {
		case 0, 1:
			return retryable
		case 2:
			<-probe
			return retryable
		}
		return notify.Result{}
	}}
	tg := target("ci", f, 2)
	tg.Breaker = Breaker{FailureThreshold: 2, Cooldown: cooldown}
	// Every retry is due 10 s after its failure.
	tg.Retry = Retry{InitialInterval: 10 * time.Second, MaxInterval: 10 * time.Second, MaxAttempts: 100, MaxAge: 24 * time.Hour}
	ds := []store.Delivery{v.pushAt(t0, build, "main"), v.pushAt(t0, build, "main")}
	e := v.engine(Options{Now: clk.Now, Poll: 2 * time.Millisecond, Jitter: func(d time.Duration) time.Duration { return d }}, tg)
	run(t, e, 0)

	failures := func(want int) {
		t.Helper()
		waitFor(t, "the breaker to count failures", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.targets["ci"].failures == want
		})
	}
	quiet := func(at time.Time, calls int) {
		t.Helper()
		clk.Set(at)
		clk.idle(t, 50)
		if n := f.calls(); n != calls {
			t.Fatalf("at t0+%v: %d attempts, want %d", at.Sub(t0), n, calls)
		}
	}

	// Both deliveries fail: the breaker opens until t0+60s.
	failures(2)
	// At t0+30s both are due again, but the breaker holds them.
	quiet(t0.Add(30*time.Second), 2)
	// After the cool-down, one probe, even though two are due and the
	// target takes two at a time.
	clk.Set(t0.Add(cooldown + time.Second))
	waitFor(t, "the probe", func() bool { return f.calls() == 3 })
	quiet(t0.Add(cooldown+time.Second), 3)
	// The probe fails: the breaker opens again, for another cool-down.
	close(probe)
	failures(3)
	quiet(t0.Add(100*time.Second), 3)
	// The next probe succeeds and closes the breaker: the rest goes.
	clk.Set(t0.Add(2*cooldown + 2*time.Second))
	v.waitAll(ds, store.DeliverySucceeded)
	if n := f.calls(); n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
}

// A delivery leased by a daemon that died is attempted again once its
// lease expires, and what queued behind it follows (a shared store).
func TestLeaseReclaim(t *testing.T) {
	v := newEnv(t)
	queued := pipe{"build", "ci", "QUEUED"}
	now := time.Now()
	d1, d2 := v.pushAt(now.Add(-2*time.Minute), queued, "main"), v.pushAt(now.Add(-2*time.Minute), queued, "main")
	claimed, err := v.st.ClaimDeliveries(t.Context(), store.ClaimRequest{
		Owner: "crashed", Now: now.Add(-time.Minute), Lease: time.Minute + 300*time.Millisecond, Limits: map[string]int{"ci": 10},
	})
	if err != nil || len(claimed) != 1 || claimed[0].ID != d1.ID {
		t.Fatalf("claim as the crashed daemon = %v, %v; want %s", deliveryIDs(claimed), err, d1.ID)
	}
	until := claimed[0].LeaseUntil

	f := &fake{}
	run(t, v.engine(Options{Source: NewClaimer(v.st)}, target("ci", f, 4)), time.Second)
	_, attempts := v.waitState(d1.ID, store.DeliverySucceeded)
	v.waitState(d2.ID, store.DeliverySucceeded)
	if ids := f.ids(""); !slices.Equal(ids, []string{d1.ID, d2.ID}) {
		t.Errorf("delivered %v, want %v", ids, []string{d1.ID, d2.ID})
	}
	if n := attemptNumbers(f.messages()); !slices.Equal(n, []int{2, 1}) {
		t.Errorf("attempt numbers %v, want [2 1]: the crashed daemon's attempt counts", n)
	}
	if len(attempts) != 1 || attempts[0].N != 2 || attempts[0].StartedAt.Before(until) {
		t.Errorf("attempts = %+v; want attempt 2, started at or after the lease's end %v", attempts, until)
	}

	// The crashed daemon's attempt, reported late, changes nothing.
	late := store.AttemptResult{
		Attempt:    store.Attempt{DeliveryID: d1.ID, N: 1, StartedAt: now, Outcome: "dead", Error: "late"},
		LeaseOwner: "crashed", State: store.DeliveryDead, NextAttemptAt: now,
	}
	if err := v.st.CompleteAttempts(t.Context(), []store.AttemptResult{late}); err != nil {
		t.Fatal(err)
	}
	if got, attempts := v.get(d1.ID); got.State != store.DeliverySucceeded || len(attempts) != 2 {
		t.Errorf("after a late result: %s with %d attempts, want succeeded with 2", got.State, len(attempts))
	}
}

// A restart queues every unfinished delivery again at once: pending ones,
// and those an older process had leased (the store's lock says that
// process is gone), whose interrupted attempt counts. Each is delivered
// once more, no more; what queued behind them follows in order.
func TestRestartQueuesUnfinished(t *testing.T) {
	v := newEnv(t)
	queued := pipe{"build", "ci", "QUEUED"}
	now := time.Now()
	d1, d2 := v.pushAt(now.Add(-2*time.Minute), queued, "main"), v.pushAt(now.Add(-2*time.Minute), queued, "main")
	lint := pipe{"lint", "ci", "PARALLEL"}
	par := []store.Delivery{v.push(lint, "main"), v.push(lint, "dev")}
	claimed, err := v.st.ClaimDeliveries(t.Context(), store.ClaimRequest{
		Owner: "before-the-upgrade", Now: now, Lease: time.Hour, Limits: map[string]int{"ci": 1},
	})
	if err != nil || len(claimed) != 1 || claimed[0].ID != d1.ID {
		t.Fatalf("claim as the older daemon = %v, %v; want %s", deliveryIDs(claimed), err, d1.ID)
	}

	f := &fake{}
	run(t, v.engine(Options{}, target("ci", f, 4)), time.Second)
	v.waitAll(append([]store.Delivery{d1, d2}, par...), store.DeliverySucceeded)
	if ids := f.ids("build"); !slices.Equal(ids, []string{d1.ID, d2.ID}) {
		t.Errorf("build delivered %v, want %v", ids, []string{d1.ID, d2.ID})
	}
	if n := f.calls(); n != 4 {
		t.Errorf("%d calls, want 4: each delivery once", n)
	}
	if got, attempts := v.get(d1.ID); got.Attempts != 2 || len(attempts) != 1 || attempts[0].N != 2 || got.LeaseOwner != "" {
		t.Errorf("interrupted delivery: %+v with attempts %+v; want attempt 2 recorded, no lease", got, attempts)
	}
}

func TestShutdownWaitsForAttempts(t *testing.T) {
	v := newEnv(t)
	release := make(chan struct{})
	ctxErr := make(chan error, 1)
	f := &fake{script: func(ctx context.Context, _ *notify.Message, _ int) notify.Result {
		<-release
		ctxErr <- ctx.Err()
		return notify.Result{}
	}}
	d := v.push(build, "main")
	r := start(t, v.engine(Options{}, target("ci", f, 4)), 5*time.Second)
	waitFor(t, "the attempt", func() bool { return f.inFlight() == 1 })

	r.cancel()
	// Run waits for the attempt; meanwhile it starts no other.
	later := v.push(build, "main")
	select {
	case <-r.done:
		t.Fatal("Run returned with an attempt in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	r.stop()
	if err := <-ctxErr; err != nil {
		t.Errorf("attempt context ended (%v) within the grace", err)
	}
	// Run returned after recording the attempt.
	if got, attempts := v.get(d.ID); got.State != store.DeliverySucceeded || len(attempts) != 1 {
		t.Errorf("after shutdown: %s with %d attempts, want succeeded with 1", got.State, len(attempts))
	}
	if got, _ := v.get(later.ID); got.State != store.DeliveryPending || f.calls() != 1 {
		t.Errorf("delivery recorded during shutdown is %s after %d calls; want pending, 1 call", got.State, f.calls())
	}
}

func TestShutdownGraceOver(t *testing.T) {
	const grace = 50 * time.Millisecond
	v := newEnv(t)
	cancelled := make(chan time.Duration, 1)
	var stopAt time.Time
	stopping := make(chan struct{})
	f := &fake{script: func(ctx context.Context, _ *notify.Message, call int) notify.Result {
		if call > 0 {
			return notify.Result{}
		}
		select {
		case <-ctx.Done():
		case <-time.After(waitTimeout):
			return notify.Result{Err: errTarget}
		}
		<-stopping
		cancelled <- time.Since(stopAt)
		// A target that takes a while to notice.
		time.Sleep(20 * time.Millisecond)
		return notify.Result{Err: context.Cause(ctx), Retryable: true}
	}}
	tg := target("ci", f, 1)
	// The shutdown takes the last attempt the policy allows; the
	// delivery must not be dead-lettered for it.
	tg.Retry.MaxAttempts = 1
	d := v.push(build, "main")
	stop := run(t, v.engine(Options{}, tg), grace)
	waitFor(t, "the attempt", func() bool { return f.inFlight() == 1 })
	stopAt = time.Now()
	close(stopping)
	stop()

	select {
	case after := <-cancelled:
		if after < grace {
			t.Errorf("attempt cancelled %v after shutdown began, before the grace %v", after, grace)
		}
	default:
		t.Fatal("the attempt's context was not cancelled")
	}
	got, attempts := v.get(d.ID)
	if got.State == store.DeliveryDead || got.State == store.DeliverySucceeded {
		t.Fatalf("delivery interrupted by shutdown is %s; want it retried", got.State)
	}
	if len(attempts) != 1 || !strings.Contains(attempts[0].Error, "context canceled") {
		t.Errorf("attempts = %+v; want the interrupted attempt", attempts)
	}

	// The next daemon delivers it.
	g := &fake{}
	run(t, v.engine(Options{}, target("ci", g, 1)), time.Second)
	v.waitState(d.ID, store.DeliverySucceeded)
	if n := attemptNumbers(g.messages()); !slices.Equal(n, []int{2}) {
		t.Errorf("next daemon's attempts %v, want [2]", n)
	}
}

// A reload replaces the targets; a replaced notifier is closed once its
// attempts in flight have finished, and new attempts use the new one.
func TestReloadWhileInFlight(t *testing.T) {
	v := newEnv(t)
	release := make(chan struct{})
	old := &fake{script: func(ctx context.Context, _ *notify.Message, _ int) notify.Result { return hold(ctx, release) }}
	idle := &fake{}
	d1 := v.push(build, "main")
	e := v.engine(Options{}, target("ci", old, 2), target("other", idle, 1))
	run(t, e, time.Second)
	waitFor(t, "the attempt on the old notifier", func() bool { return old.inFlight() == 1 })

	next, nextOther := &fake{}, &fake{}
	e.SetTargets([]Target{target("ci", next, 2), target("other", nextOther, 1)})
	if old.isClosed() {
		t.Fatal("replaced notifier closed with an attempt in flight")
	}
	if !idle.isClosed() {
		t.Error("idle replaced notifier not closed")
	}

	d2 := v.push(build, "main")
	v.waitState(d2.ID, store.DeliverySucceeded)
	if ids := next.ids(""); !slices.Equal(ids, []string{d2.ID}) {
		t.Errorf("new notifier got %v, want %s", ids, d2.ID)
	}
	if old.isClosed() || old.calls() != 1 {
		t.Errorf("old notifier: closed %v after %d calls; want open, 1 call", old.isClosed(), old.calls())
	}

	close(release)
	v.waitState(d1.ID, store.DeliverySucceeded)
	waitFor(t, "the old notifier to be closed", old.isClosed)
	old.mu.Lock()
	busy := old.closedBusy
	old.mu.Unlock()
	if busy {
		t.Error("old notifier closed while its attempt was in flight")
	}
	if next.isClosed() || nextOther.isClosed() {
		t.Error("current notifiers closed")
	}
}
