package main

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/relay/tlstest"
	"github.com/forgelink/forgelink/store"
)

// hostList is a store's ListHosts over a slice, paged by id.
type hostList struct {
	hosts []store.Host
	reads int
	err   error
}

func (l *hostList) ListHosts(_ context.Context, _ store.HostFilter, p store.Page) ([]store.Host, error) {
	l.reads++
	var out []store.Host
	for _, h := range l.hosts {
		if h.ID > p.After && len(out) < p.Limit {
			out = append(out, h)
		}
	}
	return out, l.err
}

func hostAt(id, endpoint, cert string) store.Host {
	h := store.Host{ID: id, ProviderEndpoint: endpoint}
	if cert != "" {
		h.VPC = &store.VPCConfiguration{VPCID: "vpc-1", TLSCertificate: cert}
	}
	return h
}

func TestHostRoots(t *testing.T) {
	hosts := []store.Host{
		hostAt("a", "https://GHES.example.com", "CA-A\n"),
		hostAt("b", "https://ghes.example.com:443/", "CA-B"), // another region's host at the same endpoint
		hostAt("c", "https://gitlab.example.com:8443", "CA-C"),
		hostAt("d", "https://public.example.com", ""),
		hostAt("e", "://bad", "CA-E"),
	}
	for i := range 150 { // more than a page
		hosts = append(hosts, hostAt("p"+string(rune('a'+i/26))+string(rune('a'+i%26)), "https://x.example.com", ""))
	}
	tests := []struct {
		origin, want string
	}{
		{"ghes.example.com:443", "CA-A\nCA-B\n"},
		{"gitlab.example.com:8443", "CA-C\n"},
		{"gitlab.example.com:443", ""},
		{"public.example.com:443", ""},
		{"api.github.com:443", ""},
	}
	l := &hostList{hosts: hosts}
	h := newHostRoots(l, clocktest.New(time.Unix(1e9, 0)).Now)
	for _, tt := range tests {
		got, err := h.roots(t.Context(), tt.origin)
		if err != nil || string(got) != tt.want {
			t.Errorf("roots(%s) = %q, %v; want %q", tt.origin, got, err, tt.want)
		}
	}
	if l.reads != 2 {
		t.Errorf("%d store reads for %d look-ups within the TTL, want 2 (two pages)", l.reads, len(tests))
	}
}

// TestHostRootsFollowUpdates: a certificate changed by UpdateHost is
// trusted once the TTL has passed; a store that cannot be read is an
// error, not the system roots alone.
func TestHostRootsFollowUpdates(t *testing.T) {
	clk := clocktest.New(time.Unix(1e9, 0))
	l := &hostList{hosts: []store.Host{hostAt("a", "https://ghes.example.com", "OLD")}}
	h := newHostRoots(l, clk.Now)
	steps := []struct {
		after   time.Duration
		change  func()
		want    string
		wantErr bool
	}{
		{0, func() {}, "OLD\n", false},
		{hostRootsTTL - time.Millisecond, func() { l.hosts[0].VPC.TLSCertificate = "NEW" }, "OLD\n", false},
		{time.Millisecond, func() {}, "NEW\n", false},
		{hostRootsTTL, func() { l.hosts[0].VPC = nil }, "", false},
		{hostRootsTTL, func() { l.err = errors.New("store down") }, "", true},
	}
	for i, s := range steps {
		clk.Add(s.after)
		s.change()
		got, err := h.roots(t.Context(), "ghes.example.com:443")
		if string(got) != s.want || (err != nil) != s.wantErr {
			t.Errorf("step %d: %q, %v; want %q, error %v", i, got, err, s.want, s.wantErr)
		}
	}
}

// fakeGitLab is a GitLab self-managed instance as far as these calls go:
// the current user, a comparison and the OAuth token endpoint, which
// answers a made-up code invalid_grant as GitLab does for a client it
// knows.
func fakeGitLab(token string) http.Handler {
	mux := http.NewServeMux()
	authorized := func(r *http.Request) bool { return r.Header.Get("PRIVATE-TOKEN") == token }
	mux.HandleFunc("GET /api/v4/user", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":1,"username":"e2e"}`))
	})
	mux.HandleFunc("GET /api/v4/projects/{id}/repository/compare", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"commit":{"id":"b"},"commits":[{"id":"b"}],"diffs":[{"old_path":"a.go","new_path":"a.go","diff":""}],"compare_timeout":false}`))
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"The provided authorization grant is invalid"}`))
	})
	return mux
}

// TestHostTLSProviderCalls: a fake GHES and a fake GitLab behind a private
// CA answer set-up, token, clone token, hook and compare calls made
// through the daemon's provider transport when their hosts carry the CA
// as TlsCertificate, and fail with x509's unknown authority, named as
// such and without the token, when they do not.
func TestHostTLSProviderCalls(t *testing.T) {
	const token = "glpat-e2eSECRETtoken"
	ca := tlstest.NewCA(t)
	gh := githubtest.New(t, githubtest.Options{APIPrefix: "/api/v3", User: "e2e", TLS: ca.ServerConfig(t)})
	gh.AddRepo("octo-org/widget")
	gh.AddToken(token, githubtest.Admin)
	app := gh.AddApp(githubtest.App{Name: "forgelink-ghes"})
	inst := gh.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "octo-org"})
	gl := ca.Serve(t, fakeGitLab(token))
	calls := []struct {
		name string
		call func(ctx context.Context, c *http.Client) error
	}{
		{"GHES token check", func(ctx context.Context, c *http.Client) error {
			_, err := github.CheckToken(ctx, c, gh.APIURL, token)
			return err
		}},
		{"GHES hook", func(ctx context.Context, c *http.Client) error {
			h, err := github.NewHooks(c, gh.APIURL, providers.Token{Value: token})
			if err == nil {
				_, err = h.Ensure(ctx, "octo-org/widget", providers.HookSpec{URL: "https://forgelink.example/webhooks/c/t", Secret: "s"})
			}
			return err
		}},
		{"GHES App manifest (host set-up)", func(ctx context.Context, c *http.Client) error {
			_, err := github.ConvertManifest(ctx, c, gh.APIURL, gh.ManifestCode(app.ID))
			return err
		}},
		{"GHES App clone token (git-credential)", func(ctx context.Context, c *http.Client) error {
			a, err := github.NewApp(c, gh.APIURL, app.ID, app.PrivateKeyPEM())
			if err == nil {
				_, err = a.RepositoryToken(ctx, inst.ID, "octo-org/widget")
			}
			return err
		}},
		{"GitLab token check", func(ctx context.Context, c *http.Client) error {
			_, err := gitlab.CheckToken(ctx, c, gl.URL+"/api/v4", token)
			return err
		}},
		{"GitLab compare", func(ctx context.Context, c *http.Client) error {
			_, err := gitlab.CompareFiles(ctx, c, gl.URL+"/api/v4", providers.Token{Value: token}, "group/api", "a", "b")
			return err
		}},
		{"GitLab OAuth application (host set-up)", func(ctx context.Context, c *http.Client) error {
			return gitlab.CheckOAuthApp(ctx, c, gl.URL, "client", "secret", "https://forgelink.example/setup/callback/gitlab")
		}},
	}
	for _, withCA := range []bool{true, false} {
		cert := ""
		if withCA {
			cert = string(ca.PEM)
		}
		hosts := &hostList{hosts: []store.Host{hostAt("ghes", gh.URL, cert), hostAt("gitlab", gl.URL, cert)}}
		// The fakes listen on loopback, which only a configured cloud URL
		// may: that makes their origins trusted at dial time, nothing more.
		cfg := &config.Config{Providers: config.Providers{GitHubAPIURL: gh.URL + "/", GitLabURL: gl.URL}}
		tr, err := providerTransport(cfg, newHostRoots(hosts, time.Now).roots)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for _, c := range calls {
			err := c.call(t.Context(), client)
			switch {
			case withCA && err != nil:
				t.Errorf("%s with the host's CA: %v", c.name, err)
			case withCA:
			case !errors.Is(err, egress.ErrUntrustedCertificate) || !errors.As(err, new(x509.UnknownAuthorityError)) ||
				!strings.Contains(err.Error(), "certificate signed by unknown authority") || strings.Contains(err.Error(), "SECRET"):
				t.Errorf("%s without the host's CA: %v; want x509's unknown authority, named, without the token", c.name, err)
			}
		}
		tr.CloseIdleConnections()
	}
}
