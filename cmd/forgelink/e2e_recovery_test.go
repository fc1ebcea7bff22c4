//go:build unix

// Recovery of missed webhooks end to end: the daemon is stopped while
// pushes happen at a fake GitHub (which records the failed deliveries, as
// GitHub does and never retries); started again, it finds them in the
// hook's delivery log and has GitHub redeliver them, and each missed push
// reaches the pipeline's target exactly once.

package main_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers/github/githubtest"
	"github.com/forgelink/forgelink/store"
)

// switchProxy is the daemon's stable public URL across restarts (a
// restarted daemon listens on another port): it forwards to the running
// daemon, answers 502 while none runs (a failed delivery, for GitHub),
// and holds requests while one is starting.
type switchProxy struct {
	*httptest.Server
	mu      sync.Mutex
	target  *url.URL
	holding bool
	changed *sync.Cond
}

func newSwitchProxy(t *testing.T) *switchProxy {
	p := &switchProxy{}
	p.changed = sync.NewCond(&p.mu)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		for p.holding && p.target == nil {
			p.changed.Wait()
		}
		target := p.target
		p.mu.Unlock()
		if target == nil {
			http.Error(w, "daemon down", http.StatusBadGateway)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(func() { p.point(""); p.Close() })
	return p
}

// point forwards to rawURL; "" answers 502.
func (p *switchProxy) point(rawURL string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target, p.holding = nil, false
	if rawURL != "" {
		p.target, _ = url.Parse(rawURL)
	}
	p.changed.Broadcast()
}

// hold makes requests wait for the next point.
func (p *switchProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target, p.holding = nil, true
}

func TestE2ERecoveryRedeliversMissedPushes(t *testing.T) {
	e2e(t)
	cfgDir := t.TempDir()
	secret := newSigningSecret(t, cfgDir, "signing-secret")
	rc := newReceiver(t, secret, nil)
	gh := githubtest.New(t, githubtest.Options{User: "e2e"})
	gh.AddRepo("octo-org/widget")
	gh.AddToken(e2eToken, githubtest.Admin)
	proxy := newSwitchProxy(t)
	cfgPath := filepath.Join(cfgDir, "forgelink.yaml")
	base := fmt.Sprintf("publicURL: %s\nproviders:\n  githubAPIURL: %s\n", proxy.URL, gh.APIURL)
	writeFile(t, cfgPath, base)
	dataDir := t.TempDir()
	opts := daemonOptions{dataDir: dataDir, env: []string{"FORGELINK_CONFIG=" + cfgPath}}
	d := startDaemon(t, opts)
	proxy.point(d.url)
	cli := cliFor(t, d)
	conn := publicHookConn(t, cli, "recovery", proxy.URL)
	cli.complete(t, conn)
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: ci
    type: http
    http: {url: %s/ci, secretFile: signing-secret, timeout: 2s}
    retry: {initialInterval: 10ms, maxInterval: 50ms, maxAttempts: 5, maxAge: 1h}
pipelines:
  - name: app
    connectionArn: %s
    repository: octo-org/widget
    executionMode: PARALLEL
    target: ci
    triggers:
      push:
        - branches: {includes: ["*"]}
`, rc.URL, conn.arn))
	d.hup(t)
	waitFor(t, "the pipeline's hook at GitHub", 20*time.Second, func() (bool, string) {
		hooks := gh.Hooks("octo-org/widget")
		return len(hooks) == 1 && hooks[0].URL == proxy.URL+conn.path, fmt.Sprintf("%+v", hooks)
	})
	hookID := gh.Hooks("octo-org/widget")[0].ID
	push := func() (githubtest.Delivery, string) {
		after := randomCommit()
		return gh.Push(t.Context(), "octo-org/widget", hookID, "push", pushEvent{ref: "refs/heads/main", repo: "octo-org/widget", after: after, modified: []string{"a.go"}}.body()), after
	}
	live, _ := push()
	if live.Status != "OK" {
		t.Fatalf("a push while the daemon runs: %+v", live)
	}
	waitFor(t, "the live push at the target", 20*time.Second, func() (bool, string) { return len(rc.got()) == 1, fmt.Sprint(rc.got()) })

	// Down: GitHub's deliveries fail and stay failed.
	d.stop(t)
	proxy.point("")
	var missed []string
	for range 3 {
		dl, _ := push()
		if dl.Status == "OK" {
			t.Fatalf("a push while the daemon is down was delivered: %+v", dl)
		}
		missed = append(missed, dl.GUID)
	}

	// Up again: the first round redelivers each missed push, once.
	proxy.hold()
	d = startDaemon(t, opts)
	proxy.point(d.url)
	want := append([]string{live.GUID}, missed...)
	slices.Sort(want)
	waitFor(t, "every missed push at the target", 30*time.Second, func() (bool, string) {
		return len(rc.got()) >= len(want), fmt.Sprint(len(rc.got()))
	})
	waitFor(t, "the recovery round's log line", 10*time.Second, func() (bool, string) {
		for _, e := range d.logEntries("recovery round") {
			if e["redelivered"] == float64(3) {
				return true, ""
			}
		}
		return false, fmt.Sprint(d.logEntries("recovery round"))
	})
	var got []string
	for _, r := range rc.got() {
		got = append(got, r.msg.ProviderDeliveryID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the target got provider deliveries %v, want %v: each push exactly once", got, want)
	}
	rc.check(t)
	if log := gh.Deliveries("octo-org/widget", hookID); len(log) != 7 {
		t.Errorf("GitHub's log has %d attempts, want 7 (4 pushes, 3 redeliveries)", len(log))
	}
}

// publicHookConn creates a GitHub connection whose webhook URL is under
// the daemon's public URL.
func publicHookConn(t *testing.T, cli forgelinkCLI, name, publicURL string) hookConn {
	t.Helper()
	var created struct{ ConnectionArn string }
	cli.decode(t, &created, "connections", "create", "--name", name, "--provider-type", store.ProviderGitHub)
	arn := created.ConnectionArn
	var w webhookInfo
	cli.decode(t, &w, "connections", "webhook", arn)
	path, ok := strings.CutPrefix(w.URL, publicURL)
	if !ok || len(w.Secret) < 32 {
		t.Fatalf("connections webhook %s = %+v, want its URL under %s", arn, w, publicURL)
	}
	return hookConn{arn: arn, id: arn[strings.LastIndexByte(arn, '/')+1:], provider: store.ProviderGitHub, secret: w.Secret, path: path}
}
