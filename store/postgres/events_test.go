package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/postgres"
)

// outcome is the answer RecordEvent must give.
type outcome int

const (
	isNew outcome = iota
	isDuplicate
	isError
)

// newRoutedEvent returns an event of connID with two deliveries.
func newRoutedEvent(connID, deliveryID string) store.Event {
	e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: connID, Provider: store.ProviderGitHub,
		DeliveryID: deliveryID, Kind: "push", RawKind: "push", Repository: "octo/api", ReceivedAt: received,
		Headers: []byte(`{}`), Body: []byte(`{"delivery":"` + deliveryID + `"}`), Normalized: []byte(`{}`), Routed: true}
	for _, p := range []string{"build", "deploy"} {
		e.Deliveries = append(e.Deliveries, store.Delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: e.ID,
			ConnectionID: connID, Pipeline: p, Target: "ci", Mode: "PARALLEL", Branch: "main", Message: []byte(`{}`)})
	}
	return e
}

// checkAnswer compares one RecordEvent answer with want.
func checkAnswer(t *testing.T, name string, dup bool, err error, want outcome) {
	t.Helper()
	switch {
	case want == isError && err == nil:
		t.Errorf("%s: RecordEvent = %v, nil; want an error", name, dup)
	case want != isError && err != nil:
		t.Errorf("%s: RecordEvent: %v", name, err)
	case want != isError && dup != (want == isDuplicate):
		t.Errorf("%s: RecordEvent duplicate = %v, want %v", name, dup, want == isDuplicate)
	}
}

// checkStored checks that e and its deliveries are stored if it was new,
// and that nothing of it is otherwise.
func checkStored(t *testing.T, s *postgres.Store, name string, e store.Event, stored bool) {
	t.Helper()
	got, err := s.GetEvent(t.Context(), e.ID)
	switch {
	case stored && err != nil:
		t.Errorf("%s: GetEvent: %v", name, err)
	case stored && string(got.Body) != string(e.Body):
		t.Errorf("%s: stored body %q, want %q", name, got.Body, e.Body)
	case !stored && !errors.Is(err, store.ErrNotFound) && (err != nil || string(got.Body) == string(e.Body)):
		t.Errorf("%s: GetEvent = %q, %v; want it not stored", name, got.Body, err)
	}
	for _, d := range e.Deliveries {
		if _, _, err := s.GetDelivery(t.Context(), d.ID); stored != (err == nil) {
			t.Errorf("%s: GetDelivery(%s): %v; want stored %v", name, d.ID, err, stored)
		}
	}
}

// batchEntry is one event of a batch and the answer it must get.
type batchEntry struct {
	name string
	e    store.Event
	want outcome
}

// TestRecordBatch writes batches as the group-commit writers do: each
// event gets the answer it would get alone, and only new events are
// stored, with their deliveries.
func TestRecordBatch(t *testing.T) {
	s := mustOpen(t, newSchema(t), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	defer mustClose(t, s)
	conn := mustConnection(t, s)
	stored := newRoutedEvent(conn, "stored")
	if dup, err := s.RecordEvent(t.Context(), stored); dup || err != nil {
		t.Fatalf("RecordEvent = %v, %v", dup, err)
	}
	fresh := func(name string) batchEntry { return batchEntry{name, newRoutedEvent(conn, uuid.NewString()), isNew} }
	with := func(name string, want outcome, edit func(e *store.Event)) batchEntry {
		en := batchEntry{name, newRoutedEvent(conn, uuid.NewString()), want}
		edit(&en.e)
		return en
	}
	again := fresh("first")
	tests := []struct {
		name  string
		batch []batchEntry
	}{
		{"distinct", []batchEntry{fresh("a"), fresh("b"), fresh("c")}},
		{"key twice in the batch", []batchEntry{fresh("before"),
			with("first", isNew, func(e *store.Event) { e.DeliveryID = "twice" }),
			with("second", isDuplicate, func(e *store.Event) { e.DeliveryID = "twice" }),
			fresh("after")}},
		{"redelivery of a stored event", []batchEntry{fresh("a"),
			with("redelivery", isDuplicate, func(e *store.Event) { e.DeliveryID = stored.DeliveryID })}},
		// No foreign key: a deleted connection stays as a tombstone, and
		// its late events are kept like any other.
		{"unknown connection", []batchEntry{fresh("a"),
			with("unknown", isNew, func(e *store.Event) { e.ConnectionID = uuid.NewString() })}},
		{"headers not UTF-8", []batchEntry{fresh("a"),
			with("bad", isError, func(e *store.Event) { e.Headers = []byte("{\"X\":\"\xff\"}") }),
			fresh("b")}},
		{"id already taken", []batchEntry{fresh("a"),
			with("taken", isError, func(e *store.Event) { e.ID = stored.ID }),
			fresh("b")}},
		{"same event twice", []batchEntry{again, {"again", again.e, isDuplicate}, fresh("b")}},
		{"key twice, the first bad", []batchEntry{
			with("bad", isError, func(e *store.Event) { e.DeliveryID, e.Normalized = "twice-bad", []byte("\x00") }),
			with("good", isNew, func(e *store.Event) { e.DeliveryID = "twice-bad" })}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := make([]store.Event, len(tt.batch))
			for i, en := range tt.batch {
				events[i] = en.e
			}
			dups, errs := s.RecordBatch(events)
			for i, en := range tt.batch {
				checkAnswer(t, en.name, dups[i], errs[i], en.want)
				// Events sharing the id of a stored one are checked by it.
				if en.e.ID != stored.ID && (i == 0 || en.e.ID != tt.batch[0].e.ID) {
					checkStored(t, s, en.name, en.e, en.want == isNew)
				}
			}
		})
	}
	checkStored(t, s, "stored", stored, true)
}

func mustConnection(tb testing.TB, s *postgres.Store) string {
	tb.Helper()
	c := store.Connection{ID: uuid.NewString(), Name: "ci", ProviderType: store.ProviderGitHub, Region: "us-east-1",
		Status: store.StatusAvailable}
	if err := s.CreateConnection(tb.Context(), c, nil, 0); err != nil {
		tb.Fatal(err)
	}
	return c.ID
}

// key is an event's de-duplication key.
func key(e store.Event) string { return e.ConnectionID + "/" + e.DeliveryID }

// TestConcurrentRecordEvent has many callers record at once, redeliveries
// and a bad event among them, while a table lock holds the writers' first
// batches, so that the other callers pile up into large batches: every
// answer is exact.
func TestConcurrentRecordEvent(t *testing.T) {
	dsn := newSchema(t)
	s := mustOpen(t, dsn, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	defer mustClose(t, s)
	conn := mustConnection(t, s)
	var events []store.Event
	for k := range 60 {
		for range 4 {
			events = append(events, newRoutedEvent(conn, fmt.Sprintf("delivery-%02d", k)))
		}
	}
	// Delivery ids are unique per connection only.
	events = append(events, newRoutedEvent(uuid.NewString(), "delivery-00"))
	bad := newRoutedEvent(conn, "bad")
	bad.Headers = []byte("{\"X\":\"\xff\"}")
	events = append(events, bad)

	lock := lockEvents(t, dsn)
	dups, errs := make([]bool, len(events)), make([]error, len(events))
	var wg sync.WaitGroup
	for i := range events {
		wg.Go(func() { dups[i], errs[i] = s.RecordEvent(t.Context(), events[i]) })
	}
	waitLockWaiters(t, lock, postgres.EventWriters)
	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	winners := map[string]int{}
	for i, e := range events {
		switch {
		case e.ID == bad.ID:
			checkAnswer(t, "bad", dups[i], errs[i], isError)
			checkStored(t, s, "bad", e, false)
		case errs[i] != nil:
			t.Errorf("RecordEvent(%s): %v", key(e), errs[i])
		default:
			if !dups[i] {
				winners[key(e)]++
			}
			checkStored(t, s, key(e), e, !dups[i])
		}
	}
	if len(winners) != 62-1 {
		t.Errorf("%d keys recorded, want 61", len(winners))
	}
	for k, n := range winners {
		if n != 1 {
			t.Errorf("%s recorded as new %d times", k, n)
		}
	}
}

// lockEvents locks the events table against inserts until the returned
// transaction ends.
func lockEvents(t *testing.T, dsn string) pgx.Tx {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE events IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitLockWaiters waits until n transactions wait for lock's table.
func waitLockWaiters(t *testing.T, lock pgx.Tx, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := lock.QueryRow(t.Context(),
			"SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers wait for the events table, want %d", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCloseWhileRecording: callers racing Close and their own
// cancellation each get a truthful answer (an event is stored exactly when
// its caller was told so), and Close drains the queue.
func TestCloseWhileRecording(t *testing.T) {
	dsn := newSchema(t)
	s := mustOpen(t, dsn, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	conn := mustConnection(t, s)
	events := make([]store.Event, 300)
	for i := range events {
		events[i] = newRoutedEvent(conn, uuid.NewString())
	}
	cancelled, cancel := context.WithCancel(t.Context())
	dups, errs := make([]bool, len(events)), make([]error, len(events))
	answered := make(chan struct{}, len(events))
	var wg sync.WaitGroup
	for i := range events {
		ctx := t.Context()
		if i%2 == 1 {
			ctx = cancelled
		}
		wg.Go(func() {
			dups[i], errs[i] = s.RecordEvent(ctx, events[i])
			answered <- struct{}{}
		})
	}
	for range 20 {
		<-answered
	}
	go cancel()
	mustClose(t, s)
	wg.Wait()
	if _, err := s.RecordEvent(t.Context(), newRoutedEvent(conn, "late")); !errors.Is(err, postgres.ErrClosed) {
		t.Errorf("RecordEvent after Close: %v, want %v", err, postgres.ErrClosed)
	}
	mustClose(t, s) // a second Close is harmless

	reopened := mustOpen(t, dsn, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	defer mustClose(t, reopened)
	var recorded int
	for i, e := range events {
		switch {
		case errs[i] == nil && !dups[i]:
			recorded++
			checkStored(t, reopened, e.DeliveryID, e, true)
		case errors.Is(errs[i], postgres.ErrClosed) || errors.Is(errs[i], context.Canceled):
			checkStored(t, reopened, e.DeliveryID, e, false)
		default:
			t.Errorf("RecordEvent(%s) = %v, %v", e.DeliveryID, dups[i], errs[i])
		}
	}
	if recorded < 20 {
		t.Errorf("%d events recorded, want at least the 20 answered before Close", recorded)
	}
}
