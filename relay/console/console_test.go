package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

const (
	testKeyID   = "AKIDCONSOLETEST"
	testSecret  = "console-test-s3cret"
	testAccount = "123456789012"
)

type fixture struct {
	c     *Console
	store *memStore
	setup *fakeSetup
	clock *clocktest.Clock
}

func newFixture(t *testing.T, configure ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{
		store: newMemStore(),
		setup: &fakeSetup{base: "https://provider.example"},
		clock: clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
	}
	opts := Options{
		Store:     f.store,
		Keyring:   testKeyring(t),
		Setup:     f.setup,
		PublicURL: "https://forgelink.example",
		AccountID: testAccount,
		Now:       f.clock.Now,
		Credentials: func(id string) (string, bool) {
			return testSecret, id == testKeyID
		},
	}
	for _, c := range configure {
		c(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

// do serves one request; a non-nil form is posted.
func (f *fixture) do(method, target string, form url.Values, header http.Header, cookies ...*http.Cookie) *http.Response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		r.Header[k] = v
	}
	for _, c := range cookies {
		if c != nil {
			r.AddCookie(c)
		}
	}
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	return w.Result()
}

// signIn signs in with the test key pair and returns the session cookie.
func (f *fixture) signIn(t *testing.T) *http.Cookie {
	t.Helper()
	resp := f.do(http.MethodPost, "/console/login", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {testSecret}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: status %d", resp.StatusCode)
	}
	return sessionCookie(t, resp)
}

// overview fetches the overview page and returns its HTML and CSRF token.
func (f *fixture) overview(t *testing.T, ck *http.Cookie) (string, string) {
	t.Helper()
	resp := f.do(http.MethodGet, "/console/", nil, nil, ck)
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("overview: status %d: %s", resp.StatusCode, page)
	}
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("overview has no CSRF token:\n%s", page)
	}
	return page, m[1]
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie set (status %d)", cookieName, resp.StatusCode)
	return nil
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogin(t *testing.T) {
	for _, tc := range []struct {
		name      string
		id        string
		secret    string
		noKeys    bool
		wantOK    bool
		wantInMsg string
	}{
		{name: "good pair", id: testKeyID, secret: testSecret, wantOK: true},
		{name: "wrong secret", id: testKeyID, secret: "nope"},
		{name: "unknown key", id: "AKIDUNKNOWN", secret: testSecret},
		{name: "empty secret", id: testKeyID},
		{name: "empty key id", secret: testSecret},
		{name: "the right secret and more", id: testKeyID, secret: testSecret + "x"},
		{name: "no keys configured", id: testKeyID, secret: testSecret, noKeys: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				if tc.noKeys {
					o.Credentials = nil
				}
			})
			resp := f.do(http.MethodPost, "/console/login", url.Values{"access_key_id": {tc.id}, "secret_access_key": {tc.secret}}, nil)
			page := readBody(t, resp)
			if !tc.wantOK {
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Wrong access key id or secret access key.") {
					t.Fatalf("status %d, page:\n%s", resp.StatusCode, page)
				}
				if len(resp.Cookies()) != 0 {
					t.Errorf("a refused sign-in set cookies %v", resp.Cookies())
				}
				if tc.secret != "" && strings.Contains(page, tc.secret) {
					t.Error("the page repeats the secret")
				}
				return
			}
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
				t.Fatalf("status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			page, _ = f.overview(t, sessionCookie(t, resp))
			if !strings.Contains(page, testKeyID) || !strings.Contains(page, "Log out") {
				t.Errorf("overview does not show who is signed in:\n%s", page)
			}
		})
	}
}

func TestUnauthenticatedRequestsGoToLogin(t *testing.T) {
	f := newFixture(t)
	for _, ck := range []*http.Cookie{
		nil,
		{Name: cookieName, Value: "garbage"},
		{Name: cookieName, Value: strings.Repeat("A", 2000)},
	} {
		resp := f.do(http.MethodGet, "/console/", nil, nil, ck)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
			t.Errorf("cookie %v: status %d, location %q", ck, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp := f.do(http.MethodGet, "/console/login", nil, nil)
	if page := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="secret_access_key"`) {
		t.Errorf("login page: status %d:\n%s", resp.StatusCode, page)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		publicURL  string
		wantSecure bool
		wantPath   string
	}{
		{"https://forgelink.example", true, "/console/"},
		{"http://127.0.0.1:7788", false, "/console/"},
		{"https://gw.example/forgelink/", true, "/forgelink/console/"},
	} {
		t.Run(tc.publicURL, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.PublicURL = tc.publicURL })
			ck := f.signIn(t)
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != tc.wantSecure || ck.Path != tc.wantPath {
				t.Errorf("cookie HttpOnly=%v SameSite=%v Secure=%v Path=%q; want HttpOnly, Lax, Secure=%v, Path=%q",
					ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path, tc.wantSecure, tc.wantPath)
			}
			if ck.MaxAge != int(sessionTTL/time.Second) {
				t.Errorf("MaxAge %d, want %d", ck.MaxAge, int(sessionTTL/time.Second))
			}
			if strings.Contains(ck.Value, testKeyID) || strings.Contains(ck.Value, testSecret) {
				t.Error("the cookie shows the session in clear")
			}
		})
	}
}

func TestSessionExpiresAndEndsWithItsKey(t *testing.T) {
	keys := map[string]string{testKeyID: testSecret}
	f := newFixture(t, func(o *Options) {
		o.Credentials = func(id string) (string, bool) { s, ok := keys[id]; return s, ok }
	})
	ck := f.signIn(t)
	f.clock.Add(sessionTTL - time.Second)
	f.overview(t, ck)
	f.clock.Add(time.Second)
	if resp := f.do(http.MethodGet, "/console/", nil, nil, ck); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("expired session: status %d, want 303 to the login page", resp.StatusCode)
	}

	ck = f.signIn(t)
	delete(keys, testKeyID)
	if resp := f.do(http.MethodGet, "/console/", nil, nil, ck); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("session of a removed key: status %d, want 303 to the login page", resp.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	ck := f.signIn(t)
	_, csrf := f.overview(t, ck)
	resp := f.do(http.MethodPost, "/console/logout", url.Values{"csrf": {csrf}}, nil, ck)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cleared := sessionCookie(t, resp)
	if cleared.MaxAge >= 0 || cleared.Value != "" || cleared.Path != "/console/" {
		t.Errorf("logout cookie %+v does not clear the session", cleared)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	f.store.addConnection(store.Connection{ID: "0190a000-0000-7000-8000-000000000001", Name: "app", ProviderType: store.ProviderGitHub,
		Region: "us-east-1", Status: store.StatusPending})
	ck := f.signIn(t)
	_, csrf := f.overview(t, ck)
	other := f.signIn(t)
	_, otherCSRF := f.overview(t, other)
	action := "/console/connections/0190a000-0000-7000-8000-000000000001/setup"

	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
		cookie *http.Cookie
	}{
		{"no token", url.Values{}, nil, ck},
		{"empty token", url.Values{"csrf": {""}}, nil, ck},
		{"wrong token", url.Values{"csrf": {strings.Repeat("0", len(csrf))}}, nil, ck},
		{"another session's token", url.Values{"csrf": {otherCSRF}}, nil, ck},
		{"token in the query only", nil, nil, ck},
		{"no session", url.Values{"csrf": {csrf}}, nil, nil},
		{"cross-origin Origin", url.Values{"csrf": {csrf}}, http.Header{"Origin": {"https://evil.example"}}, ck},
		{"cross-site fetch", url.Values{"csrf": {csrf}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, ck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := action
			if tc.form == nil {
				target += "?csrf=" + csrf
			}
			resp := f.do(http.MethodPost, target, tc.form, tc.header, tc.cookie)
			if page := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "nothing was done") && !strings.Contains(page, "another site") {
				t.Errorf("status %d, page:\n%s", resp.StatusCode, page)
			}
			if n := f.setup.callCount(); n != 0 {
				t.Errorf("set-up called %d times", n)
			}
		})
	}

	t.Run("valid token, same origin", func(t *testing.T) {
		resp := f.do(http.MethodPost, action, url.Values{"csrf": {csrf}},
			http.Header{"Origin": {"https://forgelink.example"}, "Sec-Fetch-Site": {"same-origin"}}, ck)
		want := "https://provider.example/install?state=connection/0190a000-0000-7000-8000-000000000001"
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("status %d, location %q; want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})
}

func TestSetupOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		target     string
		err        error
		wantStatus int
		wantText   string
	}{
		{"host", "/console/hosts/ghes-1a2b3c4d/setup", nil, http.StatusSeeOther, ""},
		{"unknown connection", "/console/connections/x/setup", fmt.Errorf("lookup: %w", store.ErrNotFound), http.StatusNotFound, "no such connection"},
		{"host not ready", "/console/connections/x/setup", fmt.Errorf("host ghes is PENDING: %w", store.ErrUnavailable), http.StatusConflict, "host ghes is PENDING"},
		{"provider down", "/console/hosts/h/setup", errors.New("dial tcp: refused"), http.StatusBadGateway, "could not start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.setup.err = tc.err
			f.store.addConnection(store.Connection{ID: "x", Name: "x", ProviderType: store.ProviderGitHub, Region: "us-east-1"})
			f.store.hosts = append(f.store.hosts, store.Host{ID: "ghes-1a2b3c4d", Region: "us-east-1"}, store.Host{ID: "h", Region: "us-east-1"})
			ck := f.signIn(t)
			_, csrf := f.overview(t, ck)
			resp := f.do(http.MethodPost, tc.target, url.Values{"csrf": {csrf}}, nil, ck)
			page := readBody(t, resp)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(page, tc.wantText) {
				t.Errorf("status %d, want %d with %q:\n%s", resp.StatusCode, tc.wantStatus, tc.wantText, page)
			}
			if strings.Contains(page, "dial tcp") {
				t.Error("an internal error is shown")
			}
		})
	}
}

func TestLoginLink(t *testing.T) {
	f := newFixture(t)
	ctx := policy.WithCaller(context.Background(), testKeyID)
	link, expires, err := f.c.LoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "https://forgelink.example/console/login/") || !expires.Equal(f.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("link %q expires %v", link, expires)
	}
	path := strings.TrimPrefix(link, "https://forgelink.example")
	token, _, _ := strings.Cut(strings.TrimPrefix(path, "/console/login/"), "?")
	for id := range f.store.nonces {
		if strings.Contains(id, token) {
			t.Error("the store keeps the token itself")
		}
	}

	resp := f.do(http.MethodGet, path, nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("first use: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	page, _ := f.overview(t, sessionCookie(t, resp))
	if !strings.Contains(page, "console-link") {
		t.Error("the overview does not say the session came from a login link")
	}

	replay := f.do(http.MethodGet, path, nil, nil)
	if page := readBody(t, replay); replay.StatusCode != http.StatusForbidden || !strings.Contains(page, "already used") {
		t.Errorf("replay: status %d:\n%s", replay.StatusCode, page)
	}
	if len(replay.Cookies()) != 0 {
		t.Error("a replayed link set a cookie")
	}

	expired, _, err := f.c.LoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(10 * time.Minute)
	resp = f.do(http.MethodGet, strings.TrimPrefix(expired, "https://forgelink.example"), nil, nil)
	if page := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "expired") || len(resp.Cookies()) != 0 {
		t.Errorf("expired link: status %d, cookies %v:\n%s", resp.StatusCode, resp.Cookies(), page)
	}

	for _, bad := range []string{"short", strings.Repeat("A", linkTokenLen+1), strings.Repeat("*", linkTokenLen), strings.Repeat("A", linkTokenLen)} {
		if resp := f.do(http.MethodGet, "/console/login/"+url.PathEscape(bad), nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("token %q: status %d", bad, resp.StatusCode)
		}
	}
}

func TestOverviewRendersRecords(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	hostile := `<script>alert("x")</script>`
	f.store.connections = []store.Connection{
		{ID: uuidv7At(now, 1), Name: "pending-app", ProviderType: store.ProviderGitHub, Region: "eu-west-1", Status: store.StatusPending,
			WebhookSecret: []byte("whsec-must-not-show")},
		{ID: uuidv7At(now, 2), Name: "broken", ProviderType: store.ProviderGitLab, Region: "us-east-1", Status: store.StatusError,
			StatusReason: "the installation was deleted " + hostile},
		{ID: uuidv7At(now, 3), Name: "ok-" + hostile, ProviderType: store.ProviderBitbucket, Region: "us-east-1", Status: store.StatusAvailable},
	}
	f.store.hosts = []store.Host{
		{ID: "ghes-0a1b2c3d", Name: "ghes", ProviderType: store.ProviderGitHubEnterpriseServer, ProviderEndpoint: "https://ghes.example",
			Region: "us-east-1", Status: store.StatusPending, StatusMessage: "waiting for the GitHub App"},
	}
	f.store.events = []store.Event{{ID: uuidv7At(now, 4), ConnectionID: uuidv7At(now, 1), Repository: "acme/" + hostile, Kind: "push",
		Held: true, ReceivedAt: now, Body: []byte("BODY-must-not-show")}}
	f.store.deliveries = []store.Delivery{{ID: uuidv7At(now, 5), Pipeline: "build", Target: "ci", State: store.DeliveryDead, Attempts: 3,
		LastError: "HTTP 500 " + hostile, CreatedAt: now}}

	page, csrf := f.overview(t, f.signIn(t))

	for _, want := range []string{
		`id="connection-` + uuidv7At(now, 1),
		"arn:aws:codeconnections:eu-west-1:123456789012:connection/" + uuidv7At(now, 1),
		`action="/console/connections/` + uuidv7At(now, 1) + `/setup"`,
		`action="/console/connections/` + uuidv7At(now, 2) + `/setup"`,
		`action="/console/hosts/ghes-0a1b2c3d/setup"`,
		"the installation was deleted &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
		"ok-&lt;script&gt;",
		"arn:aws:codeconnections:us-east-1:123456789012:host/ghes-0a1b2c3d",
		"https://ghes.example",
		"waiting for the GitHub App",
		"pending-app", // the event's connection, by name
		"acme/&lt;script&gt;",
		"held",
		"2026-03-01 12:00:00Z",
		"HTTP 500 &lt;script&gt;",
		`value="` + csrf + `"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, banned := range []string{hostile, "<script", "whsec-must-not-show", "BODY-must-not-show", testSecret,
		`action="/console/connections/` + uuidv7At(now, 3) + `/setup"`} {
		if strings.Contains(page, banned) {
			t.Errorf("the page contains %q", banned)
		}
	}
	if n := strings.Count(page, ">Set up</button>"); n != 3 {
		t.Errorf("%d Set up buttons, want 3 (PENDING and ERROR connections, PENDING host)", n)
	}
}

func TestOverviewWithoutSetup(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Setup = nil })
	f.store.addConnection(store.Connection{ID: "c1", Name: "app", Status: store.StatusPending})
	ck := f.signIn(t)
	page, csrf := f.overview(t, ck)
	if strings.Contains(page, "Set up</button>") || !strings.Contains(page, "forgelink connections complete") {
		t.Errorf("without a set-up service the page offers set-up:\n%s", page)
	}
	if resp := f.do(http.MethodPost, "/console/connections/c1/setup", url.Values{"csrf": {csrf}}, nil, ck); resp.StatusCode != http.StatusNotFound {
		t.Errorf("set-up without a service: status %d", resp.StatusCode)
	}
}

func TestOpenConsole(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Open, o.Credentials = true, nil })
	f.store.addConnection(store.Connection{ID: "c1", Name: "app", Status: store.StatusPending})
	resp := f.do(http.MethodGet, "/console/", nil, nil)
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || strings.Contains(page, "Log out") {
		t.Fatalf("status %d:\n%s", resp.StatusCode, page)
	}
	ck := sessionCookie(t, resp)
	if resp := f.do(http.MethodGet, "/console/login", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login page of an open console: status %d", resp.StatusCode)
	}
	_, csrf := f.overview(t, ck)
	if resp := f.do(http.MethodPost, "/console/connections/c1/setup", url.Values{}, nil, ck); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an open console still needs the CSRF token: status %d", resp.StatusCode)
	}
	if resp := f.do(http.MethodPost, "/console/connections/c1/setup", url.Values{"csrf": {csrf}}, nil, ck); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("set-up: status %d", resp.StatusCode)
	}

	// Configuring credentials closes the console to the open sessions.
	closed := newFixture(t, func(o *Options) { o.Keyring = f.c.opts.Keyring })
	if resp := closed.do(http.MethodGet, "/console/", nil, nil, ck); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("open session on a closed console: status %d", resp.StatusCode)
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	f := newFixture(t)
	resp := f.do(http.MethodGet, "/console/static/console.css", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp = f.do(http.MethodGet, "/console/login", nil, nil)
	for h, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	kr := testKeyring(t)
	for _, o := range []Options{
		{Keyring: kr, PublicURL: "https://x.example"},
		{Store: newMemStore(), PublicURL: "https://x.example"},
		{Store: newMemStore(), Keyring: kr, PublicURL: "x.example"},
		{Store: newMemStore(), Keyring: kr, PublicURL: "ftp://x.example"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// FuzzOpenSession: no cookie value crashes the parser or opens as anything
// but a well-formed, unexpired session. (A forged one would need to break
// AES-GCM; the seed is a real session, so mutations of it are tried.)
func FuzzOpenSession(f *testing.F) {
	clock := clocktest.New(time.Unix(1_800_000_000, 0))
	c, err := New(Options{Store: newMemStore(), Keyring: testKeyring(f), PublicURL: "https://x.example", Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	w := httptest.NewRecorder()
	c.startSession(w, kindLink, "AKIDLINK", "AKIDLINK")
	f.Add(w.Result().Cookies()[0].Value)
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, value string) {
		s, ok := c.openSession(value)
		if ok && (s.ID == "" || s.CSRF == "" || s.Expires <= clock.Now().Unix() || len(value) > maxCookie) {
			t.Errorf("cookie %q opened as %+v", value, s)
		}
	})
}
