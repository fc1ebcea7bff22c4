package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
	"github.com/forgelink/forgelink/relay/clocktest"
)

var testManifest = ManifestParams{
	Name:        "forgelink-build1",
	URL:         "https://forgelink.example.com",
	WebhookURL:  "https://forgelink.example.com/webhooks/github-app/ghes-1",
	RedirectURL: "https://forgelink.example.com/setup/github/manifest",
	CallbackURL: "https://forgelink.example.com/setup/github/installed",
}

func TestManifest(t *testing.T) {
	raw, err := Manifest(testManifest)
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name":                     "forgelink-build1",
		"url":                      "https://forgelink.example.com",
		"hook_attributes":          map[string]any{"url": testManifest.WebhookURL, "active": true},
		"redirect_url":             testManifest.RedirectURL,
		"callback_urls":            []any{testManifest.CallbackURL},
		"request_oauth_on_install": true,
		"setup_on_update":          true,
		"public":                   false,
		"default_events":           []any{"push", "pull_request"},
		"default_permissions": map[string]any{
			"contents": "read", "metadata": "read", "pull_requests": "read",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("manifest =\n%s\nwant\n%v", raw, want)
	}
}

func TestManifestParams(t *testing.T) {
	with := func(edit func(*ManifestParams)) ManifestParams {
		p := testManifest
		edit(&p)
		return p
	}
	tests := []struct {
		name     string
		params   ManifestParams
		wantName string // "" when refused
	}{
		{"as given", testManifest, "forgelink-build1"},
		{"trimmed", with(func(p *ManifestParams) { p.Name = "  forgelink-a  " }), "forgelink-a"},
		{"cut at 34", with(func(p *ManifestParams) { p.Name = "forgelink-" + strings.Repeat("h", 40) }), "forgelink-" + strings.Repeat("h", 24)},
		{"cut at 34 runes, trailing hyphen dropped", with(func(p *ManifestParams) { p.Name = strings.Repeat("é", 33) + "-x" }), strings.Repeat("é", 33)},
		{"empty name", with(func(p *ManifestParams) { p.Name = " " }), ""},
		{"control character", with(func(p *ManifestParams) { p.Name = "forge\nlink" }), ""},
		{"relative url", with(func(p *ManifestParams) { p.URL = "/forgelink" }), ""},
		{"ftp webhook url", with(func(p *ManifestParams) { p.WebhookURL = "ftp://x.example/hook" }), ""},
		{"no redirect url", with(func(p *ManifestParams) { p.RedirectURL = "" }), ""},
		{"credentials in setup url", with(func(p *ManifestParams) { p.CallbackURL = "https://u:p@x.example/setup" }), ""},
		{"plain http", with(func(p *ManifestParams) { p.URL = "http://10.0.0.5:8080" }), "forgelink-build1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := Manifest(tt.params)
			if tt.wantName == "" {
				if got := outcome(t, err); got != "invalid" {
					t.Errorf("Manifest = %s, want invalid", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Manifest: %v", err)
			}
			var m struct{ Name string }
			json.Unmarshal(raw, &m)
			if m.Name != tt.wantName {
				t.Errorf("name = %q, want %q", m.Name, tt.wantName)
			}
		})
	}
}

func TestNewAppURL(t *testing.T) {
	tests := []struct {
		name, web, org, state, want string
	}{
		{"github.com user", "https://github.com", "", "abc123", "https://github.com/settings/apps/new?state=abc123"},
		{"github.com organization", "https://github.com/", "octo-org", "abc123", "https://github.com/organizations/octo-org/settings/apps/new?state=abc123"},
		{"GHES user", "https://ghe.example.com", "", "s1", "https://ghe.example.com/settings/apps/new?state=s1"},
		{"GHES organization", "https://ghe.example.com:8443/", "platform", "s1", "https://ghe.example.com:8443/organizations/platform/settings/apps/new?state=s1"},
		{"state escaped", "https://github.com", "", "a+b/c=&d", "https://github.com/settings/apps/new?state=a%2Bb%2Fc%3D%26d"},
		{"no state", "https://github.com", "", "", "https://github.com/settings/apps/new"},
		{"organization with a slash", "https://github.com", "a/b", "s", ""},
		{"organization with a query", "https://github.com", "a?x=1", "s", ""},
		{"relative base", "github.com", "", "s", ""},
		{"not http", "ssh://github.com", "", "s", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewAppURL(tt.web, tt.org, tt.state)
			if tt.want == "" {
				if o := outcome(t, err); o != "invalid" {
					t.Errorf("NewAppURL = %q, %s; want invalid", got, o)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NewAppURL = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestInstallURL(t *testing.T) {
	tests := []struct {
		name, web, slug, state, want string
	}{
		{"github.com", "https://github.com", "forgelink-a", "s1", "https://github.com/apps/forgelink-a/installations/new?state=s1"},
		{"github.com, no state", "https://github.com/", "forgelink-a", "", "https://github.com/apps/forgelink-a/installations/new"},
		{"GHE.com", "https://octo.ghe.com", "forgelink-a", "s1", "https://octo.ghe.com/apps/forgelink-a/installations/new?state=s1"},
		{"GHES", "https://ghe.example.com", "forgelink-a", "s1", "https://ghe.example.com/github-apps/forgelink-a/installations/new?state=s1"},
		{"GHES, state escaped", "https://ghe.example.com/", "forgelink-a", "a+b/c=&d", "https://ghe.example.com/github-apps/forgelink-a/installations/new?state=a%2Bb%2Fc%3D%26d"},
		{"slug with a slash", "https://github.com", "a/b", "s", ""},
		{"empty slug", "https://github.com", "", "s", ""},
		{"relative base", "/github", "forgelink-a", "s", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InstallURL(tt.web, tt.slug, tt.state)
			if tt.want == "" {
				if o := outcome(t, err); o != "invalid" {
					t.Errorf("InstallURL = %q, %s; want invalid", got, o)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("InstallURL = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestAppCredentialsHideSecrets(t *testing.T) {
	c := AppCredentials{
		ID: 7, Slug: "forgelink-a", Name: "forgelink-a", ClientID: "Iv1.abc", Owner: "octocat",
		ClientSecret: "client-secret-value", WebhookSecret: "webhook-secret-value",
		PrivateKeyPEM: []byte("-----BEGIN RSA PRIVATE KEY-----\nkeymaterial\n-----END RSA PRIVATE KEY-----\n"),
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{c, &c} {
			out := fmt.Sprintf(format, v)
			for _, secret := range []string{c.ClientSecret, c.WebhookSecret, "keymaterial"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T shows a secret: %s", format, v, out)
				}
			}
			if !strings.Contains(out, "forgelink-a") {
				t.Errorf("%s of %T does not show the slug: %s", format, v, out)
			}
		}
	}
}

func TestConvertManifest(t *testing.T) {
	clk := clocktest.New(time.Now())
	srv := githubtest.New(t, githubtest.Options{APIPrefix: "/api/v3", Now: clk.Now})
	app := srv.AddApp(githubtest.App{Name: "forgelink-ghes", Owner: "platform", Key: testKeys()[0]})
	used := srv.ManifestCode(app.ID)
	if _, err := ConvertManifest(context.Background(), nil, srv.APIURL, used); err != nil {
		t.Fatalf("ConvertManifest: %v", err)
	}
	expired := srv.ManifestCode(app.ID)
	clk.Add(61 * time.Minute)
	fresh := srv.ManifestCode(app.ID) // only for servers that ignore it
	good := srv.ManifestCode(app.ID)
	tests := []struct {
		name, api, code, wants string
	}{
		{"expired code", srv.APIURL, expired, "not found"},
		{"used code", srv.APIURL, used, "not found"},
		{"unknown code", srv.APIURL, "0123456789abcdef0123", "not found"},
		{"malformed code", srv.APIURL, "../../user", "not found"},
		{"server error", tokentest.Answer(t, http.StatusBadGateway, nil, "bad gateway"), fresh, "unavailable"},
		{"unprocessable", tokentest.Answer(t, http.StatusUnprocessableEntity, nil, `{"message":"x"}`), fresh, "not found"},
		{"incomplete answer", tokentest.Answer(t, http.StatusCreated, nil, `{"id":1}`), fresh, "unavailable"},
		{"unreachable", tokentest.Unreachable(), fresh, "unavailable"},
		{"good code", srv.APIURL, good, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := ConvertManifest(context.Background(), nil, tt.api, tt.code)
			if got := outcome(t, err, tt.code); got != tt.wants {
				t.Fatalf("ConvertManifest = %s, want %s", got, tt.wants)
			}
			if err != nil {
				return
			}
			want := AppCredentials{
				ID: app.ID, Slug: "forgelink-ghes", Name: "forgelink-ghes", ClientID: app.ClientID, Owner: "platform",
				HTMLURL: srv.URL + "/apps/forgelink-ghes", ClientSecret: app.ClientSecret, WebhookSecret: app.WebhookSecret,
				PrivateKeyPEM: app.PrivateKeyPEM(),
			}
			if !reflect.DeepEqual(creds, want) {
				t.Errorf("credentials = %#v, want %#v", creds, want)
			}
		})
	}
}

// TestManifestFlow walks the whole set-up against the fake's web pages:
// post the manifest, follow GitHub's redirect with the code, convert it,
// install the App, and confirm the installation the callback names.
func TestManifestFlow(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{APIPrefix: "/api/v3"})
	srv.AddRepo("octo-org/api")
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	manifest, err := Manifest(testManifest)
	if err != nil {
		t.Fatal(err)
	}
	newApp, err := NewAppURL(srv.URL, "octo-org", "st-1")
	if err != nil {
		t.Fatal(err)
	}
	// GitHub takes state from the URL only: a form field is not handed back.
	back := redirectQuery(t, noRedirects, http.MethodPost, newApp, url.Values{"manifest": {string(manifest)}, "state": {"form-state"}}, testManifest.RedirectURL)
	if back.Get("state") != "st-1" || back.Get("code") == "" {
		t.Fatalf("manifest callback query %v; want a code and state st-1", back)
	}
	creds, err := ConvertManifest(context.Background(), nil, srv.APIURL, back.Get("code"))
	if err != nil {
		t.Fatalf("ConvertManifest: %v", err)
	}
	if creds.Owner != "octo-org" || creds.Name != "forgelink-build1" {
		t.Errorf("App %v; want forgelink-build1 owned by octo-org", creds)
	}
	registered, _ := srv.App(creds.ID)
	if registered.WebhookURL != testManifest.WebhookURL || !registered.RequestOAuthOnInstall ||
		!slices.Equal(registered.CallbackURLs, []string{testManifest.CallbackURL}) {
		t.Errorf("registered hook %q callbacks %q oauth %v; want the manifest's", registered.WebhookURL, registered.CallbackURLs, registered.RequestOAuthOnInstall)
	}

	install, err := InstallURL(srv.URL, creds.Slug, "st-2")
	if err != nil {
		t.Fatal(err)
	}
	setup := redirectQuery(t, noRedirects, http.MethodGet, install, nil, testManifest.CallbackURL)
	if setup.Get("state") != "st-2" || setup.Get("setup_action") != "install" || setup.Get("code") == "" {
		t.Fatalf("setup callback query %v; want state st-2, setup_action install and a code", setup)
	}
	var id int64
	fmt.Sscan(setup.Get("installation_id"), &id)
	checkUserAuthorization(t, srv, creds, setup.Get("code"), id)
	app, err := NewApp(nil, srv.APIURL, creds.ID, creds.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := app.Installation(context.Background(), id)
	if err != nil || inst.Account != "octo-org" {
		t.Fatalf("Installation(%d) = %+v, %v; want octo-org's", id, inst, err)
	}
	if _, err := app.RepositoryToken(context.Background(), id, "octo-org/api"); err != nil {
		t.Errorf("RepositoryToken: %v", err)
	}
}

// redirectQuery sends a request (a form when form is not nil) that must be
// answered with a redirect to wantTarget, and returns the redirect's query.
func redirectQuery(t *testing.T, c *http.Client, method, target string, form url.Values, wantTarget string) url.Values {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("%s %s: %s, location %v; want a redirect", method, target, resp.Status, loc)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != wantTarget {
		t.Fatalf("redirected to %s, want %s", got, wantTarget)
	}
	return loc.Query()
}
