package recovery_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/recovery"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
)

var t0 = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

// fakeLog is a hook's delivery log: newest first, as GitHub lists it.
type fakeLog struct {
	clock *clocktest.Clock

	mu          sync.Mutex
	deliveries  []providers.HookDelivery // oldest first
	sinces      []time.Time
	redelivered []string    // attempt ids
	at          []time.Time // when each redelivery was asked for
	listErr     []error     // returned by the next listings, in order
	redelivErr  []error
}

func (l *fakeLog) add(guid string, ok bool, ago time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliveries = append(l.deliveries, providers.HookDelivery{
		ID: fmt.Sprint(len(l.deliveries) + 1), GUID: guid, OK: ok, DeliveredAt: l.clock.Now().Add(-ago),
	})
	slices.SortStableFunc(l.deliveries, func(a, b providers.HookDelivery) int { return a.DeliveredAt.Compare(b.DeliveredAt) })
}

func (l *fakeLog) Deliveries(_ context.Context, since time.Time) ([]providers.HookDelivery, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sinces = append(l.sinces, since)
	if len(l.listErr) > 0 {
		err := l.listErr[0]
		l.listErr = l.listErr[1:]
		return nil, err
	}
	var out []providers.HookDelivery
	for _, d := range slices.Backward(l.deliveries) {
		if d.DeliveredAt.After(since) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (l *fakeLog) Redeliver(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.redelivErr) > 0 {
		err := l.redelivErr[0]
		l.redelivErr = l.redelivErr[1:]
		return err
	}
	l.redelivered = append(l.redelivered, id)
	l.at = append(l.at, l.clock.Now())
	return nil
}

func (l *fakeLog) guidsRedelivered() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, id := range l.redelivered {
		for _, d := range l.deliveries {
			if d.ID == id {
				out = append(out, d.GUID)
			}
		}
	}
	return out
}

type fakeHeads struct {
	mu    sync.Mutex
	heads map[string]string
	err   error
	reads int
}

func (h *fakeHeads) Head(_ context.Context, repository, ref, last string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	if h.err != nil {
		return "", h.err
	}
	sha, ok := h.heads[repository+" "+ref]
	if !ok {
		return "", providers.ErrNotFound
	}
	return sha, nil
}

func (h *fakeHeads) set(repository, ref, sha string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.heads[repository+" "+ref] = sha
}

type fakeSource struct {
	hooks   []recovery.Hook
	watches []recovery.Watch
}

func (s *fakeSource) Hooks(context.Context) ([]recovery.Hook, error)    { return s.hooks, nil }
func (s *fakeSource) Watches(context.Context) ([]recovery.Watch, error) { return s.watches, nil }

type fixture struct {
	clock   *clocktest.Clock
	store   *sqlite.Store
	conn    store.Connection
	source  *fakeSource
	rec     *recovery.Recoverer
	metrics *prometheus.Registry
	errors  map[string]string
	slept   time.Duration
	synth   []recovery.SyntheticPush
}

func newFixture(t *testing.T, configure ...func(*recovery.Options)) *fixture {
	t.Helper()
	f := &fixture{clock: clocktest.New(t0), store: sqlitetest.Open(t), source: &fakeSource{},
		metrics: prometheus.NewRegistry(), errors: map[string]string{}}
	f.conn = store.Connection{ID: uuid.NewString(), Name: "c", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := f.store.CreateConnection(t.Context(), f.conn, nil, 0); err != nil {
		t.Fatal(err)
	}
	synth := &recovery.Synthesizer{Store: f.store, Now: f.clock.Now,
		Route: func(connID, eventID string, at time.Time, ev *providers.Event) []store.Delivery { return nil }}
	o := recovery.Options{
		Store: f.store, Source: f.source, Now: f.clock.Now, Metrics: recovery.NewMetrics(f.metrics),
		Sleep: func(_ context.Context, d time.Duration) error { f.slept += d; f.clock.Add(d); return nil },
		Synthesize: func(ctx context.Context, p recovery.SyntheticPush) error {
			f.synth = append(f.synth, p)
			return synth.Synthesize(ctx, p)
		},
		MarkError: func(_ context.Context, id, reason string) { f.errors[id] = reason },
	}
	for _, c := range configure {
		c(&o)
	}
	f.rec = recovery.New(o)
	return f
}

func (f *fixture) hook(key string, app bool) *fakeLog {
	l := &fakeLog{clock: f.clock}
	f.source.hooks = append(f.source.hooks, recovery.Hook{Key: key, Provider: store.ProviderGitHub,
		ConnectionIDs: []string{f.conn.ID}, App: app, Retention: 72 * time.Hour, Log: l})
	return l
}

func (f *fixture) record(t *testing.T, deliveryID string, ev providers.Event) {
	t.Helper()
	f.recordIn(t, "octo/app", deliveryID, ev)
}

func (f *fixture) recordIn(t *testing.T, repository, deliveryID string, ev providers.Event) {
	t.Helper()
	ev.DeliveryID = deliveryID
	normalized := fmt.Appendf(nil, `{"kind":"push","pushes":[{"ref":%q,"after":%q}]}`, ev.Pushes[0].Ref, ev.Pushes[0].After)
	e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: f.conn.ID, Provider: store.ProviderGitHub,
		DeliveryID: deliveryID, Kind: "push", RawKind: "push", Repository: repository, ReceivedAt: f.clock.Now(),
		Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: normalized, Routed: true}
	if _, err := f.store.RecordEvent(t.Context(), e); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) recordGUID(t *testing.T, guid string) {
	t.Helper()
	f.record(t, guid, providers.Event{Pushes: []providers.Push{{Ref: "refs/heads/other", After: "0000"}}})
}

func TestGroupsByGUID(t *testing.T) {
	tests := []struct {
		name string
		app  bool
		want []string
	}{
		// g1: only failed attempts; g2: failed then OK, never recorded; g3:
		// OK, never recorded; g4: failed but recorded (forgelink answered
		// too late).
		{"repository hook: every event never recorded", false, []string{"g1", "g2", "g3"}},
		{"App hook: only events whose attempts all failed", true, []string{"g1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			l := f.hook("h", tt.app)
			l.add("g1", false, 50*time.Minute)
			l.add("g1", false, 40*time.Minute)
			l.add("g2", false, 30*time.Minute)
			l.add("g2", true, 29*time.Minute)
			l.add("g3", true, 20*time.Minute)
			l.add("g4", false, 10*time.Minute)
			f.recordGUID(t, "g4")
			st := f.rec.Round(t.Context())
			if got := l.guidsRedelivered(); !slices.Equal(got, tt.want) {
				t.Fatalf("redelivered %v, want %v (oldest first, one attempt each)", got, tt.want)
			}
			if st.Listed != 6 || st.Redelivered != len(tt.want) {
				t.Errorf("stats %+v", st)
			}
			for i := 1; i < len(l.at); i++ {
				if gap := l.at[i].Sub(l.at[i-1]); gap < time.Second {
					t.Errorf("redeliveries %d and %d %v apart, want >= 1s", i-1, i, gap)
				}
			}
			if got := metricValue(t, f.metrics, "forgelink_recovery_redelivered_total"); got != float64(len(tt.want)) {
				t.Errorf("redelivered metric %v", got)
			}
		})
	}
}

// metricValue sums the values of the metric name in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}

func TestCursorKeptPerHook(t *testing.T) {
	f := newFixture(t)
	a, b := f.hook("a", false), f.hook("b", false)
	a.add("old", false, 100*time.Hour) // past GitHub's 3 days: not listed
	f.rec.Round(t.Context())
	first := f.clock.Now()
	if a.sinces[0] != t0.Add(-72*time.Hour) || b.sinces[0] != t0.Add(-72*time.Hour) {
		t.Fatalf("first round read since %v and %v, want the retention window %v", a.sinces[0], b.sinces[0], t0.Add(-72*time.Hour))
	}
	f.clock.Add(15 * time.Minute)
	a.add("new", false, time.Minute)
	b.listErr = []error{fmt.Errorf("list: %w", providers.ErrProviderUnavailable)}
	f.rec.Round(t.Context())
	f.clock.Add(15 * time.Minute)
	f.rec.Round(t.Context())
	if a.sinces[1] != first || a.sinces[2] != first.Add(15*time.Minute) {
		t.Errorf("hook a read since %v, want each previous round's start", a.sinces)
	}
	if b.sinces[2] != first {
		t.Errorf("hook b read since %v after a failed round, want %v again", b.sinces[2], first)
	}
	if got := a.guidsRedelivered(); !slices.Equal(got, []string{"new"}) {
		t.Errorf("redelivered %v, want [new] once", got)
	}
}

func TestRedeliveredAtMostThreeTimes(t *testing.T) {
	f := newFixture(t)
	l := f.hook("h", false)
	for range 5 {
		f.clock.Add(time.Minute)
		l.add("refused", false, 0) // each redelivery fails again: a body forgelink refuses
		f.clock.Add(time.Second)
		f.rec.Round(t.Context())
	}
	if got := len(l.guidsRedelivered()); got != 3 {
		t.Fatalf("redelivered %d times, want 3", got)
	}
}

func TestRateLimitWaits(t *testing.T) {
	f := newFixture(t)
	l := f.hook("h", false)
	l.add("g1", false, time.Minute)
	l.listErr = []error{&providers.RateLimitError{Wait: 40 * time.Second}}
	l.redelivErr = []error{&providers.RateLimitError{Wait: 20 * time.Second}}
	st := f.rec.Round(t.Context())
	if st.Redelivered != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v, want the redelivery made after the waits", st)
	}
	if f.slept != 60*time.Second {
		t.Errorf("waited %v, want 60s (retry-after of both calls)", f.slept)
	}

	// A limit that does not lift within the round's patience fails the
	// hook, whose cursor stays.
	l.add("g2", false, 0)
	l.listErr = []error{&providers.RateLimitError{Wait: 2 * time.Hour}}
	if st := f.rec.Round(t.Context()); st.Failed != 1 || st.Redelivered != 0 {
		t.Fatalf("stats %+v, want one failed hook", st)
	}
}

func TestUnrecoverableHookIsPolled(t *testing.T) {
	f := newFixture(t)
	l := f.hook("repo:h", false)
	l.listErr = []error{fmt.Errorf("list: %w: HTTP 403", providers.ErrHookLogRefused)}
	heads := &fakeHeads{heads: map[string]string{}}
	heads.set("octo/app", "refs/heads/main", "a1")
	f.source.watches = []recovery.Watch{
		{ConnectionID: f.conn.ID, Provider: store.ProviderGitHub, Repository: "octo/app", Ref: "refs/heads/main", HookKey: "repo:h", Heads: heads},
		{ConnectionID: f.conn.ID, Provider: store.ProviderGitHub, Repository: "octo/app", Ref: "refs/heads/dev", HookKey: "repo:other", Heads: heads},
	}
	st := f.rec.Round(t.Context())
	if st.Unrecoverable != 1 || st.Polled != 1 || len(f.synth) != 0 {
		t.Fatalf("first round %+v, synthesised %v: want the hook unrecoverable and main's head recorded only", st, f.synth)
	}
	heads.set("octo/app", "refs/heads/main", "b2")
	f.clock.Add(5 * time.Minute)
	st = f.rec.Round(t.Context())
	want := recovery.SyntheticPush{ConnectionID: f.conn.ID, Provider: store.ProviderGitHub, Repository: "octo/app", Ref: "refs/heads/main", Before: "a1", After: "b2"}
	if len(f.synth) != 1 || f.synth[0] != want {
		t.Fatalf("synthesised %+v, want %+v", f.synth, want)
	}
	if len(l.sinces) != 1 {
		t.Errorf("the unrecoverable hook's log was read %d times, want once a day", len(l.sinces))
	}
	if st.Synthesized != 1 {
		t.Errorf("stats %+v", st)
	}
	// The synthesised event is recorded under its fixed id: a third round
	// with the same head adds nothing.
	f.clock.Add(5 * time.Minute)
	f.rec.Round(t.Context())
	if len(f.synth) != 1 {
		t.Errorf("synthesised again: %+v", f.synth)
	}
	got, err := f.store.RecordedDeliveries(t.Context(), []string{f.conn.ID}, []string{recovery.SynthesizedID("octo/app", "refs/heads/main", "b2")})
	if err != nil || !got[recovery.SynthesizedID("octo/app", "refs/heads/main", "b2")] {
		t.Errorf("synthesised event not recorded: %v, %v", got, err)
	}
	if v := metricValue(t, f.metrics, "forgelink_recovery_unrecoverable_hooks"); v != 1 {
		t.Errorf("unrecoverable gauge %v, want 1", v)
	}
}

func TestPolledMoveWithRecordedPushIsNotSynthesised(t *testing.T) {
	f := newFixture(t)
	heads := &fakeHeads{heads: map[string]string{}}
	heads.set("octo/app", "refs/heads/main", "a1")
	f.source.watches = []recovery.Watch{{ConnectionID: f.conn.ID, Provider: store.ProviderGitHub, Repository: "octo/app",
		Ref: "refs/heads/main", Poll: true, Heads: heads}}
	f.rec.Round(t.Context())
	f.clock.Add(time.Minute)
	heads.set("octo/app", "refs/heads/main", "b2")
	// The provider spells the repository otherwise than the pipeline.
	f.recordIn(t, "Octo/App", "webhook-1", providers.Event{Pushes: []providers.Push{{Ref: "refs/heads/main", After: "b2"}}})
	f.clock.Add(time.Minute)
	f.rec.Round(t.Context())
	if len(f.synth) != 0 {
		t.Fatalf("synthesised %+v for a push the webhook recorded", f.synth)
	}
}

func TestLateWebhookAfterSynthesis(t *testing.T) {
	f := newFixture(t)
	push := recovery.SyntheticPush{ConnectionID: f.conn.ID, Provider: store.ProviderGitHub, Repository: "octo/app",
		Ref: "refs/heads/main", Before: "a1", After: "b2"}
	late := providers.Event{Kind: providers.KindPush, DeliveryID: "guid-late", Repository: providers.Repository{FullName: "Octo/App"},
		Pushes: []providers.Push{{Ref: "refs/heads/main", After: "b2"}}}
	other := providers.Event{Kind: providers.KindPush, DeliveryID: "guid-other", Repository: providers.Repository{FullName: "octo/app"},
		Pushes: []providers.Push{{Ref: "refs/heads/main", After: "c3"}}}
	fork := providers.Event{Kind: providers.KindPush, DeliveryID: "guid-fork", Repository: providers.Repository{FullName: "octo/fork"},
		Pushes: []providers.Push{{Ref: "refs/heads/main", After: "b2"}}}
	if dup, err := recovery.AlreadySynthesized(t.Context(), f.store, f.conn.ID, &late); err != nil || dup {
		t.Fatalf("before synthesis: %v, %v", dup, err)
	}
	s := &recovery.Synthesizer{Store: f.store, Now: f.clock.Now,
		Route: func(string, string, time.Time, *providers.Event) []store.Delivery { return nil }}
	if err := s.Synthesize(t.Context(), push); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		conn string
		ev   providers.Event
		want bool
	}{
		{"same move", f.conn.ID, late, true},
		{"another head", f.conn.ID, other, false},
		{"another repository, same head", f.conn.ID, fork, false},
		{"another connection", uuid.NewString(), late, false},
		{"not a push", f.conn.ID, providers.Event{Kind: providers.KindPing}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := recovery.AlreadySynthesized(t.Context(), f.store, tt.conn, &tt.ev)
			if err != nil || got != tt.want {
				t.Fatalf("AlreadySynthesized = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRejectedCredentialMarksError(t *testing.T) {
	f := newFixture(t)
	l := f.hook("h", false)
	l.listErr = []error{&providers.StatusError{StatusCode: 401}}
	st := f.rec.Round(t.Context())
	if st.Failed != 1 || f.errors[f.conn.ID] == "" {
		t.Fatalf("stats %+v, errors %v: want the connection in ERROR", st, f.errors)
	}
	if !errors.Is(&providers.StatusError{StatusCode: 401}, providers.ErrTokenRejected) {
		t.Fatal("401 is not a rejected token")
	}
}

func TestRedeliveriesPacedAcrossHooks(t *testing.T) {
	f := newFixture(t)
	a, b := f.hook("a", false), f.hook("b", false)
	a.add("ga", false, time.Minute)
	b.add("gb", false, time.Minute)
	f.rec.Round(t.Context())
	if len(a.at) != 1 || len(b.at) != 1 {
		t.Fatalf("redelivered %v and %v, want one each", a.at, b.at)
	}
	if gap := b.at[0].Sub(a.at[0]); gap < time.Second {
		t.Errorf("redeliveries of two hooks %v apart, want >= 1s", gap)
	}
}

func TestPollBudgetSpreadsReads(t *testing.T) {
	// 24 reads an hour in 5-minute rounds: 2 a round per connection.
	f := newFixture(t, func(o *recovery.Options) {
		o.PollInterval = 5 * time.Minute
		o.PollBudget = map[string]int{store.ProviderBitbucket: 24}
	})
	heads := &fakeHeads{heads: map[string]string{}}
	for i := range 5 {
		ref := fmt.Sprintf("refs/heads/b%d", i)
		heads.set("ws/app", ref, "a1")
		f.source.watches = append(f.source.watches, recovery.Watch{ConnectionID: f.conn.ID, Provider: store.ProviderBitbucket,
			Repository: "ws/app", Ref: ref, Poll: true, Heads: heads})
	}
	for round, want := range []struct{ polled, deferred int }{{2, 3}, {2, 3}, {2, 3}} {
		st := f.rec.Round(t.Context())
		if st.Polled != want.polled || st.Deferred != want.deferred {
			t.Fatalf("round %d: polled %d, deferred %d; want %d, %d", round+1, st.Polled, st.Deferred, want.polled, want.deferred)
		}
		f.clock.Add(5 * time.Minute)
	}
	// After three rounds every ref was read at least once: the least
	// recently read go first.
	for i := range 5 {
		if _, err := f.store.GetRecoveryHead(t.Context(), f.conn.ID, "ws/app", fmt.Sprintf("refs/heads/b%d", i)); err != nil {
			t.Errorf("ref b%d never read: %v", i, err)
		}
	}
}

func TestHookGapSpacesResends(t *testing.T) {
	f := newFixture(t)
	l := f.hook("gitlab", false)
	f.source.hooks[0].Gap = 12 * time.Second // GitLab: 5 resends a minute
	for _, g := range []string{"k1", "k2", "k3"} {
		l.add(g, false, time.Minute)
	}
	f.rec.Round(t.Context())
	if len(l.at) != 3 {
		t.Fatalf("resent %d, want 3", len(l.at))
	}
	for i := 1; i < len(l.at); i++ {
		if gap := l.at[i].Sub(l.at[i-1]); gap < 12*time.Second {
			t.Errorf("resends %d and %d %v apart, want >= 12s", i-1, i, gap)
		}
	}
}

func TestTriggerReadsTheLogsAgain(t *testing.T) {
	f := newFixture(t, func(o *recovery.Options) { o.Interval, o.PollInterval = time.Hour, time.Hour })
	l := f.hook("h", false)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); f.rec.Run(ctx) }()
	defer func() { cancel(); <-done }()
	reads := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.sinces)
	}
	waitUntil(t, "the round at start", func() bool { return reads() == 1 })
	f.rec.Trigger()
	waitUntil(t, "a round after Trigger", func() bool { return reads() == 2 })
}

// waitUntil polls cond until it holds, failing after 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
