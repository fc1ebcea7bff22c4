package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/setup"
)

// setupTimeout bounds one provider call of the set-up (a token exchange,
// an installation lookup), well within a browser's patience.
const setupTimeout = 30 * time.Second

// daemonSetup is the provider set-up as the daemon runs it.
type daemonSetup struct {
	svc *setup.Service
	// changed is told of a connection whose set-up completed: set once the
	// parts it informs (the ingress, the hook registry) exist.
	changed func(id string)
	// transport carries every request to a provider (set-up, webhooks,
	// changed files, token checks): one connection pool, one egress guard.
	transport http.RoundTripper
}

// newSetup builds the provider set-up from the configuration: the cloud
// providers' URLs and the Apps and OAuth applications it names, with
// their secrets read once.
func newSetup(cfg *config.Config, st daemonStore, kr *keyring.Keyring, log *zap.Logger) (*daemonSetup, error) {
	cloud, err := setupCloud(cfg)
	if err != nil {
		return nil, err
	}
	tr, err := providerTransport(cfg, newHostRoots(st, time.Now).roots)
	if err != nil {
		return nil, err
	}
	d := &daemonSetup{changed: func(string) {}, transport: tr}
	// The key that made a set-up link must be allowed to complete it; a
	// daemon without access keys (loopback only) allows everything.
	var auth setup.Authorizer
	if !cfg.Authless() {
		auth = policy.NewAuthorizer(cfg.RootAccessKeyID, cfg.AccessPolicies())
	}
	d.svc = setup.New(setup.Options{
		Store:   st,
		Keyring: kr,
		Log:     log,
		Client: &http.Client{
			Transport: tr,
			Timeout:   setupTimeout,
			// A redirect could carry a secret to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		PublicURL:          cfg.PublicURL,
		Cloud:              cloud,
		AllowHTTPEndpoints: cfg.AllowHTTPProviderEndpoints,
		ConnectionChanged:  func(id string) { d.changed(id) },
		Authorizer:         auth,
		AccountID:          cfg.AccountID,
		// One installation completes one connection unless the operator
		// allows sharing.
		AllowSharedInstallations: cfg.Providers.AllowSharedInstallations,
	})
	return d, nil
}

// providerTransport returns the transport of requests to providers. The
// cloud providers' URLs are the operator's and are dialled as they are;
// host endpoints, which API callers choose, only if the address they
// resolve to is not this machine, link-local (a cloud metadata service)
// or, unless allowed, private. An https origin's certificate must verify
// against the system roots or the CA certificates roots gives for it
// (hosts' TlsCertificate).
func providerTransport(cfg *config.Config, roots egress.RootsFunc) (*egress.HostTransport, error) {
	p := cfg.Providers
	g, err := egress.New(egress.Options{
		Trusted:      []string{p.GitHubWeb(), p.GitHubAPI(), p.GitLabWeb(), p.GitLabAPI(), p.BitbucketWeb(), p.BitbucketAPI()},
		AllowPrivate: cfg.AllowPrivateProviderEndpoints,
		Proxy:        http.ProxyFromEnvironment,
	})
	if err != nil {
		return nil, err
	}
	return g.HostTransport(roots), nil
}

// setupCloud reads the cloud providers' applications from the
// configuration (validated already, so a failure here is a file that
// changed since).
func setupCloud(cfg *config.Config) (setup.Cloud, error) {
	p := cfg.Providers
	cloud := setup.Cloud{
		GitHubWebURL: p.GitHubWeb(), GitHubAPIURL: p.GitHubAPI(),
		GitLabWebURL: p.GitLabWeb(), GitLabAPIURL: p.GitLabAPI(),
		BitbucketWebURL: p.BitbucketWeb(), BitbucketAPIURL: p.BitbucketAPI(),
	}
	for _, app := range cfg.GitHubApps {
		if !app.SetsUp() {
			continue
		}
		key, err := app.ReadPrivateKey()
		if err != nil {
			return setup.Cloud{}, err
		}
		secret, err := app.ReadClientSecret()
		if err != nil {
			return setup.Cloud{}, err
		}
		cloud.GitHubApps = append(cloud.GitHubApps, setup.GitHubAppKey{AppID: app.AppID, Slug: app.Slug, PrivateKey: key,
			ClientID: app.ClientID, ClientSecret: string(secret), Regions: app.Regions})
	}
	if a := p.GitLabApp; a != nil {
		secret, err := a.ReadClientSecret()
		if err != nil {
			return setup.Cloud{}, err
		}
		cloud.GitLabApp = &setup.OAuthClient{ID: a.ClientID, Secret: string(secret), Regions: a.Regions}
	}
	if b := p.BitbucketConsumer; b != nil {
		secret, err := b.ReadSecret()
		if err != nil {
			return setup.Cloud{}, err
		}
		cloud.BitbucketConsumer = &setup.OAuthClient{ID: b.Key, Secret: string(secret), Regions: b.Regions}
	}
	return cloud, nil
}

// runBackground runs the daemon's periodic work (the OAuth token
// refresher, the webhook reconciler); stop ends it and waits.
func runBackground(runs ...func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Go(func() { run(ctx) })
	}
	return func() { cancel(); wg.Wait() }
}
