package sqlite_test

import (
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
)

// Two processes on one file would each deliver everything: the second
// open is refused until the first closes.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "forgelink.db")
	first, err := sqlite.Open(t.Context(), path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if second, err := sqlite.Open(t.Context(), path, zap.NewNop()); !errors.Is(err, sqlite.ErrLocked) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Open(t.Context(), path, zap.NewNop())
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	again.Close()
}

// owner records what the store hands it; inFlight deliveries refuse
// Withdraw.
type owner struct {
	mu       sync.Mutex
	due      []store.DeliveryRef
	inFlight map[string]bool
}

func (o *owner) Due(refs []store.DeliveryRef) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.due = append(o.due, refs...)
}

func (o *owner) Withdraw(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.inFlight[id]
}

func (o *owner) ids() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []string
	for _, r := range o.due {
		ids = append(ids, r.ID)
	}
	return ids
}

func record(t *testing.T, st *sqlite.Store, conn string, at time.Time, pipeline string) store.Delivery {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	d := store.Delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: id, ConnectionID: conn, Pipeline: pipeline, Target: "ci",
		Mode: "PARALLEL", Branch: "main", Message: []byte(`{"n":1}`)}
	e := store.Event{ID: id, ConnectionID: conn, Provider: store.ProviderGitHub, DeliveryID: uuid.NewString(), Kind: "push", RawKind: "push",
		Repository: "octo/api", ReceivedAt: at, Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: []byte(`{}`), Routed: true,
		Deliveries: []store.Delivery{d}}
	if dup, err := st.RecordEvent(t.Context(), e); err != nil || dup {
		t.Fatalf("RecordEvent = %v, %v", dup, err)
	}
	return d
}

// The owner gets every unfinished delivery at Own and every new one once
// its event commits, each once; settlements ride the writer; a discard
// asks the owner first.
func TestOwnerHandOff(t *testing.T) {
	st := sqlitetest.Open(t)
	c := store.Connection{ID: uuid.NewString(), Name: "ci", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := st.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	before := record(t, st, c.ID, at, "build")
	o := &owner{inFlight: map[string]bool{}}
	if err := st.Own(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	after := record(t, st, c.ID, at, "build")
	if got, want := o.ids(), []string{before.ID, after.ID}; !slices.Equal(got, want) {
		t.Fatalf("handed %v, want %v", got, want)
	}
	if r := o.due[1]; r.Pipeline != "build" || r.Target != "ci" || r.Mode != "PARALLEL" || r.Branch != "main" || !r.NextAttemptAt.Equal(at) || r.Attempts != 0 {
		t.Errorf("ref = %+v", r)
	}

	if d, err := st.Delivery(t.Context(), before.ID); err != nil || string(d.Message) != `{"n":1}` || d.Pipeline != "build" {
		t.Fatalf("Delivery = %+v, %v; want it with its message", d, err)
	}
	if _, err := st.Delivery(t.Context(), "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delivery of an unknown id = %v, want ErrNotFound", err)
	}

	o.inFlight[after.ID] = true
	if err := st.Discard(t.Context(), after.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Discard of a delivery in flight = %v, want ErrUnavailable", err)
	}
	if d, _, _ := st.GetDelivery(t.Context(), after.ID); d.State != store.DeliveryPending {
		t.Errorf("refused discard left the delivery %s", d.State)
	}

	done := make(chan error, 1)
	st.Settle([]store.Settlement{{
		Attempt: store.Attempt{DeliveryID: after.ID, N: 1, StartedAt: at, Outcome: "succeeded"}, State: store.DeliverySucceeded, NextAttemptAt: at,
	}}, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d, attempts, err := st.GetDelivery(t.Context(), after.ID)
	if err != nil || d.State != store.DeliverySucceeded || d.Attempts != 1 || len(attempts) != 1 {
		t.Errorf("after Settle: %+v, %d attempts, %v; want succeeded after 1", d, len(attempts), err)
	}

	if err := st.Redeliver(t.Context(), after.ID); err != nil {
		t.Fatal(err)
	}
	if got := o.ids(); len(got) != 3 || got[2] != after.ID || o.due[2].Attempts != 1 {
		t.Errorf("after Redeliver handed %v (%+v), want %s again with its attempt", got, o.due[len(o.due)-1], after.ID)
	}
}

// Settlements queued when the store closes are written before it is.
func TestSettleAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "forgelink.db")
	st, err := sqlite.Open(t.Context(), path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c := store.Connection{ID: uuid.NewString(), Name: "ci", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := st.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	d := record(t, st, c.ID, time.Now(), "build")
	var got error = errors.New("done not called")
	st.Settle([]store.Settlement{{Attempt: store.Attempt{DeliveryID: d.ID, N: 1, Outcome: "dead"}, State: store.DeliveryDead}}, func(err error) { got = err })
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if got != nil {
		t.Fatalf("settlement queued before Close: %v", got)
	}
	st.Settle(nil, func(err error) { got = err })
	if !errors.Is(got, sqlite.ErrClosed) {
		t.Errorf("Settle after Close = %v, want ErrClosed", got)
	}
	st, err = sqlite.Open(t.Context(), path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, _, _ := st.GetDelivery(t.Context(), d.ID); got.State != store.DeliveryDead {
		t.Errorf("after reopening: %s, want dead", got.State)
	}
}
