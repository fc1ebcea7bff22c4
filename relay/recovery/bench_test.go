package recovery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/relay/recovery"
	"github.com/forgelink/forgelink/store"
)

// memStore keeps recovery's records in maps, so that the benchmark
// measures the round and the provider calls (the stores' queries are
// indexed lookups, measured with the stores).
type memStore struct {
	mu       sync.Mutex
	hooks    map[string]store.RecoveryHook
	recorded map[string]bool
	asked    map[string]int
	heads    map[string]store.RecoveryHead
}

func newMemStore() *memStore {
	return &memStore{hooks: map[string]store.RecoveryHook{}, recorded: map[string]bool{}, asked: map[string]int{}, heads: map[string]store.RecoveryHead{}}
}

func (m *memStore) GetRecoveryHook(_ context.Context, key string) (store.RecoveryHook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hooks[key]
	if !ok {
		return h, store.ErrNotFound
	}
	return h, nil
}

func (m *memStore) PutRecoveryHook(_ context.Context, h store.RecoveryHook) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks[h.Key] = h
	return nil
}

func (m *memStore) RecordedDeliveries(_ context.Context, _, guids []string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	for _, g := range guids {
		if m.recorded[g] {
			out[g] = true
		}
	}
	return out, nil
}

func (m *memStore) Redeliveries(_ context.Context, key string, guids []string) (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, g := range guids {
		if n := m.asked[key+" "+g]; n > 0 {
			out[g] = n
		}
	}
	return out, nil
}

func (m *memStore) AddRedelivery(_ context.Context, key, guid string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked[key+" "+guid]++
	return nil
}

func (m *memStore) GetRecoveryHead(_ context.Context, c, r, ref string) (store.RecoveryHead, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.heads[c+" "+r+" "+ref]
	if !ok {
		return h, store.ErrNotFound
	}
	return h, nil
}

func (m *memStore) PutRecoveryHead(_ context.Context, h store.RecoveryHead) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.heads[h.ConnectionID+" "+h.Repository+" "+h.Ref] = h
	return nil
}

func (m *memStore) ListEvents(context.Context, store.EventFilter, store.Page) ([]store.Event, error) {
	return nil, nil
}

// BenchmarkRound is a round over 1,000 repository hooks with 100
// deliveries each in GitHub's log, one of them per hook never recorded by
// forgelink: 1,000 listings (one page of 100 each) and 1,000
// redeliveries, against the fake GitHub over loopback HTTP. The pause of
// a second between redeliveries is counted, not slept.
func BenchmarkRound(b *testing.B) {
	const hooks, perHook = 1000, 100
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	b.Cleanup(receiver.Close)
	var paused time.Duration
	for range b.N {
		b.StopTimer()
		srv, st, source := benchGitHub(b, receiver.URL, hooks, perHook)
		paused = 0
		r := recovery.New(recovery.Options{Store: st, Source: source, Now: time.Now,
			Sleep: func(_ context.Context, d time.Duration) error { paused += d; return nil }})
		b.StartTimer()
		stats := r.Round(context.Background())
		b.StopTimer()
		if stats.Listed != hooks*perHook || stats.Redelivered != hooks || stats.Failed != 0 {
			b.Fatalf("round %+v", stats)
		}
		b.ReportMetric(float64(len(srv.Requests())), "api-calls/op")
		b.StartTimer()
	}
	b.ReportMetric(paused.Seconds(), "paced-s/op")
}

// benchGitHub is a fake GitHub with hooks repository hooks of perHook
// deliveries each, all recorded by forgelink but one per hook.
func benchGitHub(b *testing.B, receiverURL string, hooks, perHook int) (*githubtest.Server, *memStore, *fakeSource) {
	srv := githubtest.New(b, githubtest.Options{})
	srv.AddToken("ghp_bench", githubtest.Admin)
	now := time.Now()
	st := newMemStore()
	source := &fakeSource{}
	for i := range hooks {
		repo := fmt.Sprintf("octo/r%04d", i)
		h := srv.AddHook(repo, githubtest.Hook{Name: "web", Active: true, URL: receiverURL, Secret: "s"})
		for j := range perHook {
			d := srv.AddDelivery(repo, h.ID, githubtest.Delivery{Status: "OK", StatusCode: 202, Event: "push",
				DeliveredAt: now.Add(-time.Duration(perHook-j) * time.Minute)}, []byte(`{}`))
			if j != perHook/2 {
				st.recorded[d.GUID] = true
			}
		}
		log, err := github.NewRepoDeliveryLog(nil, srv.APIURL, providers.Token{Value: "ghp_bench"}, repo, fmt.Sprint(h.ID), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		source.hooks = append(source.hooks, recovery.Hook{Key: "repo:c:" + repo, Provider: store.ProviderGitHub,
			ConnectionIDs: []string{"c"}, Retention: 72 * time.Hour, Log: log})
	}
	return srv, st, source
}
