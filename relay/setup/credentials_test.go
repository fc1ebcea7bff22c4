package setup

import (
	"errors"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/store"
)

func TestAPI(t *testing.T) {
	cloud := func(o *Options) {
		o.Cloud = Cloud{GitHubAPIURL: "https://api.github.test/", GitLabAPIURL: "https://gitlab.test/api/v4",
			BitbucketAPIURL: "https://api.bitbucket.test/2.0"}
	}
	strict := newFixture(t, cloud)
	lax := newFixture(t, cloud, func(o *Options) { o.AllowHTTPEndpoints = true })
	tests := []struct {
		name     string
		f        *fixture
		provider string
		endpoint string // a host of provider is created with it when set
		want     string
		wantErr  bool
	}{
		{name: "github", f: strict, provider: store.ProviderGitHub, want: "https://api.github.test/"},
		{name: "gitlab", f: strict, provider: store.ProviderGitLab, want: "https://gitlab.test/api/v4"},
		{name: "bitbucket", f: strict, provider: store.ProviderBitbucket, want: "https://api.bitbucket.test/2.0"},
		{name: "ghes", f: strict, provider: store.ProviderGitHubEnterpriseServer,
			endpoint: "https://ghe.example.com/", want: "https://ghe.example.com/api/v3/"},
		{name: "gitlab self-managed", f: strict, provider: store.ProviderGitLabSelfManaged,
			endpoint: "https://git.example.com/gitlab", want: "https://git.example.com/gitlab/api/v4"},
		{name: "plain http refused", f: strict, provider: store.ProviderGitLabSelfManaged,
			endpoint: "http://git.example.com", wantErr: true},
		{name: "plain http allowed", f: lax, provider: store.ProviderGitHubEnterpriseServer,
			endpoint: "http://ghe.example.com", want: "http://ghe.example.com/api/v3/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := store.Connection{ID: "c-" + tc.name, ProviderType: tc.provider}
			if tc.endpoint != "" {
				conn.HostID = tc.f.host(t, tc.provider, tc.endpoint, store.StatusAvailable).ID
			}
			got, err := tc.f.svc.API(t.Context(), conn)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("API = %q, %v; want %q (error: %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
	t.Run("missing host", func(t *testing.T) {
		conn := store.Connection{ID: "c-missing", ProviderType: store.ProviderGitLabSelfManaged, HostID: "gone-0123abcd"}
		if _, err := strict.svc.API(t.Context(), conn); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("API = %v, want ErrNotFound", err)
		}
	})
	t.Run("unknown provider type", func(t *testing.T) {
		if got, err := strict.svc.API(t.Context(), store.Connection{ID: "c-x", ProviderType: "Gitea"}); err == nil {
			t.Errorf("API = %q, want an error", got)
		}
	})
}

func TestGitHost(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Cloud = Cloud{GitHubWebURL: "https://github.com", GitLabWebURL: "https://gitlab.com",
			BitbucketWebURL: "https://bitbucket.org"}
	})
	tests := []struct {
		provider, endpoint, want string
	}{
		{store.ProviderGitHub, "", "github.com"},
		{store.ProviderGitLab, "", "gitlab.com"},
		{store.ProviderBitbucket, "", "bitbucket.org"},
		{store.ProviderGitHubEnterpriseServer, "https://GHE.example.com:8443/", "ghe.example.com"},
		{store.ProviderGitLabSelfManaged, "https://git.example.com/gitlab", "git.example.com"},
	}
	for _, tc := range tests {
		conn := store.Connection{ID: "c-" + tc.provider, ProviderType: tc.provider}
		if tc.endpoint != "" {
			conn.HostID = f.host(t, tc.provider, tc.endpoint, store.StatusAvailable).ID
		}
		got, err := f.svc.GitHost(t.Context(), conn)
		if err != nil || !strings.EqualFold(got, tc.want) {
			t.Errorf("GitHost(%s) = %q, %v; want %q", tc.provider, got, err, tc.want)
		}
	}
	if got, err := f.svc.GitHost(t.Context(), store.Connection{ID: "c-x", ProviderType: "Gitea"}); err == nil {
		t.Errorf("GitHost(unknown provider) = %q, want an error", got)
	}
}
