// Package setup runs the provider set-up handshakes that make hosts and
// connections AVAILABLE, and keeps their credentials usable afterwards.
//
// Hosts: a GitHub Enterprise Server host registers forgelink's GitHub App
// through the manifest flow; a GitLab self-managed host is given an OAuth
// application (or an admin token to create one). github.com may register
// an App the same way when the configuration names none.
//
// Connections: GitHub and GHES connections are completed by installing the
// App with user authorization on install (the user's code proves, through
// GET /user/installations, that the person in the browser can access the
// installation; the App's JWT then confirms it); GitLab and Bitbucket
// connections by the OAuth 2.0 authorization code flow (PKCE where the
// provider takes it). Every browser round trip carries a sealed,
// single-use state that expires after ten minutes and names the access
// key that made the link, which must be allowed to complete it; the
// browser that follows a link is bound to it by a cookie, and the account
// that comes back is shown for the operator to confirm before the
// connection turns AVAILABLE.
//
// Credentials: Token and RepositoryToken give the callers a usable token for
// a connection (OAuth tokens refreshed, GitHub installation tokens minted);
// Run refreshes OAuth tokens before they expire; Rejected and failed
// refreshes put a connection in ERROR with the reason.
package setup

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// Store is what the set-up needs from persistence.
type Store interface {
	GetConnection(ctx context.Context, id string) (store.Connection, error)
	GetHost(ctx context.Context, id string) (store.Host, error)
	SetConnectionStatus(ctx context.Context, id, status, reason string) error
	SetGitHubInstallation(ctx context.Context, connID string, inst store.GitHubInstallation) error
	ConnectionsByInstallation(ctx context.Context, appID, installationID int64) ([]store.Connection, error)
	SetConnectionCredential(ctx context.Context, connID string, c store.Credential) error
	GetConnectionCredential(ctx context.Context, connID string) (store.Credential, error)
	RotateCredential(ctx context.Context, connID string, prev, sealed []byte, expiresAt time.Time) error
	ExpiringCredentials(ctx context.Context, before time.Time) ([]store.Connection, error)
	CreateNonce(ctx context.Context, id, purpose string, expiresAt time.Time) error
	ConsumeNonce(ctx context.Context, id, purpose string, now time.Time) error
	SaveProviderApp(ctx context.Context, app store.ProviderApp) error
	GetProviderApp(ctx context.Context, id string) (store.ProviderApp, error)
	ListProviderApps(ctx context.Context) ([]store.ProviderApp, error)
	// ListTags gives the aws:ResourceTag/<key> of a set-up's resource.
	ListTags(ctx context.Context, r store.ResourceRef) ([]store.Tag, error)
}

// Keyring seals secrets at rest (see relay/keyring).
type Keyring interface {
	Seal(plaintext, associated []byte) []byte
	Open(sealed, associated []byte) ([]byte, error)
}

// GitHubAppKey is a github.com App given in the configuration, with what
// forgelink needs to act as it.
type GitHubAppKey struct {
	AppID      int64
	Slug       string
	PrivateKey []byte // PEM
	// ClientID and ClientSecret are the App's OAuth client: set-up
	// exchanges the user authorization code GitHub sends after the
	// installation with them.
	ClientID, ClientSecret string
	// Regions are the home regions whose connections the App sets up;
	// empty: every region.
	Regions []string
}

// OAuthClient is an OAuth application's (or Bitbucket consumer's) id and
// secret.
type OAuthClient struct {
	ID     string
	Secret string
	// Regions are the home regions whose connections it sets up; empty:
	// every region.
	Regions []string
}

// servesRegion reports whether an app of the regions list sets up
// connections homed in region. A region can have apps of its own (Europe
// (Milan) has a separate GitHub App, installed separately, whose data
// stays there), which no other region's connection may use.
func servesRegion(regions []string, region string) bool {
	return len(regions) == 0 || slices.Contains(regions, region)
}

// noAppIn refuses the set-up of a connection homed in region when the
// configured application named by field serves other regions only.
func noAppIn(field, region string) error {
	return inputError("the configured %s does not serve %s, the connection's home region: add %s to its regions, or configure one for %s",
		field, region, region, region)
}

// Cloud locates the cloud providers (github.com, gitlab.com, Bitbucket
// Cloud) and the applications the configuration gives forgelink there.
type Cloud struct {
	GitHubWebURL, GitHubAPIURL       string
	GitLabWebURL, GitLabAPIURL       string
	BitbucketWebURL, BitbucketAPIURL string
	// GitHubApps can act for github.com connections; the first one that
	// serves a connection's home region sets it up. Without any, an App registered through the
	// manifest flow (GitHubAppSetupURL) does.
	GitHubApps        []GitHubAppKey
	GitLabApp         *OAuthClient
	BitbucketConsumer *OAuthClient
}

// Options configure a Service.
type Options struct {
	Store   Store
	Keyring Keyring
	Log     *zap.Logger
	// Client makes the provider calls. It should not follow redirects: a
	// redirect could carry a secret to another host.
	Client *http.Client
	// PublicURL is how browsers and providers reach forgelink: set-up
	// links, callbacks and App webhook URLs hang off it.
	PublicURL string
	Cloud     Cloud
	// AllowHTTPEndpoints lets hosts use plain-HTTP provider endpoints.
	AllowHTTPEndpoints bool
	Now                func() time.Time // time.Now if nil
	// ConnectionChanged is told the id of a connection whose status
	// changed (the ingress drops its cached entry). Optional.
	ConnectionChanged func(id string)
	// Authorizer decides whether the access key that made a set-up link
	// may complete it (ActionUpdateInstallation on the connection,
	// ActionRegisterAppCode on a host, ActionStartGitHubAppSetup for the
	// github.com App). nil: everything is allowed, for daemons without
	// access keys.
	Authorizer Authorizer
	// AccountID names connections in ARNs for the Authorizer.
	AccountID string
	// AllowSharedInstallations lets one GitHub App installation complete
	// several connections; by default an installation that completes a
	// live connection is refused to any other.
	AllowSharedInstallations bool
}

// Authorizer evaluates an access key's policy (policy.Authorizer).
type Authorizer interface {
	Authorize(accessKeyID string, r policy.Request) policy.Decision
}

// Service serves the set-up pages and callbacks and vends connection
// credentials. It is safe for concurrent use.
type Service struct {
	opts    Options
	flights flights // one OAuth refresh or token mint per connection at a time

	mu     sync.Mutex
	minted map[string]mintedToken // GitHub installation tokens, by connection id
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ConnectionChanged == nil {
		opts.ConnectionChanged = func(string) {}
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	return &Service{opts: opts, minted: map[string]mintedToken{}}
}

// InputError is a set-up that cannot start or complete as asked: no app
// configured for the provider, a resource of another provider type,
// credentials the provider refused. Its message says why and names no
// secret; InvalidInput lets callers recognise it without importing this
// package.
type InputError struct {
	msg string
}

func (e *InputError) Error() string { return e.msg }

// InvalidInput marks the error as the caller's to fix.
func (e *InputError) InvalidInput() bool { return true }

func inputError(format string, args ...any) error {
	return &InputError{msg: fmt.Sprintf(format, args...)}
}

// url returns the absolute URL of a path of forgelink.
func (s *Service) url(path string) string { return s.opts.PublicURL + path }

// consoleURL is where every page links back to.
func (s *Service) consoleURL() string { return s.url("/console/") }

// flights serialises work per connection, honouring cancellation.
type flights struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (f *flights) lock(ctx context.Context, id string) (unlock func(), err error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]chan struct{}{}
	}
	ch := f.m[id]
	if ch == nil {
		ch = make(chan struct{}, 1)
		f.m[id] = ch
	}
	f.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
