package console

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// memStore is an in-memory Store: listings in id order as the real stores
// list, nonces single-use with expiry.
type memStore struct {
	mu          sync.Mutex
	connections []store.Connection
	hosts       []store.Host
	events      []store.Event
	deliveries  []store.Delivery
	attempts    map[string][]store.Attempt // by delivery id
	secrets     map[string][]store.WebhookSecret
	hooks       map[string][]store.RegisteredHook
	nonces      map[string]memNonce
	eventPages  int // ListEvents calls, to see how much recent reads
}

type memNonce struct {
	purpose string
	expires time.Time
}

func newMemStore() *memStore {
	return &memStore{nonces: map[string]memNonce{}, attempts: map[string][]store.Attempt{},
		secrets: map[string][]store.WebhookSecret{}, hooks: map[string][]store.RegisteredHook{}}
}

// page returns the records past p.After in id order (descending with
// p.Descending, where "" starts at the newest), at most p.Limit.
func page[T any](all []T, id func(T) string, p store.Page) []T {
	sorted := slices.SortedFunc(slices.Values(all), func(a, b T) int { return cmp.Compare(id(a), id(b)) })
	past := func(r T) bool { return id(r) > p.After }
	if p.Descending {
		slices.Reverse(sorted)
		past = func(r T) bool { return p.After == "" || id(r) < p.After }
	}
	var out []T
	for _, r := range sorted {
		if past(r) && (p.Limit == 0 || len(out) < p.Limit) {
			out = append(out, r)
		}
	}
	return out
}

func (m *memStore) ListConnections(_ context.Context, _ store.ConnectionFilter, p store.Page) ([]store.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return page(m.connections, func(c store.Connection) string { return c.ID }, p), nil
}

func (m *memStore) ListHosts(_ context.Context, _ store.HostFilter, p store.Page) ([]store.Host, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return page(m.hosts, func(h store.Host) string { return h.ID }, p), nil
}

func (m *memStore) ListEvents(_ context.Context, f store.EventFilter, p store.Page) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eventPages++
	return page(slices.DeleteFunc(slices.Clone(m.events), func(e store.Event) bool {
		return f.ConnectionID != "" && e.ConnectionID != f.ConnectionID
	}), func(e store.Event) string { return e.ID }, p), nil
}

func (m *memStore) ListDeliveries(_ context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return page(slices.DeleteFunc(slices.Clone(m.deliveries), func(d store.Delivery) bool {
		return (f.Pipeline != "" && d.Pipeline != f.Pipeline) || (f.State != "" && d.State != f.State) || (f.EventID != "" && d.EventID != f.EventID)
	}), func(d store.Delivery) string { return d.ID }, p), nil
}

func (m *memStore) CreateNonce(_ context.Context, id, purpose string, expiresAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.nonces[id]; ok {
		return store.ErrAlreadyExists
	}
	m.nonces[id] = memNonce{purpose: purpose, expires: expiresAt}
	return nil
}

func (m *memStore) ConsumeNonce(_ context.Context, id, purpose string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nonces[id]
	if !ok || n.purpose != purpose || !now.Before(n.expires) {
		return store.ErrNotFound
	}
	delete(m.nonces, id)
	return nil
}

func (m *memStore) GetConnection(_ context.Context, id string) (store.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.connections {
		if c.ID == id {
			return c, nil
		}
	}
	return store.Connection{}, store.ErrNotFound
}

func (m *memStore) GetHost(_ context.Context, id string) (store.Host, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.hosts {
		if h.ID == id {
			return h, nil
		}
	}
	return store.Host{}, store.ErrNotFound
}

func (m *memStore) GetEvent(_ context.Context, id string) (store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		if e.ID == id {
			return e, nil
		}
	}
	return store.Event{}, store.ErrNotFound
}

func (m *memStore) GetDelivery(_ context.Context, id string) (store.Delivery, []store.Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.deliveries {
		if d.ID == id {
			return d, m.attempts[id], nil
		}
	}
	return store.Delivery{}, nil, store.ErrNotFound
}

// Redeliver and Discard allow the states the real stores allow.
func (m *memStore) Redeliver(_ context.Context, id string) error {
	return m.transition(id, store.DeliveryPending, redeliverable)
}

func (m *memStore) Discard(_ context.Context, id string) error {
	return m.transition(id, store.DeliveryDiscarded, discardable)
}

func (m *memStore) transition(id, to string, from func(string) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, d := range m.deliveries {
		if d.ID != id {
			continue
		}
		if !from(d.State) {
			return store.ErrUnavailable
		}
		m.deliveries[i].State = to
		return nil
	}
	return store.ErrNotFound
}

func (m *memStore) delivery(id string) store.Delivery {
	d, _, _ := m.GetDelivery(context.Background(), id)
	return d
}

func (m *memStore) WebhookSecrets(_ context.Context, connID string, _ time.Time) ([]store.WebhookSecret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.secrets[connID], nil
}

func (m *memStore) RegisteredHooks(_ context.Context, connID string) ([]store.RegisteredHook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hooks[connID], nil
}

func (m *memStore) addConnection(c store.Connection) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.connections = append(m.connections, c)
}

func (m *memStore) setStatus(id, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.connections {
		if m.connections[i].ID == id {
			m.connections[i].Status, m.connections[i].StatusReason = status, ""
		}
	}
}

// fakeSetup answers set-up URLs under base, or err.
type fakeSetup struct {
	mu      sync.Mutex
	base    string
	err     error
	calls   []string
	callers []string // policy.CallerOf of each call
}

func (f *fakeSetup) ConnectionSetupURL(ctx context.Context, id string) (string, error) {
	return f.answer(ctx, "connection/"+id)
}

func (f *fakeSetup) HostSetupURL(ctx context.Context, id string) (string, error) {
	return f.answer(ctx, "host/"+id)
}

// lastCaller is the access key the last set-up link was made for.
func (f *fakeSetup) lastCaller() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.callers) == 0 {
		return ""
	}
	return f.callers[len(f.callers)-1]
}

func (f *fakeSetup) answer(ctx context.Context, what string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, what)
	caller, _ := policy.CallerOf(ctx)
	f.callers = append(f.callers, caller)
	if f.err != nil {
		return "", f.err
	}
	return f.base + "/install?state=" + what, nil
}

func (f *fakeSetup) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func testKeyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{7}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// uuidv7At is a UUIDv7 made at t, seq telling apart those of one
// millisecond.
func uuidv7At(t time.Time, seq int) string {
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-7%03x-8000-%012x", ms>>16, ms&0xffff, seq&0xfff, seq)
}
