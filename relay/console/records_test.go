package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// fakeExplainer triggers every pipeline it is asked about, named after the
// connection.
type fakeExplainer struct{}

func (fakeExplainer) Explain(connID string, ev *providers.Event) []route.PipelineVerdict {
	return []route.PipelineVerdict{{Pipeline: "build-" + ev.Repository.FullName, Target: "ci", Triggered: true,
		Subjects: []route.SubjectVerdict{{Subject: "branch main", Triggered: true, Filters: []route.FilterVerdict{{Filter: "push[0]", Matched: true,
			Criteria: []route.CriterionVerdict{{Criterion: "branches", Value: "main", Matched: true, Decision: "included by main"}}}}}}}}
}

// records is a fixture of two connections, A and B, each with an event
// and a dead delivery with one attempt; scopedKey may do everything on A
// except reveal its webhook secret, and nothing on B.
type records struct {
	*fixture
	a, b         string // connection ids
	eventA       string
	eventB       string
	deliveryA    string
	deliveryB    string
	woken        int
	audit        *observer.ObservedLogs
	logs         *observer.ObservedLogs
	scopedCookie *http.Cookie
}

const testWebhookSecret = "whsec-console-test-0123456789"

func newRecords(t *testing.T, extra ...string) *records {
	t.Helper()
	rec := &records{}
	auditCore, audit := observer.New(zap.InfoLevel)
	logCore, logs := observer.New(zap.DebugLevel)
	rec.audit, rec.logs = audit, logs
	rec.fixture = newFixture(t, func(o *Options) {
		o.Credentials = func(id string) (string, bool) { return testSecret, id == testKeyID || id == scopedKey }
		o.Pipelines = fakeExplainer{}
		o.DeliveriesChanged = func() { rec.woken++ }
		o.Audit = zap.New(auditCore)
		o.Log = zap.New(logCore)
	})
	now := rec.clock.Now()
	rec.a, rec.b = uuidv7At(now, 1), uuidv7At(now, 2)
	arnA := "arn:aws:codeconnections:us-east-1:" + testAccount + ":connection/" + rec.a
	rec.c.opts.Authorizer = policy.NewAuthorizer(testKeyID, map[string]policy.Policy{scopedKey: {Statements: []policy.Statement{{
		Effect: policy.Allow,
		Actions: append([]string{"codeconnections:GetConnection", "forgelink:ListEvents", "forgelink:ListDeliveries", "forgelink:GetEvent",
			"forgelink:ExplainEvent", "forgelink:GetDelivery", "forgelink:RedeliverDelivery", "forgelink:DiscardDelivery"}, extra...),
		Resources: []string{arnA},
	}}}})
	normalized := `{"kind":"push","repository":{"fullName":"acme/a-repo"}}`
	rec.eventA, rec.eventB = uuidv7At(now, 3), uuidv7At(now, 4)
	rec.deliveryA, rec.deliveryB = uuidv7At(now, 5), uuidv7At(now, 6)
	rec.store.connections = []store.Connection{
		{ID: rec.a, Name: "team-a", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable},
		{ID: rec.b, Name: "team-b", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable},
	}
	rec.store.events = []store.Event{
		{ID: rec.eventA, ConnectionID: rec.a, Repository: "acme/a-repo", Kind: "push", ReceivedAt: now,
			Headers: []byte(`{"X-GitHub-Event":"push"}`), Body: []byte(`{"ref":"refs/heads/main"}`), Normalized: []byte(normalized)},
		{ID: rec.eventB, ConnectionID: rec.b, Repository: "acme/b-repo", Kind: "push", ReceivedAt: now, Normalized: []byte(normalized)},
	}
	exit := 2
	rec.store.deliveries = []store.Delivery{
		{ID: rec.deliveryA, EventID: rec.eventA, ConnectionID: rec.a, Pipeline: "a-pipeline", Target: "ci", State: store.DeliveryDead, CreatedAt: now},
		{ID: rec.deliveryB, EventID: rec.eventB, ConnectionID: rec.b, Pipeline: "b-pipeline", Target: "ci", State: store.DeliveryDead, CreatedAt: now},
	}
	rec.store.attempts[rec.deliveryA] = []store.Attempt{{DeliveryID: rec.deliveryA, N: 1, StartedAt: now, Duration: 1500 * time.Millisecond,
		Outcome: "dead", ExitStatus: &exit, Error: "exit status 2", Output: "compiling\nfatal: no such branch"}}
	rec.store.secrets[rec.a] = []store.WebhookSecret{{Sealed: rec.c.opts.Keyring.Seal([]byte(testWebhookSecret), []byte(rec.a)), CreatedAt: now}}
	rec.store.hooks[rec.a] = []store.RegisteredHook{{ConnectionID: rec.a, Repository: "acme/a-repo", HookID: "77", State: store.HookError,
		LastError: "hook disabled by the provider", Failures: 3}}
	resp := rec.do(http.MethodPost, "/console/login", url.Values{"access_key_id": {scopedKey}, "secret_access_key": {testSecret}}, nil)
	rec.scopedCookie = sessionCookie(t, resp)
	return rec
}

// get fetches a console page as the scoped key.
func (r *records) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp := r.do(http.MethodGet, path, nil, nil, r.scopedCookie)
	return resp.StatusCode, readBody(t, resp)
}

func (r *records) post(t *testing.T, path, csrf string) (int, string) {
	t.Helper()
	resp := r.do(http.MethodPost, path, url.Values{"csrf": {csrf}}, nil, r.scopedCookie)
	return resp.StatusCode, readBody(t, resp)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (r *records) csrf(t *testing.T) string {
	t.Helper()
	_, page := r.get(t, "/console/")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the overview:\n%s", page)
	}
	return m[1]
}

// TestRecordPagesAuthorised: a key scoped to connection A sees A's event,
// explain, delivery and connection pages, with what they hold, and none
// of B's.
func TestRecordPagesAuthorised(t *testing.T) {
	r := newRecords(t)
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/console/events/" + r.eventA, http.StatusOK, []string{"X-GitHub-Event", "refs/heads/main", "acme/a-repo", "/explain", "delivery-" + r.deliveryA}},
		{"/console/events/" + r.eventA + "/explain", http.StatusOK, []string{"build-acme/a-repo", "branch main", "included by main", "triggered"}},
		{"/console/deliveries/" + r.deliveryA, http.StatusOK, []string{"fatal: no such branch", "exit status 2", "<td>2</td>", "1.5s", `id="redeliver"`, `id="discard"`}},
		{"/console/connections/" + r.a, http.StatusOK, []string{"team-a", "acme/a-repo", "hook disabled by the provider", "hook-error"}},
		{"/console/", http.StatusOK, []string{"/console/events/" + r.eventA, "/console/deliveries/" + r.deliveryA, "/console/connections/" + r.a}},
		{"/console/events", http.StatusOK, []string{"event-" + r.eventA}},
		{"/console/deliveries", http.StatusOK, []string{"delivery-" + r.deliveryA}},
		{"/console/events/" + r.eventB, http.StatusNotFound, nil},
		{"/console/events/" + r.eventB + "/explain", http.StatusNotFound, nil},
		{"/console/deliveries/" + r.deliveryB, http.StatusNotFound, nil},
		{"/console/connections/" + r.b, http.StatusNotFound, nil},
		{"/console/events/no-such-event", http.StatusNotFound, nil},
	} {
		status, page := r.get(t, tc.path)
		if status != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, status, tc.status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(page, w) {
				t.Errorf("GET %s: no %q in the page:\n%s", tc.path, w, page)
			}
		}
		for _, leak := range []string{r.eventB, r.deliveryB, "team-b", "acme/b-repo"} {
			if strings.Contains(page, leak) {
				t.Errorf("GET %s shows %q of connection B", tc.path, leak)
			}
		}
	}
	// Without the webhook permission: neither the URL nor the button.
	if _, page := r.get(t, "/console/connections/"+r.a); strings.Contains(page, "/webhooks/") || strings.Contains(page, `id="reveal"`) {
		t.Errorf("the connection page shows the webhook to a key that may not GetConnectionWebhook:\n%s", page)
	}
}

// TestRedeliverAndDiscard: the buttons change the store's delivery only
// with the session's CSRF token and on a connection the key may act on.
func TestRedeliverAndDiscard(t *testing.T) {
	r := newRecords(t)
	csrf := r.csrf(t)
	for _, tc := range []struct {
		name      string
		path      string
		csrf      string
		status    int
		delivery  string
		wantState string
	}{
		{"no CSRF token", "/console/deliveries/" + r.deliveryA + "/redeliver", "", http.StatusForbidden, r.deliveryA, store.DeliveryDead},
		{"wrong CSRF token", "/console/deliveries/" + r.deliveryA + "/discard", strings.Repeat("0", 64), http.StatusForbidden, r.deliveryA, store.DeliveryDead},
		{"other connection", "/console/deliveries/" + r.deliveryB + "/redeliver", csrf, http.StatusNotFound, r.deliveryB, store.DeliveryDead},
		{"other connection discard", "/console/deliveries/" + r.deliveryB + "/discard", csrf, http.StatusNotFound, r.deliveryB, store.DeliveryDead},
		{"redeliver", "/console/deliveries/" + r.deliveryA + "/redeliver", csrf, http.StatusSeeOther, r.deliveryA, store.DeliveryPending},
		{"redeliver a pending one", "/console/deliveries/" + r.deliveryA + "/redeliver", csrf, http.StatusConflict, r.deliveryA, store.DeliveryPending},
		{"discard", "/console/deliveries/" + r.deliveryA + "/discard", csrf, http.StatusSeeOther, r.deliveryA, store.DeliveryDiscarded},
	} {
		status, _ := r.post(t, tc.path, tc.csrf)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.status)
		}
		if got := r.store.delivery(tc.delivery).State; got != tc.wantState {
			t.Errorf("%s: delivery is %s, want %s", tc.name, got, tc.wantState)
		}
	}
	if r.woken != 1 {
		t.Errorf("the delivery engine was woken %d times, want once (by the redelivery)", r.woken)
	}
}

// TestRevealWebhookSecret: the secret shows only on a POST by a key that
// may GetConnectionWebhook, and each reveal is audited without it.
func TestRevealWebhookSecret(t *testing.T) {
	for _, tc := range []struct {
		name    string
		extra   []string
		status  int
		audited int
	}{
		{"without the permission", nil, http.StatusNotFound, 0},
		{"with the permission", []string{"forgelink:GetConnectionWebhook"}, http.StatusOK, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecords(t, tc.extra...)
			if _, page := r.get(t, "/console/connections/"+r.a); strings.Contains(page, testWebhookSecret) {
				t.Fatal("the connection page shows the secret before the click")
			}
			status, page := r.post(t, "/console/connections/"+r.a+"/webhook-secret", r.csrf(t))
			if status != tc.status {
				t.Fatalf("reveal: status %d, want %d:\n%s", status, tc.status, page)
			}
			if shown := strings.Contains(page, testWebhookSecret); shown != (tc.status == http.StatusOK) {
				t.Errorf("secret shown: %v, want %v", shown, !shown)
			}
			if status == http.StatusOK && !strings.Contains(page, "/webhooks/"+r.a+"/") {
				t.Errorf("no webhook URL on the page:\n%s", page)
			}
			entries := r.audit.FilterMessage("console webhook secret revealed").All()
			if len(entries) != tc.audited {
				t.Fatalf("%d audit entries, want %d", len(entries), tc.audited)
			}
			for _, e := range entries {
				f := e.ContextMap()
				if f["access_key_id"] != scopedKey || !strings.HasSuffix(fmt.Sprint(f["connection_arn"]), "connection/"+r.a) {
					t.Errorf("audit entry %v does not name the key and the connection", f)
				}
			}
			for _, e := range append(r.audit.All(), r.logs.All()...) {
				if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), testWebhookSecret) {
					t.Errorf("the secret is in the log: %v", e)
				}
			}
		})
	}
}

// TestListsPageNewestFirst: the events and deliveries lists show the
// newest first, page by an Older link, and filter by connection, pipeline
// and state.
func TestListsPageNewestFirst(t *testing.T) {
	r := newRecords(t)
	now := r.clock.Now()
	for i := range 60 {
		at := now.Add(time.Duration(-i) * time.Minute)
		r.store.events = append(r.store.events, store.Event{ID: uuidv7At(at, 100+i), ConnectionID: r.a, Repository: fmt.Sprintf("acme/r%02d", i), ReceivedAt: at})
		state := store.DeliverySucceeded
		if i%2 == 1 {
			state = store.DeliveryDead
		}
		r.store.deliveries = append(r.store.deliveries, store.Delivery{ID: uuidv7At(at, 200+i), ConnectionID: r.a, Pipeline: "p", State: state, CreatedAt: at})
	}
	older := regexp.MustCompile(`rel="next" href="([^"]+)"`)
	rows := regexp.MustCompile(`<tr id="event-`)
	_, first := r.get(t, "/console/events?connection="+r.a)
	if n := len(rows.FindAllString(first, -1)); n != recentLimit {
		t.Fatalf("first page: %d events, want %d", n, recentLimit)
	}
	if i, j := strings.Index(first, "acme/r00"), strings.Index(first, "acme/r01"); i < 0 || j < i {
		t.Errorf("first page does not start with the newest event")
	}
	m := older.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first page has no Older link")
	}
	_, second := r.get(t, "/console/events"+strings.ReplaceAll(m[1], "&amp;", "&"))
	// 60 and eventA, which is as new as the newest: 11 are left.
	if n := len(rows.FindAllString(second, -1)); n != 11 || !strings.Contains(second, "acme/r59") || strings.Contains(second, "acme/r00") {
		t.Errorf("second page: %d events:\n%s", n, second)
	}
	if older.MatchString(second) {
		t.Errorf("the last page has an Older link")
	}
	_, dead := r.get(t, "/console/deliveries?state=dead&pipeline=p")
	if n := strings.Count(dead, `<tr id="delivery-`); n != 30 || strings.Contains(dead, "state-succeeded") {
		t.Errorf("state filter: %d deliveries, or a succeeded one, in:\n%s", n, dead)
	}
}

// TestReadOnlyKeyGetsNoButtons: a key that may read a delivery but not
// change it sees no buttons, and its posts change nothing.
func TestReadOnlyKeyGetsNoButtons(t *testing.T) {
	r := newRecords(t)
	r.c.opts.Authorizer = policy.NewAuthorizer(testKeyID, map[string]policy.Policy{scopedKey: {Statements: []policy.Statement{{
		Effect:    policy.Allow,
		Actions:   []string{"codeconnections:GetConnection", "forgelink:GetDelivery"},
		Resources: []string{"*"},
	}}}})
	status, page := r.get(t, "/console/deliveries/"+r.deliveryA)
	if status != http.StatusOK || strings.Contains(page, `id="redeliver"`) || strings.Contains(page, `id="discard"`) {
		t.Fatalf("delivery page: status %d, with buttons the key may not use:\n%s", status, page)
	}
	csrf := r.csrf(t)
	for _, action := range []string{"redeliver", "discard"} {
		if status, _ := r.post(t, "/console/deliveries/"+r.deliveryA+"/"+action, csrf); status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", action, status)
		}
	}
	if got := r.store.delivery(r.deliveryA).State; got != store.DeliveryDead {
		t.Errorf("the delivery is %s, want dead still", got)
	}
}
