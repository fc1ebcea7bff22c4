package dispatch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap/zaptest"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// Events held while the connection was not AVAILABLE are routed once it
// is, under the configuration of that moment, and delivered.
func TestReleaseHeld(t *testing.T) {
	v := newEnv(t)
	f := &fake{}
	// With an hour's poll, only the releaser's Wake gets the delivery going.
	e := v.engine(Options{Poll: time.Hour}, target("ci", f, 1))
	run(t, e, time.Second)

	held := pushEvent("main")
	heldID := uuid.Must(uuid.NewV7()).String()
	receivedAt := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	v.record(held, heldID, receivedAt, true, nil)
	unreadable := uuid.Must(uuid.NewV7()).String()
	if dup, err := v.st.RecordEvent(t.Context(), store.Event{
		ID: unreadable, ConnectionID: v.conn, Provider: store.ProviderGitHub, DeliveryID: uuid.NewString(), Kind: "push", RawKind: "push",
		Repository: "octo/api", Held: true, ReceivedAt: receivedAt, Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: []byte(`{"kind":`),
	}); err != nil || dup {
		t.Fatalf("RecordEvent = %v, %v", dup, err)
	}

	type call struct {
		conn, event string
		at          time.Time
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	pipeline := &config.Pipeline{Name: "build", ExecutionMode: config.ModeQueued, Target: "ci"}
	r := &Releaser{
		Store: v.st, Engine: e, Log: zaptest.NewLogger(t),
		Route: func(conn, eventID string, at time.Time, ev *providers.Event) []store.Delivery {
			mu.Lock()
			calls = append(calls, call{conn, eventID, at})
			mu.Unlock()
			return Plan(Recorded{EventID: eventID, ConnectionID: conn, ConnectionARN: "arn:" + conn, ReceivedAt: at, Event: ev},
				[]route.Match{{Pipeline: pipeline, Push: &ev.Pushes[0], Branch: ev.Pushes[0].RefName}})
		},
	}

	if n := r.pass(t.Context()); n != 0 {
		t.Fatalf("pass while held looked at %d events, want 0", n)
	}
	if err := v.st.SetConnectionStatus(t.Context(), v.conn, store.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	if n := r.pass(t.Context()); n != 2 {
		t.Fatalf("pass after release looked at %d events, want 2", n)
	}
	mu.Lock()
	if want := []call{{v.conn, heldID, receivedAt}}; len(calls) != 1 || calls[0].conn != v.conn || calls[0].event != heldID || !calls[0].at.Equal(receivedAt) {
		t.Errorf("Route calls = %v, want %v", calls, want)
	}
	mu.Unlock()

	var ds []store.Delivery
	waitFor(t, "the released event's delivery", func() bool {
		var err error
		ds, err = v.st.ListDeliveries(t.Context(), store.DeliveryFilter{EventID: heldID}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ds) == 1 && ds[0].State == store.DeliverySucceeded
	})
	ms := f.messages()
	if len(ms) != 1 || ms[0].DeliveryID != ds[0].ID || ms[0].EventID != heldID || ms[0].Attempt != 1 ||
		ms[0].Variables[notify.VarBranchName] != "main" || !ms[0].CreatedAt.Equal(receivedAt) {
		t.Errorf("notifier got %+v; want the released event's delivery", ms)
	}
	if got, err := v.st.ListDeliveries(t.Context(), store.DeliveryFilter{EventID: unreadable}, store.Page{}); err != nil || len(got) != 0 {
		t.Errorf("deliveries of the unreadable event = %v, %v; want none", got, err)
	}

	// Both are routed for good: the unreadable one is not retried forever.
	if n := r.pass(t.Context()); n != 0 {
		t.Errorf("second pass looked at %d events, want 0", n)
	}
	for _, id := range []string{heldID, unreadable} {
		if ev, err := v.st.GetEvent(t.Context(), id); err != nil || !ev.Routed || ev.Held {
			t.Errorf("event %s: routed %v, held %v, %v; want routed, not held", id, ev.Routed, ev.Held, err)
		}
	}
	if !slices.Equal(f.ids(""), deliveryIDs(ds)) {
		t.Errorf("delivered %v, want %v", f.ids(""), deliveryIDs(ds))
	}
}

// Run routes released events by itself.
func TestReleaserRun(t *testing.T) {
	v := newEnv(t)
	f := &fake{}
	e := v.engine(Options{}, target("ci", f, 1))
	run(t, e, time.Second)
	ev := pushEvent("main")
	id := uuid.Must(uuid.NewV7()).String()
	v.record(ev, id, time.Now(), true, nil)
	pipeline := &config.Pipeline{Name: "build", ExecutionMode: config.ModeQueued, Target: "ci"}
	r := &Releaser{
		Store: v.st, Engine: e, Log: zaptest.NewLogger(t), Every: 5 * time.Millisecond,
		Route: func(conn, eventID string, at time.Time, ev *providers.Event) []store.Delivery {
			return Plan(Recorded{EventID: eventID, ConnectionID: conn, ReceivedAt: at, Event: ev},
				[]route.Match{{Pipeline: pipeline, Push: &ev.Pushes[0], Branch: "main"}})
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := v.st.SetConnectionStatus(t.Context(), v.conn, store.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the released event's delivery", func() bool { return f.calls() == 1 })
	if ms := f.messages(); ms[0].EventID != id {
		t.Errorf("delivered event %s, want %s", ms[0].EventID, id)
	}
}
