package main

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/console"
	"github.com/forgelink/forgelink/relay/controlplane"
	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/setup"
)

// setupTimeout bounds one provider call of the set-up (a token exchange,
// an installation lookup), well within a browser's patience.
const setupTimeout = 30 * time.Second

// daemonSetup is the provider set-up as the daemon runs it; svc is nil
// when the store cannot back it, and then nothing of it is offered.
type daemonSetup struct {
	svc *setup.Service
	// invalidate drops a connection from the ingress's cache; set once
	// the ingress, which needs svc, exists.
	invalidate func(id string)
}

// newSetup builds the provider set-up from the configuration: the cloud
// providers' URLs and the Apps and OAuth applications it names, with
// their secrets read once.
func newSetup(cfg *config.Config, st daemonStore, kr *keyring.Keyring, log *zap.Logger) (*daemonSetup, error) {
	d := &daemonSetup{}
	ss, ok := st.(setup.Store)
	if !ok {
		log.Warn("the store keeps no provider apps: the provider set-up is not offered")
		return d, nil
	}
	cloud, err := setupCloud(cfg)
	if err != nil {
		return nil, err
	}
	d.svc = setup.New(setup.Options{
		Store:   ss,
		Keyring: kr,
		Log:     log,
		Client: &http.Client{
			Timeout: setupTimeout,
			// A redirect could carry a secret to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		PublicURL:          cfg.PublicURL,
		Cloud:              cloud,
		AllowHTTPEndpoints: cfg.AllowHTTPProviderEndpoints,
		ConnectionChanged: func(id string) {
			if d.invalidate != nil {
				d.invalidate(id)
			}
		},
	})
	return d, nil
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
		cloud.GitHubApps = append(cloud.GitHubApps, setup.GitHubAppKey{AppID: app.AppID, Slug: app.Slug, PrivateKey: key})
	}
	if a := p.GitLabApp; a != nil {
		secret, err := a.ReadClientSecret()
		if err != nil {
			return setup.Cloud{}, err
		}
		cloud.GitLabApp = &setup.OAuthClient{ID: a.ClientID, Secret: string(secret)}
	}
	if b := p.BitbucketConsumer; b != nil {
		secret, err := b.ReadSecret()
		if err != nil {
			return setup.Cloud{}, err
		}
		cloud.BitbucketConsumer = &setup.OAuthClient{ID: b.Key, Secret: string(secret)}
	}
	return cloud, nil
}

// The set-up as each part of the daemon sees it: nil interfaces when it
// is not offered.

func (d *daemonSetup) registeredApps() ingress.AppSecrets {
	if d.svc == nil {
		return nil
	}
	return d.svc
}

func (d *daemonSetup) controlPlane() controlplane.Setup {
	if d.svc == nil {
		return nil
	}
	return d.svc
}

func (d *daemonSetup) revoker() controlplane.Revoker {
	if d.svc == nil {
		return nil
	}
	return d.svc
}

func (d *daemonSetup) console() console.Setup {
	if d.svc == nil {
		return nil
	}
	return d.svc
}

// mount serves the set-up pages and callbacks under /setup/.
func (d *daemonSetup) mount(mux *http.ServeMux) {
	if d.svc != nil {
		mux.Handle("/setup/", d.svc.Handler())
	}
}

// run starts the OAuth token refresher; stop ends it and waits.
func (d *daemonSetup) run() (stop func()) {
	if d.svc == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.svc.Run(ctx)
	}()
	return func() { cancel(); <-done }
}
