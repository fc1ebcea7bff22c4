package setup

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/store"
)

// withGitHub points github.com at the fake and configures app (if any) as
// the App that sets up github.com connections.
func withGitHub(gh *githubtest.Server, apps ...githubtest.App) func(*Options) {
	return func(o *Options) {
		o.Cloud.GitHubWebURL, o.Cloud.GitHubAPIURL = gh.URL, gh.APIURL
		for _, a := range apps {
			o.Cloud.GitHubApps = append(o.Cloud.GitHubApps, appKey(a))
		}
	}
}

func appKey(a githubtest.App) GitHubAppKey {
	return GitHubAppKey{AppID: a.ID, Slug: a.Slug, PrivateKey: a.PrivateKeyPEM(), ClientID: a.ClientID, ClientSecret: a.ClientSecret}
}

// newGitHubFixture starts a fake github.com and a Service whose public
// URL the App's Setup URL names.
func newGitHubFixture(t *testing.T, configure ...func(*Options)) (*fixture, *githubtest.Server, githubtest.App) {
	t.Helper()
	gh := githubtest.New(t, githubtest.Options{})
	var app githubtest.App
	f := newFixture(t, append([]func(*Options){withGitHub(gh), func(o *Options) {
		// The App needs forgelink's URL, which exists only now.
		app = gh.AddApp(githubtest.App{Name: "forgelink-ci", RequestOAuthOnInstall: true,
			CallbackURLs: []string{strings.TrimRight(o.PublicURL, "/") + "/setup/callback/github"}})
		o.Cloud.GitHubApps = []GitHubAppKey{appKey(app)}
	}}, configure...)...)
	return f, gh, app
}

// install follows a connection's set-up link through the fake's
// installation page and returns forgelink's callback URL.
func install(t *testing.T, f *fixture, connID string) string {
	t.Helper()
	return installAs(t, f, t.Context(), connID)
}

// installAs is install with a link made in ctx (policy.WithCaller).
func installAs(t *testing.T, f *fixture, ctx context.Context, connID string) string {
	t.Helper()
	link, err := f.svc.ConnectionSetupURL(ctx, connID)
	if err != nil {
		t.Fatalf("ConnectionSetupURL: %v", err)
	}
	r := get(t, stepper, link)
	if r.status != http.StatusFound {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	r = get(t, stepper, r.location)
	if r.status != http.StatusFound || !strings.HasPrefix(r.location, f.srv.URL+"/setup/callback/github?") {
		t.Fatalf("installation page: %d to %q", r.status, r.location)
	}
	return r.location
}

func installationOf(t *testing.T, callback string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(must(url.Parse(callback)).Query().Get("installation_id"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGitHubInstallCallback(t *testing.T) {
	f, gh, app := newGitHubFixture(t)
	ctx := t.Context()
	conn := f.connection(t, store.ProviderGitHub, "")

	callback := install(t, f, conn.ID)
	instID := installationOf(t, callback)
	r := complete(t, callback)
	checkPage(t, r, http.StatusOK, "Connection AVAILABLE")
	if !strings.Contains(r.body, "octo-org") {
		t.Error("the page does not name the account")
	}
	if c := f.conn(t, conn.ID); c.Status != store.StatusAvailable || f.held(t, conn.ID) {
		t.Errorf("connection %s, held %v; want AVAILABLE, released", c.Status, f.held(t, conn.ID))
	}
	cred := f.credential(t, conn.ID)
	if cred.Kind != store.CredentialGitHubApp || cred.Account != "octo-org" {
		t.Errorf("credential %+v", cred)
	}
	conns, err := f.store.ConnectionsByInstallation(ctx, app.ID, instID)
	if err != nil || len(conns) != 1 || conns[0].ID != conn.ID {
		t.Errorf("installation %d/%d names %v, %v", app.ID, instID, conns, err)
	}
	confirmed := slices.ContainsFunc(gh.Requests(), func(r githubtest.Request) bool {
		return r.Method == http.MethodGet && r.Path == "/app/installations/"+strconv.FormatInt(instID, 10)
	})
	if !confirmed {
		t.Error("the installation was not confirmed with the App's JWT")
	}
	if got := f.changedIDs(); !slices.Equal(got, []string{conn.ID}) {
		t.Errorf("ConnectionChanged %v", got)
	}

	before := f.snapshot(t)
	checkPage(t, get(t, stepper, callback), http.StatusBadRequest, "already used")
	f.checkUnchanged(t, before, "a replayed install callback")
}

func TestGitHubInstallRefusals(t *testing.T) {
	f, gh, app := newGitHubFixture(t)
	conn := f.connection(t, store.ProviderGitHub, "")
	// Each attempt takes a new link: a callback that reaches GitHub spends
	// its state, whatever GitHub answers.
	callback := func(change func(q url.Values)) string {
		u := must(url.Parse(install(t, f, conn.ID)))
		q := u.Query()
		change(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	withInstallation := func(id int64, action string) string {
		return callback(func(q url.Values) {
			q.Set("installation_id", strconv.FormatInt(id, 10))
			q.Set("setup_action", action)
		})
	}
	other := gh.AddApp(githubtest.App{Name: "someone-else"})
	suspended := gh.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "suspended-org", Suspended: true, Users: []string{"octocat"}})
	foreign := gh.AddInstallation(githubtest.Installation{AppID: other.ID, Account: "octo-org", Users: []string{"octocat"}})
	victims := gh.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "victim-org", Users: []string{"victim"}})
	before := f.snapshot(t)

	// An approval request: nothing changes, the link stays usable.
	checkPage(t, get(t, stepper, withInstallation(0, "request")), http.StatusOK, "owner")
	f.checkUnchanged(t, before, "an installation request")

	tests := []struct {
		name    string
		browser *http.Client
		url     string
		status  int
		want    string
	}{
		{"another organisation's installation", stepper, withInstallation(victims.ID, "install"), http.StatusForbidden, "cannot access installation"},
		{"another App's installation", stepper, withInstallation(foreign.ID, "install"), http.StatusForbidden, "cannot access installation"},
		{"suspended", stepper, withInstallation(suspended.ID, "install"), http.StatusBadRequest, "suspended"},
		{"no user authorization", stepper, callback(func(q url.Values) { q.Del("code") }), http.StatusBadRequest, "no user authorization code"},
		{"a used code", stepper, callback(func(q url.Values) { q.Set("code", "0123456789abcdef") }), http.StatusBadRequest, "bad_verification_code"},
		{"another browser", stranger, install(t, f, conn.ID), http.StatusBadRequest, "another browser"},
		{"no installation id", stepper, callback(func(q url.Values) { q.Del("installation_id") }), http.StatusBadRequest, "no valid installation_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkPage(t, get(t, tc.browser, tc.url), tc.status, tc.want)
			f.checkUnchanged(t, before, tc.name)
		})
	}
	if c := f.conn(t, conn.ID); c.Status != store.StatusPending {
		t.Errorf("connection %s after the refusals", c.Status)
	}
	// Every user token the proofs used was revoked.
	for _, tok := range gh.UserTokens() {
		if !tok.Revoked {
			t.Errorf("user token of %s not revoked", tok.User)
		}
	}
}

// TestGitHubConfirmation: a proven installation is shown, and only the
// confirmation, from the browser that followed the link, completes it.
func TestGitHubConfirmation(t *testing.T) {
	f, _, _ := newGitHubFixture(t)
	conn := f.connection(t, store.ProviderGitHub, "")
	before := f.snapshot(t)
	page := get(t, stepper, install(t, f, conn.ID))
	c := confirmationOf(t, page)
	if !strings.Contains(page.body, "octo-org") || !strings.Contains(page.body, conn.Name) {
		t.Errorf("the confirmation page does not name the account and the connection:\n%s", page.body)
	}
	f.checkUnchanged(t, before, "the callback before confirmation")

	forged := url.Values{"pending": c.form["pending"], "csrf": {"not-the-token"}}
	tampered := url.Values{"pending": {c.form.Get("pending")[:40] + "AAAA" + c.form.Get("pending")[44:]}, "csrf": c.form["csrf"]}
	for _, tc := range []struct {
		name    string
		browser *http.Client
		form    url.Values
		want    string
	}{
		{"another browser", stranger, c.form, "another browser"},
		{"a wrong CSRF token", stepper, forged, "not valid"},
		{"a tampered pending set-up", stepper, tampered, "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkPage(t, postForm(t, tc.browser, c.action, tc.form), http.StatusBadRequest, tc.want)
			f.checkUnchanged(t, before, tc.name)
		})
	}
	// A form another site posts (the browser says so) is refused before
	// anything is read.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.action, strings.NewReader(c.form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := do(t, stepper, req); r.status != http.StatusForbidden {
		t.Errorf("a cross-site confirmation: %d", r.status)
	}
	f.checkUnchanged(t, before, "a cross-site confirmation")

	checkPage(t, postForm(t, stepper, c.action, c.form), http.StatusOK, "Connection AVAILABLE")
	if got := f.conn(t, conn.ID); got.Status != store.StatusAvailable {
		t.Errorf("connection %s after the confirmation", got.Status)
	}
	after := f.snapshot(t)
	checkPage(t, postForm(t, stepper, c.action, c.form), http.StatusBadRequest, "already used")
	f.checkUnchanged(t, after, "a replayed confirmation")
}

// TestGitHubOneInstallationOneConnection: an installation that completes
// a connection is refused to another, unless sharing is allowed; the same
// connection may be set up with it again.
func TestGitHubOneInstallationOneConnection(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			f, _, _ := newGitHubFixture(t, func(o *Options) { o.AllowSharedInstallations = shared })
			first, second := f.connection(t, store.ProviderGitHub, ""), f.connection(t, store.ProviderGitHub, "")
			checkPage(t, complete(t, install(t, f, first.ID)), http.StatusOK, "Connection AVAILABLE")
			checkPage(t, complete(t, install(t, f, first.ID)), http.StatusOK, "Connection AVAILABLE")

			before := f.snapshot(t)
			r := get(t, stepper, install(t, f, second.ID))
			if shared {
				checkPage(t, postForm(t, stepper, confirmationOf(t, r).action, confirmationOf(t, r).form), http.StatusOK, "Connection AVAILABLE")
				return
			}
			checkPage(t, r, http.StatusConflict, "already completes the connection "+first.Name)
			f.checkUnchanged(t, before, "a second connection with the installation")
		})
	}
}

// TestGitHubSetUpAgain: an installation that was deleted (the webhook put
// the connection in ERROR) is replaced by setting up again, under the same
// connection.
func TestGitHubSetUpAgain(t *testing.T) {
	f, gh, app := newGitHubFixture(t)
	ctx := t.Context()
	conn := f.connection(t, store.ProviderGitHub, "")
	callback := install(t, f, conn.ID)
	first := installationOf(t, callback)
	checkPage(t, complete(t, callback), http.StatusOK, "Connection AVAILABLE")

	gh.DeleteInstallation(first)
	// A token minted now finds the installation gone: ERROR, with the reason.
	if _, err := f.svc.Token(ctx, conn); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Token of a deleted installation: %v", err)
	}
	if c := f.conn(t, conn.ID); c.Status != store.StatusError || c.StatusReason != reasonNoInstallation {
		t.Errorf("after the installation was deleted: %s %q", c.Status, c.StatusReason)
	}
	callback = install(t, f, conn.ID)
	second := installationOf(t, callback)
	checkPage(t, complete(t, callback), http.StatusOK, "Connection AVAILABLE")
	if c := f.conn(t, conn.ID); c.Status != store.StatusAvailable || c.StatusReason != "" {
		t.Errorf("after setting up again: %s %q", c.Status, c.StatusReason)
	}
	if second == first {
		t.Fatal("the fake reused the installation id")
	}
	for inst, want := range map[int64]int{first: 0, second: 1} {
		if conns, err := f.store.ConnectionsByInstallation(ctx, app.ID, inst); err != nil || len(conns) != want {
			t.Errorf("installation %d names %d connections, want %d (%v)", inst, len(conns), want, err)
		}
	}
	if tok, err := f.svc.Token(ctx, conn); err != nil || !strings.HasPrefix(tok.Value, "ghs_") {
		t.Errorf("Token after setting up again: %+v, %v", tok, err)
	}
}

func TestGitHubAppTokens(t *testing.T) {
	f, gh, _ := newGitHubFixture(t)
	ctx := t.Context()
	gh.AddRepo("octo-org/app")
	gh.AddRepo("octo-org/other")
	conn := f.connection(t, store.ProviderGitHub, "")
	checkPage(t, complete(t, install(t, f, conn.ID)), http.StatusOK, "Connection AVAILABLE")

	tok, err := f.svc.Token(ctx, conn)
	if err != nil || !strings.HasPrefix(tok.Value, "ghs_") || tok.OAuth {
		t.Fatalf("Token = %+v, %v", tok, err)
	}
	if again, _ := f.svc.Token(ctx, conn); again != tok || len(gh.Tokens()) != 1 {
		t.Errorf("second Token minted again (%d tokens)", len(gh.Tokens()))
	}
	f.clock.Add(56 * time.Minute) // 4 minutes left: minted anew
	if again, _ := f.svc.Token(ctx, conn); again == tok || len(gh.Tokens()) != 2 {
		t.Errorf("Token near expiry: %+v (%d tokens)", again, len(gh.Tokens()))
	}

	repoTok, err := f.svc.RepositoryToken(ctx, conn, "octo-org/app")
	if err != nil || repoTok.Username != "x-access-token" || repoTok.ExpiresAt.IsZero() {
		t.Fatalf("RepositoryToken = %+v, %v", repoTok, err)
	}
	minted := gh.Tokens()
	last := minted[len(minted)-1]
	if last.Value != repoTok.Token || !slices.Equal(last.Repositories, []string{"app"}) || last.Permissions["contents"] != "read" || len(last.Permissions) != 1 {
		t.Errorf("repository token minted as %+v, want only octo-org/app, contents:read", last)
	}
	if _, err := f.svc.RepositoryToken(ctx, conn, "elsewhere/app"); err == nil {
		t.Error("RepositoryToken for a repository the installation does not cover")
	}

	if err := f.svc.Revoke(ctx, conn); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	for _, m := range gh.Tokens() {
		if m.Value == minted[1].Value && !m.Revoked {
			t.Error("the cached installation token was not revoked")
		}
	}
}

var (
	formAction = regexp.MustCompile(`<form id="manifest" method="post" action="([^"]+)">`)
	formField  = regexp.MustCompile(`name="(manifest|state)" value="([^"]*)"`)
)

// submitManifest follows a host (or App) set-up link to the manifest page
// and posts its form as the page's script would; the fake registers the
// App and sends the browser back to forgelink, whose page is returned.
func submitManifest(t *testing.T, link string) response {
	t.Helper()
	r := get(t, stepper, link)
	if r.status != http.StatusOK {
		t.Fatalf("manifest page: %d %s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`script-src 'nonce-([^']+)'`).FindStringSubmatch(csp)
	if nonce == nil || !strings.Contains(r.body, `<script nonce="`+nonce[1]+`">`) {
		t.Errorf("the page's script does not carry the CSP nonce (%q)", csp)
	}
	action := formAction.FindStringSubmatch(r.body)
	if action == nil {
		t.Fatalf("no manifest form:\n%s", r.body)
	}
	target := html.UnescapeString(action[1])
	if must(url.Parse(target)).Query().Get("state") == "" {
		t.Errorf("form action %s: no state in its query, where GitHub reads it", target)
	}
	form := url.Values{}
	for _, m := range formField.FindAllStringSubmatch(r.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return postForm(t, browser, target, form)
}

func TestGHESHostManifestFlow(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{APIPrefix: "/api/v3"})
	f := newFixture(t, allowHTTP)
	ctx := t.Context()
	host := f.host(t, store.ProviderGitHubEnterpriseServer, gh.URL+"/", store.StatusPending)
	link, err := f.svc.HostSetupURL(ctx, host.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := submitManifest(t, link)
	checkPage(t, r, http.StatusOK, "The host is AVAILABLE")
	callback := r.url
	if h, _ := f.store.GetHost(ctx, host.ID); h.Status != store.StatusAvailable {
		t.Fatalf("host %s, want AVAILABLE", h.Status)
	}
	rec, err := f.store.GetProviderApp(ctx, host.ID)
	if err != nil || rec.Kind != store.AppGitHub || rec.HostID != host.ID || rec.AppID == 0 || rec.Slug == "" {
		t.Fatalf("provider app %+v, %v", rec, err)
	}
	app, ok := gh.App(rec.AppID)
	if !ok {
		t.Fatalf("the fake has no App %d", rec.AppID)
	}
	for _, secret := range []string{"PRIVATE KEY", app.WebhookSecret, app.ClientSecret} {
		if strings.Contains(string(rec.Sealed), secret) {
			t.Errorf("the App's secrets are stored in clear")
		}
	}
	if app.WebhookURL != f.srv.URL+"/webhooks/github-app/"+host.ID || !slices.Equal(app.CallbackURLs, []string{f.srv.URL + "/setup/callback/github"}) ||
		app.RedirectURL != f.srv.URL+"/setup/callback/manifest" {
		t.Errorf("manifest URLs: webhook %s, callbacks %s, redirect %s", app.WebhookURL, app.CallbackURLs, app.RedirectURL)
	}
	id, hostID, secret, err := f.svc.GitHubAppSecret(ctx, host.ID)
	if err != nil || id != app.ID || hostID != host.ID || string(secret) != app.WebhookSecret {
		t.Errorf("GitHubAppSecret = %d %q, %v", id, hostID, err)
	}
	if _, _, _, err := f.svc.GitHubAppSecret(ctx, "nope-12345678"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GitHubAppSecret(unknown) = %v", err)
	}
	before := f.snapshot(t)
	checkPage(t, get(t, stepper, callback), http.StatusBadRequest, "already used")
	f.checkUnchanged(t, before, "a replayed manifest callback")

	// A connection on the host completes through the host's App.
	gh.AddRepo("octo-org/app")
	conn := f.connection(t, store.ProviderGitHubEnterpriseServer, host.ID)
	cb := install(t, f, conn.ID)
	if !strings.Contains(must(url.Parse(cb)).Query().Get("setup_action"), "install") {
		t.Errorf("callback %s", cb)
	}
	checkPage(t, complete(t, cb), http.StatusOK, "Connection AVAILABLE")
	if c := f.conn(t, conn.ID); c.Status != store.StatusAvailable || f.held(t, conn.ID) {
		t.Errorf("GHES connection %s", c.Status)
	}
	if tok, err := f.svc.RepositoryToken(ctx, conn, "octo-org/app"); err != nil || tok.Username != "x-access-token" {
		t.Errorf("GHES RepositoryToken = %+v, %v", tok, err)
	}
	// The installation page was GHES's.
	if !slices.ContainsFunc(gh.Requests(), func(r githubtest.Request) bool {
		return strings.HasPrefix(r.Path, "/github-apps/"+app.Slug+"/installations/new")
	}) {
		t.Error("the GHES installation page was not used")
	}
}

func TestGitHubComAppRegistration(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	f := newFixture(t, withGitHub(gh))
	ctx := t.Context()
	conn := f.connection(t, store.ProviderGitHub, "")
	var input *InputError
	if _, err := f.svc.ConnectionSetupURL(ctx, conn.ID); !errors.As(err, &input) || !strings.Contains(err.Error(), "githubApps") {
		t.Errorf("ConnectionSetupURL without an App: %v", err)
	}
	if _, err := f.svc.GitHubAppSetupURL(ctx, "not an org"); !errors.As(err, &input) {
		t.Errorf("GitHubAppSetupURL(bad org): %v", err)
	}
	link, err := f.svc.GitHubAppSetupURL(ctx, "octo-org")
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, submitManifest(t, link), http.StatusOK, "github.com connections are now set up with it")
	apps, err := f.store.ListProviderApps(ctx)
	if err != nil || len(apps) != 1 || apps[0].HostID != "" || !strings.HasPrefix(apps[0].ID, "github-") || apps[0].Owner != "octo-org" {
		t.Fatalf("provider apps %+v, %v", apps, err)
	}
	checkPage(t, complete(t, install(t, f, conn.ID)), http.StatusOK, "Connection AVAILABLE")
	if c := f.conn(t, conn.ID); c.Status != store.StatusAvailable {
		t.Errorf("connection %s", c.Status)
	}

	configured, _, _ := newGitHubFixture(t)
	if _, err := configured.svc.GitHubAppSetupURL(ctx, ""); !errors.As(err, &input) {
		t.Errorf("GitHubAppSetupURL with a configured App: %v", err)
	}
}
