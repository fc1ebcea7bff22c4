package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

var (
	// ErrInvalidParameter: an argument forgelink itself supplies (a URL, a
	// name, a slug, an id) cannot be used; nothing was sent to GitHub.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrInvalidPrivateKey: an App private key is not an RSA private key
	// in PEM. The error never quotes the key.
	ErrInvalidPrivateKey = errors.New("github app private key is not a PEM-encoded RSA private key")
)

// App acts as one GitHub App: it looks up the App's installations and
// mints their access tokens. Every request carries a fresh App JWT
// (RS256, signed with the App's private key, iss = the App id, valid for
// two minutes) made by ghinstallation's AppsTransport. It is safe for
// concurrent use.
type App struct {
	id         int64
	c          *gh.Client // authenticates as the App
	client     *http.Client
	apiBaseURL string
}

// NewApp returns the App appID of the API at apiBaseURL
// (https://api.github.com/ or https://<ghes>/api/v3/), signing with
// privateKeyPEM and sending requests through client's transport.
func NewApp(client *http.Client, apiBaseURL string, appID int64, privateKeyPEM []byte) (*App, error) {
	if appID <= 0 {
		return nil, fmt.Errorf("github app: %w: app id %d", ErrInvalidParameter, appID)
	}
	if err := checkAPIURL(apiBaseURL); err != nil {
		return nil, fmt.Errorf("github app %d: %w", appID, err)
	}
	if client == nil {
		client = &http.Client{}
	}
	tr := client.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	// ghinstallation's error quotes the PEM parser's, which names no key
	// material; it is dropped all the same.
	atr, err := ghinstallation.NewAppsTransport(tr, appID, privateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("github app %d: %w", appID, ErrInvalidPrivateKey)
	}
	c, err := newBaseClient(&http.Client{
		Transport:     atr,
		CheckRedirect: client.CheckRedirect,
		Jar:           client.Jar,
		Timeout:       client.Timeout,
	}, apiBaseURL)
	if err != nil {
		return nil, err
	}
	return &App{id: appID, c: c, client: client, apiBaseURL: apiBaseURL}, nil
}

// checkAPIURL refuses an API base URL that is not absolute http(s).
func checkAPIURL(apiBaseURL string) error {
	u, err := url.Parse(apiBaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: api url %q is not an absolute http(s) URL", ErrInvalidParameter, apiBaseURL)
	}
	return nil
}

// appCallError classifies a failed call made with the App's JWT. 404: the
// installation does not exist (or is not this App's); 401: GitHub refused
// the JWT, so the App's id or key is wrong (a *providers.StatusError);
// anything else, 403 and the rate limits included, leaves the provider
// unavailable. GitHub's own error text is dropped.
func appCallError(resp *gh.Response, err error) error {
	return classifyError(resp, err, func(status int, err error) error {
		switch status {
		case http.StatusNotFound:
			return fmt.Errorf("%w: HTTP 404", providers.ErrNotFound)
		case http.StatusForbidden:
			return fmt.Errorf("%w: HTTP 403", providers.ErrProviderUnavailable)
		}
		return providers.TokenCheckError(status, err)
	})
}

// tokenCallError classifies a failed access token request. 404 and 422:
// the installation is gone, or the repository is not one it covers; 401
// and 403 (an installation GitHub suspended refuses tokens with 403):
// rejected; the rest unavailable.
func tokenCallError(resp *gh.Response, err error) error {
	return classifyError(resp, err, func(status int, err error) error {
		if status == http.StatusNotFound || status == http.StatusUnprocessableEntity {
			return fmt.Errorf("%w: HTTP %d: the installation is gone or does not cover the repository", providers.ErrNotFound, status)
		}
		return providers.TokenCheckError(status, err)
	})
}
