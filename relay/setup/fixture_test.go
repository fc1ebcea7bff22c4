package setup

import (
	"bytes"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/sqlite/sqlitetest"
)

// fixture is a Service on a real store, served at srv (its PublicURL).
type fixture struct {
	store *sqlite.Store
	kr    *keyring.Keyring
	clock *clocktest.Clock
	svc   *Service
	srv   *httptest.Server

	mu      sync.Mutex
	changed []string
}

// newFixture starts a Service. The clock starts at the real time: OAuth
// token expiries are computed by golang.org/x/oauth2 from time.Now.
func newFixture(t *testing.T, configure ...func(*Options)) *fixture {
	t.Helper()
	clk := clocktest.New(time.Now().UTC())
	st := sqlitetest.Open(t, sqlite.WithClock(clk.Now))
	kr, err := keyring.New(bytes.Repeat([]byte{7}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, kr: kr, clock: clk}
	var handler http.Handler
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(f.srv.Close)
	opts := Options{
		Store: st, Keyring: kr, Log: zap.NewNop(), PublicURL: f.srv.URL + "/", Now: clk.Now,
		Client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ConnectionChanged: func(id string) {
			f.mu.Lock()
			f.changed = append(f.changed, id)
			f.mu.Unlock()
		},
	}
	for _, c := range configure {
		c(&opts)
	}
	f.svc = New(opts)
	handler = f.svc.Handler()
	return f
}

func (f *fixture) changedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changed)
}

// connection creates a PENDING connection with one held event.
func (f *fixture) connection(t *testing.T, providerType, hostID string) store.Connection {
	t.Helper()
	c := store.Connection{ID: uuid.NewString(), Name: uuid.NewString()[:8], ProviderType: providerType, Region: "us-east-1",
		Status: store.StatusPending, HostID: hostID, WebhookSecret: []byte("sealed")}
	if err := f.store.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: c.ID, Provider: providerType, DeliveryID: "held-" + c.ID,
		Kind: "push", RawKind: "push", Repository: "octo-org/app", Held: true, ReceivedAt: f.clock.Now(),
		Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: []byte(`{}`)}
	if _, err := f.store.RecordEvent(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	c.WebhookSecret = nil
	got, err := f.store.GetConnection(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (f *fixture) host(t *testing.T, providerType, endpoint, status string) store.Host {
	t.Helper()
	name := "h" + uuid.NewString()[:6]
	h := store.Host{ID: name + "-0123abcd", Name: name, ProviderType: providerType, ProviderEndpoint: endpoint,
		Region: "us-east-1", Status: status}
	if err := f.store.CreateHost(t.Context(), h, nil, 0); err != nil {
		t.Fatal(err)
	}
	return h
}

// held reports whether the connection's test event is still held.
func (f *fixture) held(t *testing.T, connID string) bool {
	t.Helper()
	events, err := f.store.ListEvents(t.Context(), store.EventFilter{ConnectionID: connID}, store.Page{})
	if err != nil || len(events) != 1 {
		t.Fatalf("events of %s: %v, %v", connID, events, err)
	}
	return events[0].Held
}

func (f *fixture) conn(t *testing.T, id string) store.Connection {
	t.Helper()
	c, err := f.store.GetConnection(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) credential(t *testing.T, connID string) store.Credential {
	t.Helper()
	c, err := f.store.GetConnectionCredential(t.Context(), connID)
	if err != nil {
		t.Fatalf("credential of %s: %v", connID, err)
	}
	return c
}

// snapshot is everything a set-up step may change.
type snapshot struct {
	Conns []store.Connection
	Creds map[string]store.Credential
	Held  map[string]bool
	Hosts []store.Host
	Apps  []store.ProviderApp
}

func (f *fixture) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := t.Context()
	s := snapshot{Creds: map[string]store.Credential{}, Held: map[string]bool{}}
	var err error
	if s.Conns, err = f.store.ListConnections(ctx, store.ConnectionFilter{}, store.Page{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Conns {
		cred, err := f.store.GetConnectionCredential(ctx, c.ID)
		if err == nil {
			s.Creds[c.ID] = cred
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	events, err := f.store.ListEvents(ctx, store.EventFilter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		s.Held[e.ID] = e.Held
	}
	if s.Hosts, err = f.store.ListHosts(ctx, store.HostFilter{}, store.Page{}); err != nil {
		t.Fatal(err)
	}
	if s.Apps, err = f.store.ListProviderApps(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) checkUnchanged(t *testing.T, before snapshot, step string) {
	t.Helper()
	if after := f.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Errorf("%s changed the store:\nbefore %+v\nafter  %+v", step, before, after)
	}
}

// cookies are the test browser's: set-up binds a link to the browser that
// follows it with a cookie per set-up, so one jar serves every test.
var cookies, _ = cookiejar.New(nil)

// browser follows redirects like a browser, across forgelink and the fake
// providers.
var browser = &http.Client{Timeout: 30 * time.Second, Jar: cookies}

// stepper does not follow redirects: tests take each step themselves.
var stepper = &http.Client{Timeout: 30 * time.Second, Jar: cookies,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// stranger is another browser: it holds none of the set-up cookies.
var stranger = &http.Client{Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

var (
	formPending   = regexp.MustCompile(`name="pending" value="([^"]+)"`)
	formCSRF      = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	confirmAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// confirmation is the form of a confirmation page.
type confirmation struct {
	action string
	form   url.Values
}

// confirmationOf reads the confirmation form of a callback's page.
func confirmationOf(t *testing.T, r response) confirmation {
	t.Helper()
	checkPage(t, r, http.StatusOK, "Confirm the account")
	p, c, a := formPending.FindStringSubmatch(r.body), formCSRF.FindStringSubmatch(r.body), confirmAction.FindStringSubmatch(r.body)
	if p == nil || c == nil || a == nil {
		t.Fatalf("no confirmation form:\n%s", r.body)
	}
	return confirmation{action: html.UnescapeString(a[1]), form: url.Values{"pending": {p[1]}, "csrf": {c[1]}}}
}

// complete follows a callback URL and confirms its page.
func complete(t *testing.T, callback string) response {
	t.Helper()
	c := confirmationOf(t, get(t, stepper, callback))
	return postForm(t, stepper, c.action, c.form)
}

type response struct {
	status   int
	body     string
	location string
	url      string // the final URL, after redirects
	header   http.Header
}

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"),
		url: resp.Request.URL.String(), header: resp.Header}
}

func get(t *testing.T, c *http.Client, target string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func postForm(t *testing.T, c *http.Client, target string, form url.Values) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

// checkPage checks that a set-up page answered status and says want.
func checkPage(t *testing.T, r response, status int, want string) {
	t.Helper()
	if r.status != status || !strings.Contains(r.body, want) {
		t.Errorf("page %d, want %d with %q:\n%s", r.status, status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(r.body, "/console/") {
		t.Error("the page does not link back to the console")
	}
}
