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

// recoveryDaemon is a daemon with one GitHub connection and its pipeline
// "app" on octo-org/widget at a fake GitHub, behind a switchProxy.
type recoveryDaemon struct {
	d      *daemon
	opts   daemonOptions
	gh     *githubtest.Server
	proxy  *switchProxy
	rc     *receiver
	conn   hookConn
	hookID int64
}

func startRecoveryDaemon(t *testing.T, branches, recovery string) *recoveryDaemon {
	t.Helper()
	cfgDir := t.TempDir()
	secret := newSigningSecret(t, cfgDir, "signing-secret")
	r := &recoveryDaemon{rc: newReceiver(t, secret, nil), gh: githubtest.New(t, githubtest.Options{User: "e2e"}), proxy: newSwitchProxy(t)}
	r.gh.AddRepo("octo-org/widget")
	r.gh.AddToken(e2eToken, githubtest.Admin)
	cfgPath := filepath.Join(cfgDir, "forgelink.yaml")
	base := fmt.Sprintf("publicURL: %s\nproviders:\n  githubAPIURL: %s\n", r.proxy.URL, r.gh.APIURL)
	writeFile(t, cfgPath, base)
	r.opts = daemonOptions{dataDir: t.TempDir(), env: []string{"FORGELINK_CONFIG=" + cfgPath}}
	r.d = startDaemon(t, r.opts)
	r.proxy.point(r.d.url)
	cli := cliFor(t, r.d)
	r.conn = publicHookConn(t, cli, "recovery", r.proxy.URL)
	cli.complete(t, r.conn)
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
        - branches: {includes: [%s]}
%s`, r.rc.URL, r.conn.arn, branches, recovery))
	r.d.hup(t)
	waitFor(t, "the pipeline's hook at GitHub", 20*time.Second, func() (bool, string) {
		hooks := r.gh.Hooks("octo-org/widget")
		return len(hooks) == 1 && hooks[0].URL == r.proxy.URL+r.conn.path, fmt.Sprintf("%+v", hooks)
	})
	r.hookID = r.gh.Hooks("octo-org/widget")[0].ID
	return r
}

// restart stops the daemon (its webhooks fail meanwhile) and, after
// between, starts it again on the same data directory.
func (r *recoveryDaemon) restart(t *testing.T, between func()) {
	t.Helper()
	r.d.stop(t)
	r.proxy.point("")
	between()
	r.proxy.hold()
	r.d = startDaemon(t, r.opts)
	r.proxy.point(r.d.url)
}

// push makes GitHub deliver a push of after to main now.
func (r *recoveryDaemon) push(t *testing.T, after string) githubtest.Delivery {
	return r.gh.Push(t.Context(), "octo-org/widget", r.hookID, "push",
		pushEvent{ref: "refs/heads/main", repo: "octo-org/widget", after: after, modified: []string{"a.go"}}.body())
}

func TestE2ERecoveryRedeliversMissedPushes(t *testing.T) {
	e2e(t)
	r := startRecoveryDaemon(t, `"*"`, "")
	gh, rc := r.gh, r.rc
	live := r.push(t, randomCommit())
	if live.Status != "OK" {
		t.Fatalf("a push while the daemon runs: %+v", live)
	}
	waitFor(t, "the live push at the target", 20*time.Second, func() (bool, string) { return len(rc.got()) == 1, fmt.Sprint(rc.got()) })

	// Down: GitHub's deliveries fail and stay failed. Up again: the first
	// round redelivers each missed push, once.
	var missed []string
	r.restart(t, func() {
		for range 3 {
			dl := r.push(t, randomCommit())
			if dl.Status == "OK" {
				t.Fatalf("a push while the daemon is down was delivered: %+v", dl)
			}
			missed = append(missed, dl.GUID)
		}
	})
	want := append([]string{live.GUID}, missed...)
	slices.Sort(want)
	waitFor(t, "every missed push at the target", 30*time.Second, func() (bool, string) {
		return len(rc.got()) >= len(want), fmt.Sprint(len(rc.got()))
	})
	waitFor(t, "the recovery round's log line", 10*time.Second, func() (bool, string) {
		for _, e := range r.d.logEntries("recovery round") {
			if e["redelivered"] == float64(3) {
				return true, ""
			}
		}
		return false, fmt.Sprint(r.d.logEntries("recovery round"))
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
	// events list --recovered shows what recovery brought back.
	var listed struct {
		Events []struct {
			DeliveryID string `json:"DeliveryId"`
		}
	}
	cliFor(t, r.d).decode(t, &listed, "events", "list", "--recovered", "-o", "json")
	var recovered []string
	for _, e := range listed.Events {
		recovered = append(recovered, e.DeliveryID)
	}
	slices.Sort(recovered)
	slices.Sort(missed)
	if !slices.Equal(recovered, missed) {
		t.Errorf("events list --recovered = %v, want the missed pushes %v", recovered, missed)
	}
	if log := gh.Deliveries("octo-org/widget", r.hookID); len(log) != 7 {
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

// TestE2ERecoveryPollsAndSynthesises: with recovery.poll on, a head that
// moved while the daemon was down and no webhook came becomes a
// synthesised push, delivered once; the late real webhook of the same
// push is recorded but delivers nothing again.
func TestE2ERecoveryPollsAndSynthesises(t *testing.T) {
	e2e(t)
	r := startRecoveryDaemon(t, "main", "recovery:\n  poll:\n    pipelines: [app]\n")
	before, after := randomCommit(), randomCommit()
	r.gh.SetHead("octo-org/widget", "refs/heads/main", before)
	// The first sight of the branch records its head, synthesising nothing.
	r.restart(t, func() {})
	waitFor(t, "the first poll", 10*time.Second, func() (bool, string) {
		return len(r.d.logEntries("recovery round")) > 0, ""
	})
	// A push while down whose webhook never came (a hook that broke).
	r.restart(t, func() { r.gh.SetHead("octo-org/widget", "refs/heads/main", after) })
	waitFor(t, "the synthesised push at the target", 20*time.Second, func() (bool, string) {
		return len(r.rc.got()) == 1, fmt.Sprint(r.rc.got())
	})
	got := r.rc.got()[0].msg
	if !strings.HasPrefix(got.ProviderDeliveryID, "forgelink-synthesized:") || got.Push == nil || got.Push.Before != before || got.Push.After != after {
		t.Errorf("the synthesised delivery: provider delivery id %q, push %+v; want it marked, from %s to %s", got.ProviderDeliveryID, got.Push, before, after)
	}
	// The webhook arrives late: recorded, not delivered again.
	if late := r.push(t, after); late.Status != "OK" {
		t.Fatalf("the late webhook: %+v", late)
	}
	waitFor(t, "the late webhook recorded without deliveries", 10*time.Second, func() (bool, string) {
		return r.d.logged("webhook of a push already synthesised by polling: recorded without deliveries"), ""
	})
	// A later push is delivered as usual: only the same push is held back.
	next := randomCommit()
	if dl := r.push(t, next); dl.Status != "OK" {
		t.Fatalf("the next webhook: %+v", dl)
	}
	waitFor(t, "the next push at the target", 20*time.Second, func() (bool, string) {
		return slices.ContainsFunc(r.rc.got(), func(x receipt) bool { return x.msg.Push != nil && x.msg.Push.After == next }), ""
	})
	var afters []string
	for _, x := range r.rc.got() {
		afters = append(afters, x.msg.Push.After)
	}
	if !slices.Equal(afters, []string{after, next}) {
		t.Errorf("the target got pushes of %v, want %v: the synthesised push once, then the next", afters, []string{after, next})
	}
	r.rc.check(t)
}

// fakeBitbucket serves what a polled Bitbucket Cloud connection needs:
// GET /2.0/user and GET /2.0/repositories/ws/app/refs/branches/{name}
// for a bearer token (401 otherwise); anything else 404 (the hook
// registry's calls fail, and the pipeline's refs are polled all the same).
type fakeBitbucket struct {
	*httptest.Server
	mu    sync.Mutex
	heads map[string]string
	reads int
}

func newFakeBitbucket(t *testing.T) *fakeBitbucket {
	f := &fakeBitbucket{heads: map[string]string{}}
	mux := http.NewServeMux()
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer "+e2eToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"type":"error","error":{"message":"Unauthorized"}}`)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /2.0/user", func(w http.ResponseWriter, r *http.Request) {
		if auth(w, r) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"type":"user","username":"e2e","display_name":"E2E","uuid":"{1}"}`)
		}
	})
	mux.HandleFunc("GET /2.0/repositories/ws/app/refs/branches/{name...}", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		f.mu.Lock()
		f.reads++
		hash, ok := f.heads[r.PathValue("name")]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"type":"error","error":{"message":"Branch not found"}}`)
			return
		}
		fmt.Fprintf(w, `{"type":"branch","name":%q,"target":{"type":"commit","hash":%q}}`, r.PathValue("name"), hash)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBitbucket) set(branch, hash string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heads[branch] = hash
}

// TestE2ERecoveryBitbucketByPolling: Bitbucket Cloud keeps no delivery
// log forgelink could read, so its pipelines' branches are polled: heads
// that moved while the daemon was down become one synthesised push each,
// delivered exactly once.
func TestE2ERecoveryBitbucketByPolling(t *testing.T) {
	e2e(t)
	cfgDir := t.TempDir()
	secret := newSigningSecret(t, cfgDir, "signing-secret")
	rc := newReceiver(t, secret, nil)
	bb := newFakeBitbucket(t)
	cfgPath := filepath.Join(cfgDir, "forgelink.yaml")
	base := fmt.Sprintf("providers:\n  bitbucketAPIURL: %s/2.0\n", bb.URL)
	writeFile(t, cfgPath, base)
	opts := daemonOptions{dataDir: t.TempDir(), env: []string{"FORGELINK_CONFIG=" + cfgPath}}
	d := startDaemon(t, opts)
	cli := cliFor(t, d)
	var created struct{ ConnectionArn string }
	cli.decode(t, &created, "connections", "create", "--name", "bb", "--provider-type", store.ProviderBitbucket)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, e2eToken+"\n")
	var done completeInfo
	cli.decode(t, &done, "connections", "complete", created.ConnectionArn, "--token-file", tokenFile)
	if done.ConnectionStatus != store.StatusAvailable {
		t.Fatalf("connections complete: %+v", done)
	}
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: ci
    type: http
    http: {url: %s/ci, secretFile: signing-secret, timeout: 2s}
    retry: {initialInterval: 10ms, maxInterval: 50ms, maxAttempts: 5, maxAge: 1h}
pipelines:
  - name: app
    connectionArn: %s
    repository: ws/app
    executionMode: PARALLEL
    target: ci
    triggers:
      push:
        - branches: {includes: [main, dev]}
`, rc.URL, created.ConnectionArn))
	bb.set("main", randomCommit())
	bb.set("dev", randomCommit())
	restart := func() {
		d.stop(t)
		d = startDaemon(t, opts)
		waitFor(t, "a recovery round that read both branches", 10*time.Second, func() (bool, string) {
			for _, e := range d.logEntries("recovery round") {
				if e["polled"] == float64(2) {
					return true, ""
				}
			}
			return false, fmt.Sprint(d.logEntries("recovery round"))
		})
	}
	restart() // the first read records the heads only
	if got := rc.got(); len(got) != 0 {
		t.Fatalf("the first read of the heads delivered %d pushes", len(got))
	}
	mainHead, devHead := randomCommit(), randomCommit()
	d.stop(t)
	bb.set("main", mainHead) // pushed while the daemon was down
	bb.set("dev", devHead)
	d = startDaemon(t, opts)
	waitFor(t, "both synthesised pushes at the target", 20*time.Second, func() (bool, string) {
		return len(rc.got()) == 2, fmt.Sprint(len(rc.got()))
	})
	restart() // nothing moved: nothing more
	for _, e := range d.logEntries("recovery round") {
		if e["synthesized"] != float64(0) {
			t.Errorf("a round after a restart with no push synthesised: %v", e)
		}
	}
	var afters []string
	for _, r := range rc.got() {
		afters = append(afters, r.msg.Push.After)
	}
	slices.Sort(afters)
	want := []string{mainHead, devHead}
	slices.Sort(want)
	if !slices.Equal(afters, want) {
		t.Errorf("the target got pushes of %v, want each moved head once: %v", afters, want)
	}
	rc.check(t)
}
