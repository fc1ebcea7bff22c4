package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/postgres"
	"github.com/forgelink/forgelink/store/storetest"
)

// defaultDSN is the PostgreSQL that development and CI machines run
// (.ci/run starts it); FORGELINK_TEST_POSTGRES_DSN names another.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func serverDSN() string {
	if dsn := os.Getenv("FORGELINK_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// newSchema creates an empty schema, dropped when tb ends, and returns a
// DSN whose connections work in it. Without a server the test fails in CI
// and is skipped elsewhere.
func newSchema(tb testing.TB) string {
	tb.Helper()
	dsn := serverDSN()
	admin, err := pgx.Connect(tb.Context(), dsn)
	if err != nil {
		testenv.Missing(tb, fmt.Sprintf("PostgreSQL not reachable (%v)", err),
			"start it on 127.0.0.1:5432 with a database test, or set FORGELINK_TEST_POSTGRES_DSN")
	}
	defer admin.Close(tb.Context())
	b := make([]byte, 8)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.Exec(tb.Context(), "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		// t.Context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(tb, dsn, schema)
}

// withSearchPath adds search_path to a URL or key=value DSN.
func withSearchPath(tb testing.TB, dsn, schema string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("FORGELINK_TEST_POSTGRES_DSN does not parse as a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func mustOpen(tb testing.TB, dsn string, log *zap.Logger) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), dsn, log)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func mustClose(tb testing.TB, s *postgres.Store) {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Errorf("Close: %v", err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return mustOpen(t, newSchema(t), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	})
}

// migrationCount is the number of migration files, which Open applies to
// an empty schema.
func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestConcurrentOpen: replicas starting together on an empty schema apply
// each migration once, and all of them open.
func TestConcurrentOpen(t *testing.T) {
	dsn := newSchema(t)
	const replicas = 4
	core, logs := observer.New(zap.InfoLevel)
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn, zap.New(core)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer mustClose(t, stores[i])
	}
	var versions []int64
	for _, e := range logs.FilterMessage("applied schema migration").All() {
		versions = append(versions, e.ContextMap()["version"].(int64))
	}
	slices.Sort(versions)
	want := make([]int64, migrationCount(t))
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("migrations applied %v, want each of %v once", versions, want)
	}
	for i, s := range stores {
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping %d: %v", i, err)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := newSchema(t)
	mustClose(t, mustOpen(t, dsn, zaptest.NewLogger(t)))
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", migrationCount(t)+1); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), dsn, zaptest.NewLogger(t))
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		if err == nil {
			mustClose(t, s)
		}
		t.Fatalf("Open on a newer schema: %v, want %v", err, postgres.ErrSchemaTooNew)
	}
}

func TestOpenErrorsHideTheDSN(t *testing.T) {
	for _, dsn := range []string{
		"postgres://forgelink:s3cret-pw@127.0.0.1:1/none?sslmode=disable&connect_timeout=1",
		"host=127.0.0.1 port=1 user=forgelink password=s3cret-pw connect_timeout=1",
		"postgres://forgelink:s3cret-pw@[::1", // does not parse
	} {
		_, err := postgres.Open(t.Context(), dsn, zap.NewNop())
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("Open error reveals the password: %v", err)
		}
	}
}

// replicaFixture is two stores, as two daemons, on one schema.
type replicaFixture struct {
	stores [2]*postgres.Store
	conn   string
}

func newReplicas(t *testing.T) *replicaFixture {
	dsn := newSchema(t)
	f := &replicaFixture{}
	for i := range f.stores {
		f.stores[i] = mustOpen(t, dsn, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
		t.Cleanup(func() { mustClose(t, f.stores[i]) })
	}
	c := store.Connection{ID: uuid.NewString(), Name: "ci", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := f.stores[0].CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	f.conn = c.ID
	return f
}

var received = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// push records one event routed to pipeline in mode, n times over, and
// returns the deliveries' ids.
func (f *replicaFixture) push(tb testing.TB, s *postgres.Store, pipeline, mode, branch string, n int) []string {
	tb.Helper()
	e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: f.conn, Provider: store.ProviderGitHub,
		DeliveryID: uuid.NewString(), Kind: "push", RawKind: "push", Repository: "octo/api", ReceivedAt: received,
		Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: []byte(`{}`), Routed: true}
	var ids []string
	for range n {
		d := store.Delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: e.ID, ConnectionID: f.conn, Pipeline: pipeline,
			Target: "ci", Mode: mode, Branch: branch, Message: []byte(`{}`)}
		e.Deliveries = append(e.Deliveries, d)
		ids = append(ids, d.ID)
	}
	if dup, err := s.RecordEvent(tb.Context(), e); err != nil || dup {
		tb.Errorf("RecordEvent = %v, %v", dup, err) // Errorf: the producer of TestReplicasClaim is not the test goroutine
	}
	return ids
}

// inFlight tracks what the workers of TestReplicasClaim hold, and fails
// the test when a claim breaks a rule.
type inFlight struct {
	t      *testing.T
	mu     sync.Mutex
	leased map[string]string // delivery → the worker that leased it
	held   map[string]string // ordered pipeline → the delivery in flight
	last   map[string]string // ordered pipeline → the last delivery leased
}

func (f *inFlight) claimed(worker string, d store.Delivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.leased[d.ID]; ok {
		f.t.Errorf("delivery %s leased by %s and %s", d.ID, prev, worker)
	}
	f.leased[d.ID] = worker
	if d.Mode == "PARALLEL" {
		return
	}
	if other, ok := f.held[d.Pipeline]; ok {
		f.t.Errorf("%s pipeline %s: %s leased while %s is in flight", d.Mode, d.Pipeline, d.ID, other)
	}
	if d.ID < f.last[d.Pipeline] {
		f.t.Errorf("%s pipeline %s: %s leased after the newer %s", d.Mode, d.Pipeline, d.ID, f.last[d.Pipeline])
	}
	f.held[d.Pipeline], f.last[d.Pipeline] = d.ID, d.ID
}

// done is called before the attempt is completed in the store: the next
// delivery of the pipeline cannot be claimed before that commits.
func (f *inFlight) done(ds []store.Delivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range ds {
		if d.Mode != "PARALLEL" {
			delete(f.held, d.Pipeline)
		}
	}
}

// TestReplicasClaim has two stores on one schema claim concurrently while
// events keep arriving: no delivery is leased twice, and the QUEUED and
// SUPERSEDED pipelines never have two deliveries in flight nor go back in
// order.
func TestReplicasClaim(t *testing.T) {
	f := newReplicas(t)
	var all []string
	all = append(all, f.push(t, f.stores[0], "fanout", "PARALLEL", "main", 300)...)
	queued := f.push(t, f.stores[1], "queue", "QUEUED", "main", 10)

	flight := &inFlight{t: t, leased: map[string]string{}, held: map[string]string{}, last: map[string]string{}}
	stop := make(chan struct{})
	var producer sync.WaitGroup
	producer.Go(func() {
		for i := range 20 {
			s := f.stores[i%2]
			queued = append(queued, f.push(t, s, "queue", "QUEUED", "main", 1)...)
			f.push(t, s, "deploy", "SUPERSEDED", "main", 1)
		}
	})
	var workers sync.WaitGroup
	for w := range 4 {
		s, name := f.stores[w%2], fmt.Sprintf("worker-%d", w)
		workers.Go(func() {
			// Each batch stays in flight while the worker claims again,
			// so that the other workers claim while it holds it.
			var held []store.Delivery
			for {
				ds, err := s.ClaimDeliveries(t.Context(), store.ClaimRequest{Owner: name, Now: received.Add(time.Hour),
					Lease: time.Hour, Limits: map[string]int{"ci": 7}})
				if err != nil {
					t.Errorf("%s: ClaimDeliveries: %v", name, err)
					return
				}
				for _, d := range ds {
					flight.claimed(name, d)
				}
				flight.done(held)
				if err := s.CompleteAttempts(t.Context(), succeeded(name, held)); err != nil {
					t.Errorf("%s: CompleteAttempts: %v", name, err)
					return
				}
				held = ds
				select {
				case <-stop:
					if len(held) == 0 {
						return
					}
				default:
				}
			}
		})
	}
	producer.Wait()
	waitSettled(t, f.stores[0])
	close(stop)
	workers.Wait()

	for _, id := range slices.Concat(all, queued) {
		if d, _, err := f.stores[0].GetDelivery(t.Context(), id); err != nil || d.State != store.DeliverySucceeded || d.Attempts != 1 {
			t.Errorf("delivery %s: %+v, %v; want succeeded after one attempt", id, d, err)
		}
	}
	// The newest deploy went out; the older ones went out or were
	// superseded.
	deploys, err := f.stores[0].ListDeliveries(t.Context(), store.DeliveryFilter{Pipeline: "deploy"}, store.Page{})
	if err != nil || len(deploys) != 20 {
		t.Fatalf("ListDeliveries(deploy) = %d, %v", len(deploys), err)
	}
	if last := deploys[len(deploys)-1]; last.State != store.DeliverySucceeded {
		t.Errorf("newest deploy is %s, want succeeded", last.State)
	}
	for _, d := range deploys {
		if d.State != store.DeliverySucceeded && d.State != store.DeliverySuperseded {
			t.Errorf("deploy %s is %s", d.ID, d.State)
		}
	}
}

func succeeded(owner string, ds []store.Delivery) []store.AttemptResult {
	var results []store.AttemptResult
	for _, d := range ds {
		results = append(results, store.AttemptResult{Attempt: store.Attempt{DeliveryID: d.ID, N: d.Attempts,
			StartedAt: received, Outcome: "succeeded"}, LeaseOwner: owner, State: store.DeliverySucceeded})
	}
	return results
}

// waitSettled waits until no delivery is pending or leased.
func waitSettled(t *testing.T, s *postgres.Store) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := s.DeliveryStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == 0 && st.Leased == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries still open: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkRecordEvent records events with one delivery each, from
// concurrent callers (as the ingress does).
func BenchmarkRecordEvent(b *testing.B) {
	s := mustOpen(b, newSchema(b), zap.NewNop())
	defer mustClose(b, s)
	c := store.Connection{ID: uuid.NewString(), Name: "bench", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := s.CreateConnection(b.Context(), c, nil, 0); err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"ref":"refs/heads/main","commits":[` + strings.Repeat(`{"id":"0123456789abcdef0123456789abcdef01234567"},`, 40) + `{}]}`)
	b.SetBytes(int64(len(body)))
	b.SetParallelism(4) // webhooks arrive concurrently, and their events share batches
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: c.ID, Provider: store.ProviderGitHub,
				DeliveryID: uuid.NewString(), Kind: "push", RawKind: "push", Repository: "octo/api", ReceivedAt: received,
				Headers: []byte(`{"X-GitHub-Event":"push"}`), Body: body, Normalized: []byte(`{"kind":"push"}`), Routed: true}
			e.Deliveries = []store.Delivery{{ID: uuid.Must(uuid.NewV7()).String(), EventID: e.ID, ConnectionID: c.ID,
				Pipeline: "build", Target: "ci", Mode: "PARALLEL", Branch: "main", Message: body}}
			if _, err := s.RecordEvent(b.Context(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClaimComplete claims and completes deliveries 32 at a time, as
// the delivery engine does with a backlog; one op is one delivery.
func BenchmarkClaimComplete(b *testing.B) {
	f := &replicaFixture{}
	dsn := newSchema(b)
	s := mustOpen(b, dsn, zap.NewNop())
	defer mustClose(b, s)
	c := store.Connection{ID: uuid.NewString(), Name: "bench", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := s.CreateConnection(b.Context(), c, nil, 0); err != nil {
		b.Fatal(err)
	}
	f.conn = c.ID
	for left := b.N; left > 0; left -= 100 {
		f.push(b, s, "build", "PARALLEL", "main", min(left, 100))
	}
	b.ResetTimer()
	for done := 0; done < b.N; {
		ds, err := s.ClaimDeliveries(b.Context(), store.ClaimRequest{Owner: "bench", Now: received.Add(time.Hour),
			Lease: time.Hour, Limits: map[string]int{"ci": 32}})
		if err != nil {
			b.Fatal(err)
		}
		if len(ds) == 0 {
			b.Fatalf("nothing to claim after %d of %d", done, b.N)
		}
		if err := s.CompleteAttempts(b.Context(), succeeded("bench", ds)); err != nil {
			b.Fatal(err)
		}
		done += len(ds)
	}
}
