package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/forgelink/forgelink/providers/bitbucket"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/store"
)

// tokenCheckTimeout bounds one token check, well within the minute the
// CLI waits for the whole CompleteConnection call.
const tokenCheckTimeout = 30 * time.Second

// providerTokens is the control plane's TokenChecker: each provider's
// package checks its own tokens.
type providerTokens struct {
	client *http.Client
}

// newProviderTokens checks tokens through tr, the provider transport
// (providerTransport).
func newProviderTokens(tr http.RoundTripper) providerTokens {
	return providerTokens{client: &http.Client{
		Transport: tr,
		Timeout:   tokenCheckTimeout,
		// A redirect could carry the token to another host: net/http drops
		// Authorization on a cross-host redirect, but not GitLab's
		// PRIVATE-TOKEN. A redirected check fails with the 3xx instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (p providerTokens) CheckToken(ctx context.Context, providerType, apiBaseURL, token string) (string, error) {
	switch providerType {
	case store.ProviderGitHub, store.ProviderGitHubEnterpriseServer:
		return github.CheckToken(ctx, p.client, apiBaseURL, token)
	case store.ProviderGitLab, store.ProviderGitLabSelfManaged:
		return gitlab.CheckToken(ctx, p.client, apiBaseURL, token)
	case store.ProviderBitbucket:
		return bitbucket.CheckToken(ctx, p.client, apiBaseURL, token)
	}
	return "", fmt.Errorf("no token check for provider type %q", providerType)
}
