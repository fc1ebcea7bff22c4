package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/bitbucket"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/relay/hookreg"
	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/relay/keyring"
	"github.com/forgelink/forgelink/relay/setup"
	"github.com/forgelink/forgelink/store"
)

// hookTimeout bounds one provider call of the webhook registration.
const hookTimeout = 30 * time.Second

// newHookRegistry builds the reconciler of the webhooks forgelink
// registers on the repositories that links and pipelines name.
func newHookRegistry(cfg *config.Config, st daemonStore, kr *keyring.Keyring, ds *daemonSetup, pl *pipelines, reg prometheus.Registerer, log *zap.Logger) *hookreg.Reconciler {
	svc := ds.svc
	client := &http.Client{
		Transport: ds.transport,
		Timeout:   hookTimeout,
		// A redirect could carry the token to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return hookreg.New(hookreg.Options{
		Store: st,
		Hooks: func(ctx context.Context, conn store.Connection) (hookreg.Hooks, error) {
			return providerHooks(ctx, client, st, svc, conn)
		},
		Secret:       hookreg.CurrentSecret(st, kr, time.Now),
		WebhookURL:   func(id string) string { return cfg.PublicURL + ingress.WebhookPath(kr, id) },
		FormerURLs:   func(id string) []string { return []string{cfg.PublicURL + ingress.LegacyWebhookPath(id)} },
		Repositories: pl.repositories,
		MarkError:    svc.Rejected,
		Log:          log,
		// The previous secret is held for hooks not yet updated, but
		// never past the configured overlap from the rotation.
		SecretOverlap: cfg.Webhooks.SecretOverlap,
		Registerer:    reg,
	})
}

// credentialReader is what providerHooks needs to tell App connections.
type credentialReader interface {
	GetConnectionCredential(ctx context.Context, connID string) (store.Credential, error)
}

// providerHooks returns the hook manager of conn's provider, acting with
// the connection's own credential. A GitHub App connection needs none:
// the App's webhook already brings its repositories' events.
func providerHooks(ctx context.Context, client *http.Client, st credentialReader, svc *setup.Service, conn store.Connection) (hookreg.Hooks, error) {
	cred, err := st.GetConnectionCredential(ctx, conn.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("connection %s has no credential yet", conn.ID)
	}
	if err != nil {
		return nil, err
	}
	if cred.Kind == store.CredentialGitHubApp {
		return nil, nil
	}
	tok, err := svc.Token(ctx, conn)
	if err != nil {
		return nil, err
	}
	apiURL, err := svc.API(ctx, conn)
	if err != nil {
		return nil, err
	}
	return newHooks(client, conn.ProviderType, apiURL, tok)
}

func newHooks(client *http.Client, providerType, apiURL string, tok providers.Token) (hookreg.Hooks, error) {
	switch providerType {
	case store.ProviderGitHub, store.ProviderGitHubEnterpriseServer:
		return github.NewHooks(client, apiURL, tok)
	case store.ProviderGitLab, store.ProviderGitLabSelfManaged:
		return gitlab.NewHooks(client, apiURL, tok)
	case store.ProviderBitbucket:
		return bitbucket.NewHooks(client, apiURL, tok)
	}
	return nil, fmt.Errorf("no webhook registration for provider type %q", providerType)
}
