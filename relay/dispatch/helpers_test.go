package dispatch

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
)

// waitTimeout bounds every wait for a state the engine should reach.
const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// clock is the engine's Now: real time while set is zero, otherwise the
// time it was set to. It counts reads, so a test can let the engine loop
// a number of times before checking that nothing happened.
type clock struct {
	reads atomic.Int64
	mu    sync.Mutex
	set   time.Time
}

func (c *clock) Now() time.Time {
	c.reads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set.IsZero() {
		return time.Now()
	}
	return c.set
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.set = t
	c.mu.Unlock()
}

// idle lets the engine read the clock n more times: it has gone through
// its loop (capacity, claim, poll) about that many times.
func (c *clock) idle(t *testing.T, n int64) {
	t.Helper()
	until := c.reads.Load() + n
	waitFor(t, "the engine to loop", func() bool { return c.reads.Load() >= until })
}

// fake is a Notifier that records every message and answers with script
// (success when script is nil). script may block; it gets the call's
// index, from 0.
type fake struct {
	script func(ctx context.Context, m *notify.Message, call int) notify.Result

	mu         sync.Mutex
	msgs       []notify.Message
	active     int
	maxActive  int
	byPipe     map[string]int // attempts in flight per pipeline
	maxByPipe  map[string]int
	closed     bool
	closedBusy bool // Close was called with an attempt in flight
}

func (f *fake) Notify(ctx context.Context, m *notify.Message) notify.Result {
	f.mu.Lock()
	if f.byPipe == nil {
		f.byPipe, f.maxByPipe = map[string]int{}, map[string]int{}
	}
	n := len(f.msgs)
	f.msgs = append(f.msgs, *m)
	f.active++
	f.maxActive = max(f.maxActive, f.active)
	f.byPipe[m.Pipeline]++
	f.maxByPipe[m.Pipeline] = max(f.maxByPipe[m.Pipeline], f.byPipe[m.Pipeline])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		f.byPipe[m.Pipeline]--
		f.mu.Unlock()
	}()
	if f.script == nil {
		return notify.Result{}
	}
	return f.script(ctx, m, n)
}

func (f *fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.closedBusy = f.closedBusy || f.active > 0
	return nil
}

func (f *fake) messages() []notify.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.msgs)
}

func (f *fake) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.msgs)
}

func (f *fake) inFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

func (f *fake) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// ids returns the delivery ids of the messages f got, in arrival order,
// for pipeline (all when empty).
func (f *fake) ids(pipeline string) []string {
	var ids []string
	for _, m := range f.messages() {
		if pipeline == "" || m.Pipeline == pipeline {
			ids = append(ids, m.DeliveryID)
		}
	}
	return ids
}

// results scripts the first calls' results; later calls succeed.
func results(rs ...notify.Result) func(context.Context, *notify.Message, int) notify.Result {
	return func(_ context.Context, _ *notify.Message, call int) notify.Result {
		if call < len(rs) {
			return rs[call]
		}
		return notify.Result{}
	}
}

// hold blocks until release is closed, then succeeds; if the attempt's
// context ends first, it fails retryably.
func hold(ctx context.Context, release <-chan struct{}) notify.Result {
	select {
	case <-release:
		return notify.Result{}
	case <-ctx.Done():
		return notify.Result{Err: ctx.Err(), Retryable: true}
	}
}

var retryable = notify.Result{Err: errTarget, Retryable: true, StatusCode: 503}

var errTarget = &targetError{"503 Service Unavailable"}

type targetError struct{ s string }

func (e *targetError) Error() string { return e.s }

// testRetry is a policy under which the tests' deliveries never die of
// age or attempts unless a test says so.
var testRetry = Retry{InitialInterval: 10 * time.Millisecond, MaxInterval: time.Second, MaxAttempts: 100, MaxAge: time.Hour}

// target returns a target for n.
func target(name string, n Notifier, concurrency int) Target {
	return Target{Name: name, Type: "fake", Notifier: n, Concurrency: concurrency, Lease: time.Minute, Retry: testRetry}
}

// pipe is a pipeline as a delivery records it.
type pipe struct{ name, target, mode string }

// env is a real SQLite store with one connection.
type env struct {
	t    *testing.T
	st   *sqlite.Store
	conn string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := sqlitetest.Open(t)
	c := store.Connection{ID: uuid.NewString(), Name: "ci", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusPending}
	if err := st.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, conn: c.ID}
}

// engine returns an engine with targets that owns the store's deliveries,
// as the daemon's on SQLite; opts.Poll is 5 ms unless set. With
// opts.Source set (a Claimer), it claims them instead.
func (v *env) engine(opts Options, targets ...Target) *Engine {
	if opts.Log == nil {
		opts.Log = zaptest.NewLogger(v.t, zaptest.Level(zap.WarnLevel))
	}
	if opts.Poll == 0 {
		opts.Poll = 5 * time.Millisecond
	}
	owner := NewOwner(v.st, opts.Log)
	if opts.Source == nil {
		opts.Source = owner
	}
	e := New(opts)
	e.SetTargets(targets)
	if opts.Source == owner {
		if err := v.st.Own(v.t.Context(), owner); err != nil {
			v.t.Fatal(err)
		}
	}
	return e
}

// runner is an engine running in the background.
type runner struct {
	t      *testing.T
	cancel context.CancelFunc // ends Run's context
	done   chan struct{}      // closed when Run has returned
}

// start runs e until stop is called or the test ends.
func start(t *testing.T, e *Engine, grace time.Duration) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{t: t, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := e.Run(ctx, grace); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

// stop cancels Run's context and waits for Run to return; it may be
// called more than once.
func (r *runner) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(waitTimeout):
		r.t.Errorf("Run did not return")
	}
}

// run starts e and returns its stop.
func run(t *testing.T, e *Engine, grace time.Duration) (stop func()) {
	t.Helper()
	return start(t, e, grace).stop
}

// pushEvent is a push of branch to octo/api.
func pushEvent(branch string) *providers.Event {
	return &providers.Event{
		Provider:   store.ProviderGitHub,
		DeliveryID: uuid.NewString(),
		Kind:       providers.KindPush,
		RawKind:    "push",
		Repository: providers.Repository{FullName: "octo/api", CloneURLHTTP: "https://github.com/octo/api.git"},
		Pushes: []providers.Push{{
			Ref: "refs/heads/" + branch, RefType: providers.RefBranch, RefName: branch,
			Before: "1111111111111111111111111111111111111111", After: "2222222222222222222222222222222222222222",
			HeadCommit: &providers.Commit{ID: "2222222222222222222222222222222222222222", Message: "fix the build"},
		}},
	}
}

// push records a push to branch, received now, routed to p.
func (v *env) push(p pipe, branch string) store.Delivery {
	v.t.Helper()
	return v.pushAt(time.Now(), p, branch)
}

// pushAt records a push to branch received at, with its delivery to p
// planned by Plan, and returns the delivery.
func (v *env) pushAt(at time.Time, p pipe, branch string) store.Delivery {
	v.t.Helper()
	ev := pushEvent(branch)
	id := uuid.Must(uuid.NewV7()).String()
	cfg := &config.Pipeline{Name: p.name, Repository: "octo/api", ExecutionMode: p.mode, Target: p.target}
	ds := Plan(Recorded{EventID: id, ConnectionID: v.conn, ConnectionARN: "arn:aws:codeconnections:us-east-1:123456789012:connection/" + v.conn, ReceivedAt: at, Event: ev},
		[]route.Match{{Pipeline: cfg, Push: &ev.Pushes[0], Branch: branch}})
	v.record(ev, id, at, false, ds)
	return ds[0]
}

func (v *env) record(ev *providers.Event, id string, at time.Time, held bool, ds []store.Delivery) {
	v.t.Helper()
	e := store.Event{
		ID: id, ConnectionID: v.conn, Provider: ev.Provider, DeliveryID: ev.DeliveryID, Kind: string(ev.Kind), RawKind: ev.RawKind,
		Repository: ev.Repository.FullName, Held: held, ReceivedAt: at, Headers: []byte(`{}`), Body: []byte(`{}`),
		Normalized: mustJSON(v.t, ev), Routed: !held, Deliveries: ds,
	}
	if dup, err := v.st.RecordEvent(v.t.Context(), e); err != nil || dup {
		v.t.Fatalf("RecordEvent = %v, %v", dup, err)
	}
}

func (v *env) get(id string) (store.Delivery, []store.Attempt) {
	v.t.Helper()
	d, attempts, err := v.st.GetDelivery(context.Background(), id)
	if err != nil {
		v.t.Fatal(err)
	}
	return d, attempts
}

// waitState waits until delivery id is in state and returns it with its
// attempts.
func (v *env) waitState(id, state string) (store.Delivery, []store.Attempt) {
	v.t.Helper()
	var (
		d        store.Delivery
		attempts []store.Attempt
	)
	waitFor(v.t, "delivery "+id+" to be "+state, func() bool {
		d, attempts = v.get(id)
		return d.State == state
	})
	return d, attempts
}

// waitAll waits until every delivery of ds is in state.
func (v *env) waitAll(ds []store.Delivery, state string) {
	v.t.Helper()
	for _, d := range ds {
		v.waitState(d.ID, state)
	}
}

// outcomes returns the attempts' outcomes and numbers, for comparisons.
func outcomes(attempts []store.Attempt) []string {
	var out []string
	for _, a := range attempts {
		out = append(out, a.Outcome)
	}
	return out
}

func attemptNumbers(ms []notify.Message) []int {
	var out []int
	for _, m := range ms {
		out = append(out, m.Attempt)
	}
	return out
}

func deliveryIDs(ds []store.Delivery) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
