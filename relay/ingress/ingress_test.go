package ingress

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
)

// fakeProvider signs with X-Test-Signature: hex HMAC-SHA256 of the body,
// and takes the delivery id from X-Test-Delivery. Its parser accepts any
// JSON object with a "repo" field.
type fakeProvider struct{}

func (fakeProvider) Verify(h http.Header, body []byte, secrets [][]byte) error {
	sig, err := hex.DecodeString(h.Get("X-Test-Signature"))
	if err != nil || len(sig) == 0 {
		return providers.ErrMissingSignature
	}
	for _, s := range secrets {
		if hmac.Equal(sig, sign(s, body)) {
			return nil
		}
	}
	return providers.ErrBadSignature
}

func (fakeProvider) DeliveryID(h http.Header) string { return h.Get("X-Test-Delivery") }

func (fakeProvider) Parse(h http.Header, body []byte) (providers.Event, error) {
	var in struct{ Repo *string }
	if err := json.Unmarshal(body, &in); err != nil || in.Repo == nil {
		return providers.Event{}, fmt.Errorf("%w: not a test event", providers.ErrMalformed)
	}
	return providers.Event{Kind: providers.KindPush, RawKind: "test", Repository: providers.Repository{FullName: *in.Repo}}, nil
}

// InstallationID reads {"installation":{"id":N}}.
func (fakeProvider) InstallationID(body []byte) (int64, error) {
	var in struct{ Installation struct{ ID int64 } }
	if err := json.Unmarshal(body, &in); err != nil {
		return 0, fmt.Errorf("%w: %v", providers.ErrMalformed, err)
	}
	return in.Installation.ID, nil
}

func sign(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

type fixture struct {
	h      *Handler
	srv    *httptest.Server
	store  *sqlite.Store
	kr     *keyring.Keyring
	clock  *clocktest.Clock
	conn   store.Connection
	secret []byte
}

func newFixture(t testing.TB, status string) *fixture {
	t.Helper()
	return newFixtureWith(t, status, nil)
}

// newFixtureWith lets a test change the handler's options (limits, store).
func newFixtureWith(t testing.TB, status string, change func(*Options)) *fixture {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	st := sqlitetest.Open(t, sqlite.WithClock(clk.Now))
	kr, _ := keyring.New(bytes.Repeat([]byte{3}, keyring.KeySize))
	f := &fixture{store: st, kr: kr, clock: clk, secret: []byte("s3cr3t")}
	f.conn = f.createConnection(t, status)
	opts := Options{
		Store: st, Keyring: kr, Log: zap.NewNop(), Now: clk.Now, MaxBody: 4096,
		MaxConcurrentPerSource: 1000, // the tests' many concurrent deliveries come from one address
		LimitLoopbackSources:   true, // which is loopback; the limit tests need it counted
		Providers:              map[string]Provider{store.ProviderGitHub: fakeProvider{}},
		GitHubApps:             map[int64][]byte{42: []byte("app-secret")},
		AppProvider:            fakeProvider{},
		ConnectionARN:          func(id string) string { return "arn:test:" + id },
	}
	if change != nil {
		change(&opts)
	}
	f.h = New(opts)
	f.serve(t, f.h)
	return f
}

// serve routes h as the daemon does (cmd/forgelink/serve.go).
func (f *fixture) serve(t testing.TB, h *Handler) {
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{connection}", h)
	mux.Handle("POST /webhooks/{connection}/{token...}", h)
	mux.HandleFunc("POST /webhooks/github-app/{app}", h.ServeGitHubApp)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
}

// url is the webhook URL of connection id.
func (f *fixture) url(id string) string { return f.srv.URL + WebhookPath(f.kr, id) }

func (f *fixture) createConnection(t testing.TB, status string) store.Connection {
	t.Helper()
	return f.createConnectionOf(t, status, store.ProviderGitHub)
}

func (f *fixture) createConnectionOf(t testing.TB, status, providerType string) store.Connection {
	t.Helper()
	c := store.Connection{ID: uuid.NewString(), Name: uuid.NewString()[:8], ProviderType: providerType, Region: "us-east-1", Status: status}
	c.WebhookSecret = f.kr.Seal(f.secret, []byte(c.ID))
	if err := f.store.CreateConnection(context.Background(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	return c
}

type testDelivery struct {
	conn, id, contentType string
	body                  []byte
	secret                []byte      // nil: unsigned
	header                http.Header // set on the request last (a real provider's headers)
}

func (f *fixture) send(t testing.TB, d testDelivery) (int, map[string]string) {
	t.Helper()
	if d.conn == "" {
		d.conn = f.conn.ID
	}
	if d.contentType == "" {
		d.contentType = "application/json"
	}
	req, _ := http.NewRequest(http.MethodPost, f.url(d.conn), bytes.NewReader(d.body))
	req.Header.Set("Content-Type", d.contentType)
	req.Header.Set("X-Test-Delivery", d.id)
	if d.secret != nil {
		req.Header.Set("X-Test-Signature", hex.EncodeToString(sign(d.secret, d.body)))
	}
	for name, values := range d.header {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (f *fixture) events(t testing.TB) []store.Event {
	t.Helper()
	events, err := f.store.ListEvents(context.Background(), store.EventFilter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestRefusalsStoreNothing(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	body := []byte(`{"repo":"acme/app"}`)
	tests := []struct {
		name   string
		d      testDelivery
		status int
	}{
		{"wrong secret", testDelivery{id: "d1", body: body, secret: []byte("nope")}, http.StatusUnauthorized},
		{"unsigned", testDelivery{id: "d1", body: body}, http.StatusUnauthorized},
		{"unknown connection", testDelivery{conn: uuid.NewString(), id: "d1", body: body, secret: f.secret}, http.StatusNotFound},
		{"not a connection id", testDelivery{conn: "..%2f..", id: "d1", body: body, secret: f.secret}, http.StatusNotFound},
		{"too large", testDelivery{id: "d1", body: bytes.Repeat([]byte("x"), 5000), secret: f.secret}, http.StatusRequestEntityTooLarge},
		{"form encoded", testDelivery{id: "d1", body: body, secret: f.secret, contentType: "application/x-www-form-urlencoded"}, http.StatusBadRequest},
		{"not json", testDelivery{id: "d1", body: []byte(`{"repo":`), secret: f.secret}, http.StatusBadRequest},
		{"not UTF-8", testDelivery{id: "d1", body: []byte("{\"repo\":\"acme/\xff\"}"), secret: f.secret}, http.StatusBadRequest},
		{"no delivery id", testDelivery{body: body, secret: f.secret}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := f.send(t, tc.d)
			if status != tc.status || out["error"] == "" {
				t.Fatalf("got %d %v, want %d with an error", status, out, tc.status)
			}
			if strings.Contains(out["error"], string(f.secret)) {
				t.Fatal("error reveals the secret")
			}
		})
	}
	if events := f.events(t); len(events) != 0 {
		t.Fatalf("refused deliveries were stored: %d", len(events))
	}
}

// TestTooLargeChunked covers a body of unannounced length: it is cut off
// at the limit, not read whole.
func TestTooLargeChunked(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := pw.Write(bytes.Repeat([]byte("x"), 1024)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, f.url(f.conn.ID), pr)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestAcceptHoldAndDeduplicate(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	body := []byte(`{"repo":"acme/app","note":"<b>&</b>"}`)
	status, out := f.send(t, testDelivery{id: "d1", body: body, secret: f.secret})
	if status != http.StatusAccepted || out["status"] != "accepted" || out["eventId"] == "" {
		t.Fatalf("first delivery: %d %v", status, out)
	}
	status, out = f.send(t, testDelivery{id: "d1", body: body, secret: f.secret})
	if status != http.StatusOK || out["status"] != "duplicate" {
		t.Fatalf("redelivery: %d %v", status, out)
	}
	pending := f.createConnection(t, store.StatusPending)
	status, out = f.send(t, testDelivery{conn: pending.ID, id: "d1", body: body, secret: f.secret})
	if status != http.StatusAccepted || out["status"] != "held" {
		t.Fatalf("delivery to a PENDING connection: %d %v", status, out)
	}
	events := f.events(t)
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	e, err := f.store.GetEvent(context.Background(), events[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Body, body) || e.Repository != "acme/app" || e.DeliveryID != "d1" || e.Held {
		t.Errorf("stored event %+v", e)
	}
	var headers map[string]string
	if err := json.Unmarshal(e.Headers, &headers); err != nil || headers["Content-Type"] != "application/json" {
		t.Errorf("headers %s: %v", e.Headers, err)
	}
	if !events[1].Held {
		t.Error("event of the PENDING connection is not held")
	}
	if err := f.store.SetConnectionStatus(context.Background(), pending.ID, store.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	if events := f.events(t); events[1].Held {
		t.Error("event still held after the connection became AVAILABLE")
	}
}

func TestSecretRotationOverlap(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	ctx := context.Background()
	newSecret := []byte("new-secret")
	if err := f.store.RotateWebhookSecret(ctx, f.conn.ID, f.kr.Seal(newSecret, []byte(f.conn.ID)), f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"repo":"acme/app"}`)
	for i, tc := range []struct {
		advance time.Duration
		secret  []byte
		status  int
	}{
		{0, newSecret, http.StatusAccepted},
		{0, f.secret, http.StatusAccepted},             // old one, inside the overlap
		{time.Hour, f.secret, http.StatusUnauthorized}, // overlap over
		{0, newSecret, http.StatusAccepted},
	} {
		f.clock.Add(tc.advance)
		if status, out := f.send(t, testDelivery{id: fmt.Sprint("r", i), body: body, secret: tc.secret}); status != tc.status {
			t.Errorf("step %d: %d %v, want %d", i, status, out, tc.status)
		}
	}
}

// TestConcurrentDeliveriesAllRecorded drives the group commit: every
// delivery answered 202 is stored exactly once.
func TestConcurrentDeliveriesAllRecorded(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	const n = 300
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every delivery id is sent twice, concurrently.
			statuses[i], _ = f.send(t, testDelivery{id: fmt.Sprint("c", i/2), body: []byte(`{"repo":"acme/app"}`), secret: f.secret})
		}()
	}
	wg.Wait()
	accepted := 0
	for _, s := range statuses {
		if s == http.StatusAccepted {
			accepted++
		}
	}
	events := f.events(t)
	if accepted != n/2 || len(events) != n/2 {
		t.Fatalf("%d accepted, %d stored; want %d each", accepted, len(events), n/2)
	}
}

func (f *fixture) sendApp(t testing.TB, app, id string, body, secret []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/webhooks/github-app/"+app, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Delivery", id)
	req.Header.Set("X-Test-Signature", hex.EncodeToString(sign(secret, body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestGitHubAppDeliveriesAttributedByInstallation(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	ctx := context.Background()
	other := f.createConnection(t, store.StatusPending)
	unrelated := f.createConnection(t, store.StatusAvailable)
	for _, c := range []struct {
		conn string
		inst int64
	}{{f.conn.ID, 7}, {other.ID, 7}, {unrelated.ID, 8}} {
		if err := f.store.SetGitHubInstallation(ctx, c.conn, store.GitHubInstallation{AppID: 42, InstallationID: c.inst}); err != nil {
			t.Fatal(err)
		}
	}
	body := []byte(`{"repo":"acme/app","installation":{"id":7}}`)
	appSecret := []byte("app-secret")

	if status, _ := f.sendApp(t, "42", "a1", body, []byte("wrong")); status != http.StatusUnauthorized {
		t.Errorf("wrong App secret: %d", status)
	}
	if status, _ := f.sendApp(t, "43", "a1", body, appSecret); status != http.StatusNotFound {
		t.Errorf("unknown App: %d", status)
	}
	if status, _ := f.sendApp(t, "42", "a1", body, f.secret); status != http.StatusUnauthorized {
		t.Errorf("a connection secret must not verify App deliveries: %d", status)
	}
	status, out := f.sendApp(t, "42", "a1", body, appSecret)
	if status != http.StatusAccepted || len(out["events"].([]any)) != 2 {
		t.Fatalf("App delivery: %d %v", status, out)
	}
	byConn := map[string]store.Event{}
	for _, e := range f.events(t) {
		byConn[e.ConnectionID] = e
	}
	if len(byConn) != 2 || byConn[f.conn.ID].Held || !byConn[other.ID].Held {
		t.Fatalf("recorded %+v", byConn)
	}
	if status, out := f.sendApp(t, "42", "a1", body, appSecret); status != http.StatusOK || out["status"] != "duplicate" {
		t.Errorf("App redelivery: %d %v", status, out)
	}
	orphan := []byte(`{"repo":"acme/app","installation":{"id":99}}`)
	if status, out := f.sendApp(t, "42", "a2", orphan, appSecret); status != http.StatusAccepted || out["status"] != outcomeUnattributed {
		t.Errorf("unattributed delivery: %d %v", status, out)
	}
	if n := len(f.events(t)); n != 2 {
		t.Errorf("%d events after all App deliveries, want 2", n)
	}
}
