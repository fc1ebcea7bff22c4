package main_test

// End-to-end test of issue 9's finding 8, host endpoints: a name that
// resolves to this machine passes the control plane (which sees only the
// name) and is refused when the daemon connects (relay/egress).

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

// loopbackName returns a name other than localhost that resolves only to
// loopback addresses (this machine's host name, through /etc/hosts), or
// skips the test.
func loopbackName(t *testing.T) string {
	t.Helper()
	// Whether the host name resolves to loopback is the machine's choice,
	// not something CI installs: .ci/run allows this skip.
	const hint = "map the host name to 127.0.1.1 in /etc/hosts to run this test"
	name, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name (%v); %s", err, hint)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(t.Context(), "ip", name)
	if err != nil || len(addrs) == 0 || strings.Contains(name, "localhost") {
		t.Skipf("host name %q does not resolve to loopback (%v); %s", name, err, hint)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			t.Skipf("host name %q resolves to %s, not only loopback; %s", name, a, hint)
		}
	}
	return name
}

// fakeGitLabUser is GitLab's GET /api/v4/user for one token (as
// PRIVATE-TOKEN or an OAuth bearer), recording the Host of every request.
func fakeGitLabUser(t *testing.T, token string) (*httptest.Server, func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		hosts []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodGet || r.URL.Path != "/api/v4/user":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"404 Not Found"}`)
		case r.Header.Get("PRIVATE-TOKEN") != token && r.Header.Get("Authorization") != "Bearer "+token:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"401 Unauthorized"}`)
		default:
			io.WriteString(w, `{"id":1,"username":"e2e"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), hosts...)
	}
}

// TestE2ESecurityEgressLoopbackName: a GitLab self-managed host whose
// endpoint names this machine never gets the OAuth application's secret,
// even with private endpoints allowed; the same fake, configured by the
// operator as gitlab.com, still answers.
func TestE2ESecurityEgressLoopbackName(t *testing.T) {
	e2e(t)
	name := loopbackName(t)
	const token = "e2e-egress-token"
	fake, requests := fakeGitLabUser(t, token)
	_, port, _ := net.SplitHostPort(fake.Listener.Addr().String())
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	writeFile(t, cfgPath, "allowHTTPProviderEndpoints: true\nallowPrivateProviderEndpoints: true\nproviders:\n  gitlabURL: "+fake.URL+"/api/v4\n")
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	cli := cliFor(t, d)
	secretFile := filepath.Join(dir, "secret")
	writeFile(t, secretFile, "app-secret\n")

	endpoint := "http://" + net.JoinHostPort(name, port)
	host := createHost(t, d.cc(), "rebound", "GitLabSelfManaged", endpoint)
	res := cli.run(t, "hosts", "configure-app", "--client-id", "app-id", "--client-secret-file", secretFile, host)
	if res.code == 0 || !strings.Contains(res.stderr, "forbidden address") || !strings.Contains(res.stderr, "InvalidInputException") {
		t.Errorf("hosts configure-app on %s: exit %d, stderr %q; want InvalidInputException naming the forbidden address", endpoint, res.code, res.stderr)
	}
	got, err := d.cc().GetHost(t.Context(), &codeconnections.GetHostInput{HostArn: &host})
	if err != nil || aws.ToString(got.Status) != "PENDING" {
		t.Errorf("host after the refusal: %v, %v; want PENDING", aws.ToString(got.Status), err)
	}

	// The operator's gitlab.com is the same fake, trusted as configured.
	created, err := d.cc().CreateConnection(t.Context(), &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("cloud"), ProviderType: cctypes.ProviderTypeGitlab})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, token+"\n")
	var out completeInfo
	cli.decode(t, &out, "connections", "complete", aws.ToString(created.ConnectionArn), "--token-file", tokenFile)
	if out.ConnectionStatus != "AVAILABLE" || out.Account != "e2e" {
		t.Errorf("connections complete on the configured gitlab.com: %+v, want AVAILABLE as e2e", out)
	}
	for _, h := range requests() {
		if h != fake.Listener.Addr().String() {
			t.Errorf("the fake was reached as %s: a request went to the host endpoint %s", h, endpoint)
		}
	}
	if n := len(requests()); n != 1 {
		t.Errorf("the fake got %d requests, want 1 (the token check on the configured gitlab.com)", n)
	}
}
