package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/forgelink/forgelink/providers"
)

// maxAppName is the longest GitHub App name GitHub accepts.
const maxAppName = 34

var (
	// orgLogin: GitHub logins are letters, digits and single hyphens, at
	// most 39 characters; the looser check keeps paths well formed.
	orgLogin = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	appSlug  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	// manifestCode: GitHub's codes are short hex strings; anything outside
	// this set could not be one and must not reach the request path.
	manifestCode = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ManifestParams are the parts of forgelink's GitHub App manifest that
// depend on the deployment.
type ManifestParams struct {
	// Name is the App's name, e.g. "forgelink-<host name>". GitHub wants
	// names unique and at most 34 characters: a longer one is cut there.
	Name string
	// URL is the App's homepage: forgelink's public URL.
	URL string
	// WebhookURL receives the App's deliveries (<public>/webhooks/github-app/...).
	WebhookURL string
	// RedirectURL is where GitHub sends the operator back with ?code=&state=
	// once the App is created.
	RedirectURL string
	// CallbackURL is where GitHub sends the operator after installing the
	// App, once they authorized it (request_oauth_on_install), with
	// ?code=&installation_id=&setup_action=&state=.
	CallbackURL string
}

// manifest is GitHub's App manifest, the fields forgelink sets.
type manifest struct {
	Name               string            `json:"name"`
	URL                string            `json:"url"`
	HookAttributes     hookAttributes    `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url"`
	CallbackURLs       []string          `json:"callback_urls"`
	RequestOAuth       bool              `json:"request_oauth_on_install"`
	SetupOnUpdate      bool              `json:"setup_on_update"`
	Public             bool              `json:"public"`
	DefaultEvents      []string          `json:"default_events"`
	DefaultPermissions map[string]string `json:"default_permissions"`
}

type hookAttributes struct {
	URL    string `json:"url"`
	Active bool   `json:"active"`
}

// Manifest returns the JSON manifest of forgelink's GitHub App: a private
// App that receives pushes and pull requests and reads contents, metadata
// and pull requests (what routing, compare and clone tokens need; GitHub
// sends installation events to every App unasked). request_oauth_on_install
// makes GitHub ask the installing user to authorize the App and send them
// to CallbackURL with a code: forgelink proves with it that the user can
// access the installation the redirect names (an installation_id alone can
// be spoofed). GitHub allows no setup_url with it; setup_on_update sends
// the operator back after changing an installation too. Bad parameters
// wrap ErrInvalidParameter.
func Manifest(p ManifestParams) ([]byte, error) {
	name, err := appName(p.Name)
	if err != nil {
		return nil, fmt.Errorf("github app manifest: %w", err)
	}
	for _, u := range []struct{ field, value string }{
		{"url", p.URL}, {"webhook url", p.WebhookURL}, {"redirect url", p.RedirectURL}, {"callback url", p.CallbackURL},
	} {
		if _, err := webURL(u.field, u.value); err != nil {
			return nil, fmt.Errorf("github app manifest: %w", err)
		}
	}
	return json.Marshal(manifest{
		Name:           name,
		URL:            p.URL,
		HookAttributes: hookAttributes{URL: p.WebhookURL, Active: true},
		RedirectURL:    p.RedirectURL,
		CallbackURLs:   []string{p.CallbackURL},
		RequestOAuth:   true,
		SetupOnUpdate:  true,
		Public:         false,
		DefaultEvents:  []string{"push", "pull_request"},
		DefaultPermissions: map[string]string{
			"contents": "read", "metadata": "read", "pull_requests": "read",
		},
	})
}

// appName trims name and cuts it at maxAppName characters.
func appName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return "", fmt.Errorf("%w: app name %q is empty or not printable text", ErrInvalidParameter, name)
	}
	if r := []rune(name); len(r) > maxAppName {
		name = strings.TrimRight(string(r[:maxAppName]), " -_.")
	}
	return name, nil
}

// webURL parses an absolute http(s) URL without credentials.
func webURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %s %q is not an absolute http(s) URL", ErrInvalidParameter, field, raw)
	}
	return u, nil
}

// webPage returns the page path under the GitHub web URL webBaseURL
// (https://github.com, or a GHES host's URL), with query.
func webPage(webBaseURL, path string, query url.Values) (string, error) {
	u, err := webURL("github url", webBaseURL)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath, u.RawQuery, u.Fragment = "", query.Encode(), ""
	return u.String(), nil
}

// NewAppURL returns the URL the manifest form is posted to, with state in
// its query as GitHub's "Registering a GitHub App from a manifest"
// documents (the form itself carries only manifest; GitHub reads state
// from the URL and hands it back on the redirect):
// <web>/settings/apps/new?state=... registers an App owned by the
// signed-in user, <web>/organizations/{org}/settings/apps/new?state=...
// one owned by org. github.com and GHES use the same paths.
func NewAppURL(webBaseURL, org, state string) (string, error) {
	var q url.Values
	if state != "" {
		q = url.Values{"state": {state}}
	}
	if org == "" {
		return webPage(webBaseURL, "/settings/apps/new", q)
	}
	if !orgLogin.MatchString(org) {
		return "", fmt.Errorf("github new app url: %w: %q is not an organization login", ErrInvalidParameter, org)
	}
	return webPage(webBaseURL, "/organizations/"+org+"/settings/apps/new", q)
}

// InstallURL returns the page that installs App slug, which sends the
// operator to the App's callback URL (with a user authorization code, when
// the App requests it on install) or setup URL with state afterwards:
// https://github.com/apps/{slug}/installations/new on github.com (and on
// GHE.com, *.ghe.com, which is github.com's software), and
// https://HOST/github-apps/{slug}/installations/new on GitHub Enterprise
// Server, as GHES's "Sharing your GitHub App" documents.
func InstallURL(webBaseURL, slug, state string) (string, error) {
	if !appSlug.MatchString(slug) {
		return "", fmt.Errorf("github install url: %w: %q is not an app slug", ErrInvalidParameter, slug)
	}
	u, err := webURL("github url", webBaseURL)
	if err != nil {
		return "", fmt.Errorf("github install url: %w", err)
	}
	apps := "/github-apps/"
	if host := strings.ToLower(u.Hostname()); host == "github.com" || strings.HasSuffix(host, ".ghe.com") {
		apps = "/apps/"
	}
	var query url.Values
	if state != "" {
		query = url.Values{"state": {state}}
	}
	return webPage(webBaseURL, apps+slug+"/installations/new", query)
}

// AppCredentials is what GitHub gives back for a manifest: the App and
// its secrets. String and GoString leave the secrets out, so that
// printing one by mistake shows none.
type AppCredentials struct {
	ID       int64
	Slug     string
	Name     string
	ClientID string
	Owner    string // the login of the account that owns the App
	HTMLURL  string

	ClientSecret  string
	WebhookSecret string
	PrivateKeyPEM []byte
}

func (c AppCredentials) String() string {
	return fmt.Sprintf("github app %d %q (owner %q, client %q, secrets redacted)", c.ID, c.Slug, c.Owner, c.ClientID)
}

func (c AppCredentials) GoString() string {
	return fmt.Sprintf("github.AppCredentials{ID: %d, Slug: %q, Name: %q, ClientID: %q, Owner: %q, HTMLURL: %q, secrets redacted}",
		c.ID, c.Slug, c.Name, c.ClientID, c.Owner, c.HTMLURL)
}

// ConvertManifest exchanges the code GitHub sent to the manifest's
// redirect URL for the new App's credentials: POST
// {api}/app-manifests/{code}/conversions, unauthenticated, answered 201.
// A code GitHub does not know (never issued, already used, or older than
// its hour) wraps providers.ErrNotFound; a provider that cannot be asked,
// providers.ErrProviderUnavailable. Errors never quote the code.
func ConvertManifest(ctx context.Context, client *http.Client, apiBaseURL, code string) (AppCredentials, error) {
	if !manifestCode.MatchString(code) {
		return AppCredentials{}, fmt.Errorf("github manifest conversion: %w: malformed code", providers.ErrNotFound)
	}
	if err := checkAPIURL(apiBaseURL); err != nil {
		return AppCredentials{}, fmt.Errorf("github manifest conversion: %w", err)
	}
	c, err := newBaseClient(client, apiBaseURL)
	if err != nil {
		return AppCredentials{}, err
	}
	cfg, resp, err := c.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		return AppCredentials{}, fmt.Errorf("github manifest conversion: %w", classifyError(resp, err, conversionError))
	}
	creds := AppCredentials{
		ID: cfg.GetID(), Slug: cfg.GetSlug(), Name: cfg.GetName(), ClientID: cfg.GetClientID(),
		Owner: cfg.GetOwner().GetLogin(), HTMLURL: cfg.GetHTMLURL(),
		ClientSecret: cfg.GetClientSecret(), WebhookSecret: cfg.GetWebhookSecret(),
		PrivateKeyPEM: []byte(cfg.GetPEM()),
	}
	if creds.ID <= 0 || creds.Slug == "" || len(creds.PrivateKeyPEM) == 0 || creds.WebhookSecret == "" {
		return AppCredentials{}, fmt.Errorf("github manifest conversion: %w: the answer lacks the app id, slug, key or webhook secret", providers.ErrProviderUnavailable)
	}
	return creds, nil
}

// conversionError classifies a failed conversion. The request URL holds
// the code, so a transport error is reduced to its cause.
func conversionError(status int, err error) error {
	switch {
	case status == http.StatusNotFound || status == http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: HTTP %d: the code is unknown, used or expired", providers.ErrNotFound, status)
	case status < 300:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %w", providers.ErrProviderUnavailable, err)
	}
	return fmt.Errorf("%w: HTTP %d %s", providers.ErrProviderUnavailable, status, http.StatusText(status))
}
