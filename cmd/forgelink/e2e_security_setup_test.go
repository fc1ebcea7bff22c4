//go:build unix

package main_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"

	"github.com/forgelink/forgelink/providers/github/githubtest"
)

// setupBrowser is a browser for set-up pages: it keeps cookies (a set-up
// link binds to the browser that follows it) and, unless follow, takes
// one step at a time.
func setupBrowser(t *testing.T, follow bool) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// page is a set-up page (or redirect) as a browser got it.
type page struct {
	status   int
	body     string
	location string
}

func browse(t *testing.T, c *http.Client, method, target string, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location")}
}

var (
	confirmForm  = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	confirmField = regexp.MustCompile(`name="(pending|csrf)" value="([^"]+)"`)
)

// confirmSetup posts the confirmation form of a set-up's confirmation
// page, as the operator's click does, and returns the result page.
func confirmSetup(t *testing.T, c *http.Client, p page) page {
	t.Helper()
	action := confirmForm.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Confirm the account") || action == nil {
		t.Fatalf("not a confirmation page: %d\n%s", p.status, p.body)
	}
	form := url.Values{}
	for _, m := range confirmField.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return browse(t, c, http.MethodPost, html.UnescapeString(action[1]), form)
}

// startGitHubAppDaemon starts a daemon that sets github.com connections up
// with app on the fake gh, and makes the App request user authorization
// on install with the daemon's callback URL, as its owner sets it on
// GitHub. Further config lines follow the App's entry (indented, they
// add to it).
func startGitHubAppDaemon(t *testing.T, gh *githubtest.Server, app githubtest.App, config ...string) *daemon {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.pem"), string(app.PrivateKeyPEM()))
	writeFile(t, filepath.Join(dir, "hook-secret"), app.WebhookSecret+"\n")
	writeFile(t, filepath.Join(dir, "client-secret"), app.ClientSecret+"\n")
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	writeFile(t, cfgPath, strings.Join([]string{
		// The fake GitHub is plain http: git-credential gives a token
		// for it only when that is allowed.
		"allowHTTPProviderEndpoints: true",
		"providers:",
		"  githubAPIURL: " + gh.APIURL,
		"  githubURL: " + gh.URL,
		"githubApps:",
		"  - appId: " + strconv.FormatInt(app.ID, 10),
		"    slug: " + app.Slug,
		"    privateKeyFile: app.pem",
		"    clientId: " + app.ClientID,
		"    clientSecretFile: client-secret",
		"    webhookSecretFile: hook-secret",
	}, "\n")+"\n"+strings.Join(append(config, ""), "\n"))
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	app.RequestOAuthOnInstall, app.CallbackURLs = true, []string{d.url + "/setup/callback/github"}
	gh.AddApp(app)
	return d
}

// setupLink asks the daemon for a connection's set-up link, as the
// operator does, with the root key.
func setupLink(t *testing.T, d *daemon, arn string) string {
	t.Helper()
	res := runCommand(t, clientEnv(t), forgelinkBin, "connections", "setup", "--endpoint-url", d.url, arn)
	link := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(link, d.url+"/setup/start?state=") {
		t.Fatalf("connections setup: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	return link
}

// toCallback follows a GitHub connection's set-up link through the fake's
// installation page and returns the callback URL GitHub sends the browser
// back to.
func toCallback(t *testing.T, c *http.Client, d *daemon, link string) *url.URL {
	t.Helper()
	p := browse(t, c, http.MethodGet, link, nil)
	if p.status != http.StatusFound {
		t.Fatalf("set-up start: %d %s", p.status, p.body)
	}
	p = browse(t, c, http.MethodGet, p.location, nil)
	cb, err := url.Parse(p.location)
	if p.status != http.StatusFound || err != nil || !strings.HasPrefix(p.location, d.url+"/setup/callback/github?") || cb.Query().Get("code") == "" {
		t.Fatalf("installation page: %d to %q", p.status, p.location)
	}
	return cb
}

func connectionStatus(t *testing.T, d *daemon, arn string) cctypes.ConnectionStatus {
	t.Helper()
	got, err := d.cc().GetConnection(t.Context(), &codeconnections.GetConnectionInput{ConnectionArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	return got.Connection.ConnectionStatus
}

// TestE2ESecurityInstallationProof: finding 2. A genuine set-up whose
// callback has another organisation's installation_id swapped in is
// refused and leaves the connection PENDING; so is the callback in
// another browser, and an installation that already completes another
// connection. The genuine callback shows the account, and only the
// confirmation makes the connection AVAILABLE.
func TestE2ESecurityInstallationProof(t *testing.T) {
	e2e(t)
	ctx := t.Context()
	gh := githubtest.New(t, githubtest.Options{User: "mallory", InstallAccount: "mallory-org"})
	app := gh.AddApp(githubtest.App{ID: 4343, Name: "forgelink security", RequestOAuthOnInstall: true})
	victim := gh.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "victim-org", Users: []string{"victim"}})

	d := startGitHubAppDaemon(t, gh, app)

	create := func(name string) string {
		out, err := d.cc().CreateConnection(ctx, &codeconnections.CreateConnectionInput{
			ConnectionName: aws.String(name), ProviderType: cctypes.ProviderTypeGithub,
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ConnectionArn)
	}
	arn, second := create("mallory"), create("mallory-2")

	refusals := []struct {
		name   string
		attack func(t *testing.T) page
		status int
		want   string
	}{
		{"another organisation's installation_id", func(t *testing.T) page {
			b := setupBrowser(t, false)
			cb := toCallback(t, b, d, setupLink(t, d, arn))
			q := cb.Query()
			q.Set("installation_id", strconv.FormatInt(victim.ID, 10))
			cb.RawQuery = q.Encode()
			return browse(t, b, http.MethodGet, cb.String(), nil)
		}, http.StatusForbidden, "cannot access installation " + strconv.FormatInt(victim.ID, 10)},
		{"the callback in another browser", func(t *testing.T) page {
			cb := toCallback(t, setupBrowser(t, false), d, setupLink(t, d, arn))
			return browse(t, setupBrowser(t, false), http.MethodGet, cb.String(), nil)
		}, http.StatusBadRequest, "another browser"},
		{"the confirmation from another browser", func(t *testing.T) page {
			b := setupBrowser(t, false)
			p := browse(t, b, http.MethodGet, toCallback(t, b, d, setupLink(t, d, arn)).String(), nil)
			return confirmSetup(t, setupBrowser(t, false), p)
		}, http.StatusBadRequest, "another browser"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.attack(t)
			if p.status != tc.status || !strings.Contains(p.body, tc.want) {
				t.Errorf("page %d, want %d with %q:\n%s", p.status, tc.status, tc.want, p.body)
			}
			if s := connectionStatus(t, d, arn); s != cctypes.ConnectionStatusPending {
				t.Errorf("connection %s after the refusal, want PENDING", s)
			}
		})
	}
	if !d.logged("set-up step failed") {
		t.Error("the refusals were not logged")
	}

	// The genuine set-up: the account is shown, the connection stays
	// PENDING until the confirmation is posted.
	b := setupBrowser(t, false)
	p := browse(t, b, http.MethodGet, toCallback(t, b, d, setupLink(t, d, arn)).String(), nil)
	if !strings.Contains(p.body, "mallory-org") {
		t.Errorf("the confirmation page does not name the account:\n%s", p.body)
	}
	if s := connectionStatus(t, d, arn); s != cctypes.ConnectionStatusPending {
		t.Errorf("connection %s before the confirmation, want PENDING", s)
	}
	if done := confirmSetup(t, b, p); done.status != http.StatusOK || !strings.Contains(done.body, "Connection AVAILABLE") {
		t.Fatalf("confirmation: %d\n%s", done.status, done.body)
	}
	if s := connectionStatus(t, d, arn); s != cctypes.ConnectionStatusAvailable {
		t.Errorf("connection %s after the confirmation, want AVAILABLE", s)
	}
	for _, tok := range gh.UserTokens() {
		if !tok.Revoked {
			t.Errorf("a user token of %s was not revoked", tok.User)
		}
	}

	// The same installation for a second connection: refused.
	b = setupBrowser(t, false)
	p = browse(t, b, http.MethodGet, toCallback(t, b, d, setupLink(t, d, second)).String(), nil)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "already completes the connection mallory") {
		t.Errorf("a second connection with the installation: %d\n%s", p.status, p.body)
	}
	if s := connectionStatus(t, d, second); s != cctypes.ConnectionStatusPending {
		t.Errorf("second connection %s, want PENDING", s)
	}
}

// TestE2ESecurityConsoleScopedKey: finding 1's console part. A key that
// may mint console links and read connection A only signs in (by its
// login link, or its key pair) to a console that shows A and not B, and
// offers no set-up it may not start.
func TestE2ESecurityConsoleScopedKey(t *testing.T) {
	e2e(t)
	const keyID, secret = "AKIDCONSOLESCOPED01", "console-scoped-secret"
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	writeFile(t, cfgPath, "{}\n")
	opts := daemonOptions{dataDir: filepath.Join(dir, "data"), env: []string{"FORGELINK_CONFIG=" + cfgPath}}
	d := startDaemon(t, opts)
	var arns []string
	for _, name := range []string{"team-a", "team-b"} {
		out, err := d.cc().CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
			ConnectionName: aws.String(name), ProviderType: cctypes.ProviderTypeGithub,
		})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.ConnectionArn))
	}
	d.stop(t)
	// Keys are read at start.
	writeFile(t, filepath.Join(dir, "console.secret"), secret)
	writeFile(t, cfgPath, `accessKeys:
  - id: `+keyID+`
    secretFile: console.secret
    policy:
      statements:
        - effect: Allow
          actions: ["forgelink:CreateConsoleLink"]
          resources: ["*"]
        - effect: Allow
          actions: ["codeconnections:GetConnection"]
          resources: ["`+arns[0]+`"]
`)
	d = startDaemon(t, opts)

	env := environ("AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "HOME="+t.TempDir())
	res := runCommand(t, env, forgelinkBin, "console-link", "--endpoint-url", d.url)
	link := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(link, d.url+"/console/login/") {
		t.Fatalf("console-link as the scoped key: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	viaLink := setupBrowser(t, true)
	byKey := setupBrowser(t, true)
	signedIn := browse(t, byKey, http.MethodPost, d.url+"/console/login", url.Values{"access_key_id": {keyID}, "secret_access_key": {secret}})
	for _, tc := range []struct {
		name string
		p    page
	}{
		{"login link", browse(t, viaLink, http.MethodGet, link, nil)},
		{"key pair", signedIn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idA, idB := arns[0][strings.LastIndexByte(arns[0], '/')+1:], arns[1][strings.LastIndexByte(arns[1], '/')+1:]
			if tc.p.status != http.StatusOK || !strings.Contains(tc.p.body, "connection-"+idA) {
				t.Fatalf("overview: %d\n%s", tc.p.status, tc.p.body)
			}
			if strings.Contains(tc.p.body, idB) || strings.Contains(tc.p.body, ">Set up</button>") {
				t.Errorf("the scoped key's console shows team b or a set-up it may not start:\n%s", tc.p.body)
			}
		})
	}
}
