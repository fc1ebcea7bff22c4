package main

import (
	"net/http"

	"github.com/forgelink/forgelink/providers/bitbucket"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/relay/changes"
	"github.com/forgelink/forgelink/relay/setup"
	"github.com/forgelink/forgelink/store"
)

// newChangedFiles returns the delivery engine's dispatch.Files: each
// provider's package lists a push's changed files through its compare API,
// with the connection's token and API URL as the set-up service gives them
// for any kind of credential; a token the provider refuses puts the
// connection in ERROR. The engine bounds each call
// (dispatch.DefaultFilesTimeout). tr is the provider transport
// (providerTransport).
func newChangedFiles(st changes.Store, svc *setup.Service, tr http.RoundTripper) *changes.Resolver {
	return changes.New(changes.Options{
		Store:       st,
		Credentials: svc,
		Rejected:    svc.Rejected,
		Compare: map[string]changes.CompareFunc{
			store.ProviderGitHub:                 github.CompareFiles,
			store.ProviderGitHubEnterpriseServer: github.CompareFiles,
			store.ProviderGitLab:                 gitlab.CompareFiles,
			store.ProviderGitLabSelfManaged:      gitlab.CompareFiles,
			store.ProviderBitbucket:              bitbucket.CompareFiles,
		},
		PullRequestFiles: map[string]changes.PullRequestFunc{
			store.ProviderGitHub:                 github.PullRequestFiles,
			store.ProviderGitHubEnterpriseServer: github.PullRequestFiles,
			store.ProviderGitLab:                 gitlab.PullRequestFiles,
			store.ProviderGitLabSelfManaged:      gitlab.PullRequestFiles,
			store.ProviderBitbucket:              bitbucket.PullRequestFiles,
		},
		Client: &http.Client{
			Transport: tr,
			// As for token checks: a redirect could carry the token to
			// another host. A redirected comparison fails with the 3xx,
			// and the delivery goes out with its files incomplete.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	})
}
