package setup

import (
	"errors"
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

func TestGitOrigin(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Cloud = Cloud{GitHubWebURL: "https://github.com", GitLabWebURL: "https://gitlab.com",
			BitbucketWebURL: "http://bitbucket.test:8080/"}
	})
	tests := []struct {
		provider, endpoint, scheme, hostport string
	}{
		{store.ProviderGitHub, "", "https", "github.com"},
		{store.ProviderGitLab, "", "https", "gitlab.com"},
		{store.ProviderBitbucket, "", "http", "bitbucket.test:8080"},
		{store.ProviderGitHubEnterpriseServer, "https://GHE.example.com:8443/", "https", "ghe.example.com:8443"},
		{store.ProviderGitLabSelfManaged, "https://git.example.com/gitlab", "https", "git.example.com"},
	}
	for _, tc := range tests {
		conn := store.Connection{ID: "c-" + tc.provider, ProviderType: tc.provider}
		if tc.endpoint != "" {
			conn.HostID = f.host(t, tc.provider, tc.endpoint, store.StatusAvailable).ID
		}
		scheme, hostport, err := f.svc.GitOrigin(t.Context(), conn)
		if err != nil || scheme != tc.scheme || hostport != tc.hostport {
			t.Errorf("GitOrigin(%s) = %q, %q, %v; want %q, %q", tc.provider, scheme, hostport, err, tc.scheme, tc.hostport)
		}
	}
	if _, _, err := f.svc.GitOrigin(t.Context(), store.Connection{ID: "c-x", ProviderType: "Gitea"}); err == nil {
		t.Error("GitOrigin(unknown provider): want an error")
	}
	// A plain-HTTP host endpoint that is not allowed (any more) is no origin.
	conn := store.Connection{ID: "c-http", ProviderType: store.ProviderGitLabSelfManaged}
	conn.HostID = f.host(t, store.ProviderGitLabSelfManaged, "http://git.example.com", store.StatusAvailable).ID
	if _, _, err := f.svc.GitOrigin(t.Context(), conn); err == nil {
		t.Error("GitOrigin(http host, not allowed): want an error")
	}
}
