//go:build unix

// Pipelines end to end: signed GitHub pushes go into the real daemon, are
// matched against the pipelines of its configuration (reloaded with
// SIGHUP) and reach an http target, a test receiver that verifies their
// Standard Webhooks signatures. TestE2EPipelineKillTwice is the fault test:
// the daemon is killed twice while pushes pour in, and every accepted one
// must still reach the receiver.

package main_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/relay/notify/webhook"
	"github.com/forgelink/forgelink/store"
)

// e2eToken is the access token the fake GitHub API accepts.
const e2eToken = "ghp_forgelinkE2EToken0123456789"

// receipt is one request the test receiver got.
type receipt struct {
	path      string // /ci or /flaky
	webhookID string
	msg       notify.Message
	status    int // what the receiver answered
}

// receiver is an http pipeline target: it verifies each request's Standard
// Webhooks signature and records the message. Under /flaky it answers the
// first attempt of each delivery with 500.
type receiver struct {
	*httptest.Server
	secret string

	mu       sync.Mutex
	receipts []receipt
	problems []string // signature failures, undecodable bodies
}

func newReceiver(t *testing.T, secret string, delay func()) *receiver {
	rc := &receiver{secret: secret}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // the daemon was killed mid-request
		}
		id := r.Header.Get(webhook.HeaderID)
		if err := webhook.Verify(secret, r.Header, body, time.Minute, time.Now()); err != nil {
			rc.problem("%s delivery %q: signature: %v", r.URL.Path, id, err)
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil || m.DeliveryID != id {
			rc.problem("%s delivery %q: body is not a message with that delivery id (%v): %.200s", r.URL.Path, id, err, body)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if delay != nil {
			delay()
		}
		rc.mu.Lock()
		status := http.StatusOK
		if r.URL.Path == "/flaky" && !slices.ContainsFunc(rc.receipts, func(x receipt) bool { return x.webhookID == id }) {
			status = http.StatusInternalServerError
		}
		rc.receipts = append(rc.receipts, receipt{r.URL.Path, id, m, status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) problem(format string, args ...any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.problems = append(rc.problems, fmt.Sprintf(format, args...))
}

func (rc *receiver) got() []receipt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.receipts)
}

// check fails the test if any request was not properly signed.
func (rc *receiver) check(t *testing.T) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, p := range rc.problems {
		t.Errorf("receiver: %s", p)
	}
}

// newSigningSecret writes a Standard Webhooks secret into dir/name.
func newSigningSecret(t *testing.T, dir, name string) string {
	t.Helper()
	secret := "whsec_" + base64.StdEncoding.EncodeToString(randomBytes(32))
	if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return secret
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// randomCommit is a fresh 40-hex commit id: each push's unique marker.
func randomCommit() string { return hex.EncodeToString(randomBytes(20)) }

// fakeGitHub answers GET /user for e2eToken, as api.github.com does.
func fakeGitHub(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/user" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+e2eToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Bad credentials"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"login":"e2e","id":1,"type":"User"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// pushEvent is a GitHub push webhook payload, reduced to what forgelink
// reads.
type pushEvent struct {
	ref, repo, after string
	modified         []string
}

func (p pushEvent) body() []byte {
	owner, name, _ := strings.Cut(p.repo, "/")
	commit := map[string]any{
		"id": p.after, "tree_id": p.after, "distinct": true, "message": "change " + strings.Join(p.modified, ", "),
		"timestamp": "2026-01-02T03:04:05Z", "url": "https://github.com/" + p.repo + "/commit/" + p.after,
		"author": map[string]string{"name": "E2E", "email": "e2e@example.com", "username": "e2e"},
		"added":  []string{}, "removed": []string{}, "modified": p.modified,
	}
	tag := strings.HasPrefix(p.ref, "refs/tags/")
	before := strings.Repeat("0", 40)
	if !tag {
		before = randomCommit()
	}
	commits := []any{commit}
	if tag {
		commits = []any{}
	}
	b, err := json.Marshal(map[string]any{
		"ref": p.ref, "before": before, "after": p.after, "created": tag, "deleted": false, "forced": false,
		"base_ref": nil, "compare": "https://github.com/" + p.repo + "/compare/x",
		"repository": map[string]any{
			"id": 1, "name": name, "full_name": p.repo, "private": true, "default_branch": "main",
			"html_url": "https://github.com/" + p.repo, "clone_url": "https://github.com/" + p.repo + ".git",
			"ssh_url": "git@github.com:" + p.repo + ".git", "owner": map[string]any{"login": owner, "name": owner},
		},
		"pusher":      map[string]string{"name": "e2e", "email": "e2e@example.com"},
		"sender":      map[string]any{"login": "e2e", "id": 1},
		"commits":     commits,
		"head_commit": commit,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// push signs p as a GitHub delivery of conn, sends it to d and returns the
// answer, which must be code with status.
func pushTo(t *testing.T, client *http.Client, d *daemon, conn hookConn, p pushEvent, code int, status string) answer {
	t.Helper()
	dl := delivery{provider: store.ProviderGitHub, event: "push", id: uuid.NewString(), body: p.body(), secret: conn.secret}
	req, err := dl.request(t.Context(), conn.url(d))
	if err != nil {
		t.Fatal(err)
	}
	a, err := send(client, req)
	if err != nil || a.code != code || a.Status != status || (code == http.StatusAccepted) != (a.EventID != "") {
		t.Fatalf("push %s %s to %s: HTTP %d %+v (%v), want %d %q", p.ref, p.after, p.repo, a.code, a, err, code, status)
	}
	return a
}

// waitFor polls cond until it holds, failing the test after timeout with
// cond's description of what it saw last.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last seen: %s", what, timeout, seen)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		}
	}
}

// writeFile writes a configuration or token file, 0600.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hup sends SIGHUP: reload the pipelines and targets.
func (d *daemon) hup(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
}

// logEntries returns the daemon's JSON log lines with message msg.
func (d *daemon) logEntries(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range d.out.lines() {
		if e, ok := parseLogLine(line); !ok || e.Msg != msg {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// pipelineInfo is a pipeline as "pipelines list" prints it.
type pipelineInfo struct {
	Name, ConnectionArn, Repository, ExecutionMode, Target string
}

func (c forgelinkCLI) pipelines(t *testing.T) []pipelineInfo {
	t.Helper()
	var out struct{ Pipelines []pipelineInfo }
	c.decode(t, &out, "pipelines", "list")
	return out.Pipelines
}

// waitPipelines polls "pipelines list" until it lists exactly want.
func (c forgelinkCLI) waitPipelines(t *testing.T, want []pipelineInfo) {
	t.Helper()
	waitFor(t, "pipelines list after SIGHUP", 10*time.Second, func() (bool, string) {
		got := c.pipelines(t)
		return slices.Equal(got, want), fmt.Sprintf("%+v", got)
	})
}

// deliveryInfo is a delivery as "deliveries list" prints it.
type deliveryInfo struct {
	DeliveryID string `json:"DeliveryId"`
	EventID    string `json:"EventId"`
	Pipeline   string
	Target     string
	Mode       string
	Branch     string
	State      string
	Attempts   int
	LastError  string
}

func (c forgelinkCLI) deliveries(t *testing.T, filters ...string) []deliveryInfo {
	t.Helper()
	var out struct{ Deliveries []deliveryInfo }
	c.decode(t, &out, append([]string{"deliveries", "list", "--all"}, filters...)...)
	return out.Deliveries
}

// attemptInfo is an attempt as "deliveries get" prints it.
type attemptInfo struct {
	N          int
	Outcome    string
	StatusCode int
	Error      string
}

func (c forgelinkCLI) attempts(t *testing.T, deliveryID string) (deliveryInfo, []attemptInfo) {
	t.Helper()
	var out struct {
		Delivery deliveryInfo
		Attempts []attemptInfo
	}
	c.decode(t, &out, "deliveries", "get", deliveryID)
	return out.Delivery, out.Attempts
}

// complete makes conn AVAILABLE with the fake GitHub's token.
func (c forgelinkCLI) complete(t *testing.T, conn hookConn) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, e2eToken+"\n")
	var out completeInfo
	c.decode(t, &out, "connections", "complete", conn.arn, "--token-file", tokenFile)
	if out.ConnectionArn != conn.arn || out.ConnectionStatus != store.StatusAvailable || out.Account != "e2e" {
		t.Fatalf("connections complete %s = %+v, want AVAILABLE with account e2e", conn.arn, out)
	}
}

type completeInfo struct{ ConnectionArn, ConnectionStatus, Account string }

// lineOf is the 1-based number of the first line of text containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the configuration", s)
	return 0
}

// startWithGitHubAPI starts a daemon on dir/forgelink.yaml, a config that
// names apiURL as GitHub's API. Tests reconfigure it by writing base plus
// targets and pipelines to cfgPath and sending SIGHUP.
func startWithGitHubAPI(t *testing.T, dir, apiURL string) (d *daemon, cfgPath, base string) {
	t.Helper()
	cfgPath = filepath.Join(dir, "forgelink.yaml")
	base = fmt.Sprintf("providers:\n  githubAPIURL: %s/\n", apiURL)
	writeFile(t, cfgPath, base)
	return startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}}), cfgPath, base
}

func TestE2EPipelineDelivery(t *testing.T) {
	e2e(t)
	cfgDir := t.TempDir()
	secret := newSigningSecret(t, cfgDir, "signing-secret")
	rc := newReceiver(t, secret, nil)
	gh := fakeGitHub(t)
	d, cfgPath, base := startWithGitHubAPI(t, cfgDir, gh.URL)
	cli := cliFor(t, d)
	client := newHookClient(t)
	if got := cli.pipelines(t); len(got) != 0 {
		t.Fatalf("pipelines list before any are configured = %+v", got)
	}

	// The pipelines name the connection, so it comes first; then SIGHUP.
	conn := newHookConn(t, cli, "pipelines", store.ProviderGitHub)
	good := base + fmt.Sprintf(`targets:
  - name: ci
    type: http
    http:
      url: %[1]s/ci
      secretFile: signing-secret
      timeout: 2s
    retry: {initialInterval: 10ms, maxInterval: 50ms, maxAttempts: 5, maxAge: 1h}
  - name: flaky
    type: http
    http:
      url: %[1]s/flaky
      secretFile: signing-secret
      timeout: 2s
    retry: {initialInterval: 10ms, maxInterval: 50ms, maxAttempts: 5, maxAge: 1h}
pipelines:
  - name: app
    connectionArn: %[2]s
    repository: octo-org/widget
    executionMode: QUEUED
    target: ci
    triggers:
      push:
        - branches: {includes: [main]}
          filePaths: {includes: ["src/**"]}
  - name: release
    connectionArn: %[2]s
    repository: octo-org/widget
    executionMode: PARALLEL
    target: ci
    triggers:
      push:
        - tags: {includes: ["v*"]}
  - name: gadget
    connectionArn: %[2]s
    repository: octo-org/gadget
    executionMode: PARALLEL
    target: flaky
    triggers:
      push:
        - branches: {includes: [main]}
`, rc.URL, conn.arn)
	writeFile(t, cfgPath, good)
	d.hup(t)
	wantPipelines := []pipelineInfo{
		{"app", conn.arn, "octo-org/widget", "QUEUED", "ci"},
		{"release", conn.arn, "octo-org/widget", "PARALLEL", "ci"},
		{"gadget", conn.arn, "octo-org/gadget", "PARALLEL", "flaky"},
	}
	cli.waitPipelines(t, wantPipelines)

	// The connection is PENDING: a push is recorded and held, not routed.
	heldPush := pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"src/held.go"}}
	held := pushTo(t, client, d, conn, heldPush, http.StatusAccepted, "held")
	var heldEvent struct{ Event eventSummary }
	cli.decode(t, &heldEvent, "events", "get", held.EventID)
	if !heldEvent.Event.Held {
		t.Errorf("events get %s: a push to a PENDING connection is not held: %+v", held.EventID, heldEvent.Event)
	}
	if ds := cli.deliveries(t, "--event-id", held.EventID); len(ds) != 0 {
		t.Errorf("deliveries of the held event before completion: %+v, want none", ds)
	}

	cli.complete(t, conn)
	var got struct {
		Connection struct{ ConnectionStatus string }
	}
	cli.decode(t, &got, "connections", "get", conn.arn)
	if got.Connection.ConnectionStatus != store.StatusAvailable {
		t.Errorf("connections get after complete: status %q, want AVAILABLE", got.Connection.ConnectionStatus)
	}

	srcPush := pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"src/a.go"}}
	docsPush := pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"docs/x.md"}}
	tagPush := pushEvent{"refs/tags/v1.0.0", "octo-org/widget", randomCommit(), nil}
	featurePush := pushEvent{"refs/heads/feature/x", "octo-org/widget", randomCommit(), []string{"src/b.go"}}
	flakyPush := pushEvent{"refs/heads/main", "octo-org/gadget", randomCommit(), []string{"main.go"}}
	src := pushTo(t, client, d, conn, srcPush, http.StatusAccepted, "accepted")
	docs := pushTo(t, client, d, conn, docsPush, http.StatusAccepted, "accepted")
	tag := pushTo(t, client, d, conn, tagPush, http.StatusAccepted, "accepted")
	feature := pushTo(t, client, d, conn, featurePush, http.StatusAccepted, "accepted")
	flaky := pushTo(t, client, d, conn, flakyPush, http.StatusAccepted, "accepted")

	// What must be delivered, by event: the held push once released, the
	// src/ push, the tag and the gadget push (retried once).
	type want struct {
		push               pushEvent
		pipeline, target   string
		branch, tag        string
		attempts           int
		receivedAs, answer []int // attempt numbers and answers at the receiver
	}
	wants := map[string]want{
		held.EventID:  {heldPush, "app", "ci", "main", "", 1, []int{1}, []int{200}},
		src.EventID:   {srcPush, "app", "ci", "main", "", 1, []int{1}, []int{200}},
		tag.EventID:   {tagPush, "release", "ci", "", "v1.0.0", 1, []int{1}, []int{200}},
		flaky.EventID: {flakyPush, "gadget", "flaky", "main", "", 2, []int{1, 2}, []int{500, 200}},
	}
	var listed []deliveryInfo
	waitFor(t, "the matching deliveries succeed", 20*time.Second, func() (bool, string) {
		listed = cli.deliveries(t)
		done := len(listed) == len(wants)
		for _, dl := range listed {
			done = done && dl.State == store.DeliverySucceeded
		}
		return done, fmt.Sprintf("%+v", listed)
	})
	byEvent := map[string]deliveryInfo{}
	for _, dl := range listed {
		w, ok := wants[dl.EventID]
		switch {
		case !ok:
			t.Errorf("deliveries list: unexpected delivery %+v", dl)
			continue
		case byEvent[dl.EventID].DeliveryID != "":
			t.Errorf("deliveries list: event %s delivered twice: %+v", dl.EventID, dl)
		}
		byEvent[dl.EventID] = dl
		if dl.Pipeline != w.pipeline || dl.Target != w.target || dl.Branch != w.branch || dl.Attempts != w.attempts {
			t.Errorf("deliveries list: delivery of event %s = %+v, want pipeline %s, target %s, branch %q, %d attempts",
				dl.EventID, dl, w.pipeline, w.target, w.branch, w.attempts)
		}
	}

	// The receiver got exactly those, signed, with the right fields.
	receipts := map[string][]receipt{} // by event
	for _, r := range rc.got() {
		receipts[r.msg.EventID] = append(receipts[r.msg.EventID], r)
	}
	for id, rs := range receipts {
		if _, ok := wants[id]; !ok {
			t.Errorf("receiver: unexpected delivery of event %s: %+v", id, rs[0].msg)
		}
	}
	for eventID, w := range wants {
		rs, dl := receipts[eventID], byEvent[eventID]
		var attempts, answers []int
		for _, r := range rs {
			attempts, answers = append(attempts, r.msg.Attempt), append(answers, r.status)
			m, path := r.msg, "/"+w.target
			vars := m.Variables
			wrong := r.path != path || r.webhookID != dl.DeliveryID || m.Pipeline != w.pipeline || m.ConnectionARN != conn.arn ||
				m.Provider != store.ProviderGitHub || m.Kind != "push" || m.Repository.FullName != w.push.repo ||
				m.Push == nil || m.Push.After != w.push.after || m.Push.Ref != w.push.ref ||
				vars[notify.VarCommitID] != w.push.after || vars[notify.VarBranchName] != w.branch || vars[notify.VarTagName] != w.tag ||
				vars[notify.VarPipeline] != w.pipeline || vars[notify.VarFullRepositoryName] != w.push.repo ||
				vars[notify.VarConnectionArn] != conn.arn || vars[notify.VarDeliveryID] != dl.DeliveryID
			if wrong {
				t.Errorf("receiver: %s got delivery %s of event %s as %+v\nwant pipeline %s, commit %s, ref %s, BranchName %q, TagName %q",
					r.path, r.webhookID, eventID, m, w.pipeline, w.push.after, w.push.ref, w.branch, w.tag)
			}
		}
		if !slices.Equal(attempts, w.receivedAs) || !slices.Equal(answers, w.answer) {
			t.Errorf("receiver: event %s (pipeline %s) received as attempts %v answered %v, want %v answered %v",
				eventID, w.pipeline, attempts, answers, w.receivedAs, w.answer)
		}
	}
	rc.check(t)

	// The retried delivery keeps both attempts.
	if dl := byEvent[flaky.EventID]; dl.DeliveryID != "" {
		_, as := cli.attempts(t, dl.DeliveryID)
		if len(as) != 2 || as[0].N != 1 || as[0].Outcome != "retry" || as[0].StatusCode != 500 ||
			as[1].N != 2 || as[1].Outcome != "succeeded" || as[1].StatusCode != 200 {
			t.Errorf("deliveries get %s: attempts %+v, want a retry after HTTP 500, then success with 200", dl.DeliveryID, as)
		}
	}

	// Why the docs-only push did not trigger app: its filePaths.
	var explained struct {
		EventID    string `json:"EventId"`
		Verdicts   []verdict
		Deliveries []deliveryInfo
	}
	cli.decode(t, &explained, "events", "explain", docs.EventID)
	if len(explained.Deliveries) != 0 || len(explained.Verdicts) != 2 {
		t.Errorf("events explain %s (docs only): %d verdicts, deliveries %+v; want the 2 pipelines of octo-org/widget and none", docs.EventID, len(explained.Verdicts), explained.Deliveries)
	}
	for _, v := range explained.Verdicts {
		if v.Triggered {
			t.Errorf("events explain %s (docs only): pipeline %s triggered", docs.EventID, v.Pipeline)
		}
		if v.Pipeline != "app" {
			continue
		}
		branches, files, ok := v.criteria("branch main", "push[0]")
		if !ok || !branches.Matched || files.Matched || files.Value != "" || files.Files == nil || !files.Files.Complete || files.Files.Listed != 1 ||
			!strings.Contains(files.Decision, "no changed file matched filePaths includes") {
			t.Errorf("events explain %s (docs only): app %+v; want branches matched and filePaths not matched, list of 1 complete", docs.EventID, v)
		}
	}
	// And why the feature branch push did not: its branch.
	cli.decode(t, &explained, "events", "explain", feature.EventID)
	for _, v := range explained.Verdicts {
		if v.Pipeline != "app" {
			continue
		}
		branches, _, ok := v.criteria("branch feature/x", "push[0]")
		if !ok || v.Triggered || branches.Matched || branches.Value != "feature/x" {
			t.Errorf("events explain %s (feature branch): app %+v; want branches not matched", feature.EventID, v)
		}
	}
	cli.decode(t, &explained, "events", "explain", src.EventID)
	if len(explained.Deliveries) != 1 || explained.Deliveries[0].DeliveryID != byEvent[src.EventID].DeliveryID {
		t.Errorf("events explain %s (src push): deliveries %+v, want its one delivery", src.EventID, explained.Deliveries)
	}

	// Every example configuration validates.
	examples, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "forgelink.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples/*/forgelink.yaml: %v", err)
	}
	for _, file := range examples {
		res := runCommand(t, environ(), forgelinkBin, "config", "validate", file)
		if res.code != 0 || !strings.Contains(res.stdout, "valid") {
			t.Errorf("forgelink config validate %s: exit status %d\nstdout: %s\nstderr: %s", file, res.code, res.stdout, res.stderr)
		}
	}

	// A configuration with four mistakes is refused, each reported with
	// file, line and field...
	bad := base + fmt.Sprintf(`targets:
  - name: ci
    type: http
    http:
      url: %[1]s/ci
      secretFile: no-such-secret
  - name: pigeon
    type: carrier-pigeon
pipelines:
  - name: app
    connectionArn: %[2]s
    repository: octo-org/widget
    target: ci
    triggers:
      push:
        - branches: {includes: [main]}
          filePaths: {includes: ["[abc"]}
  - name: app
    connectionArn: %[2]s
    repository: octo-org/widget
    target: ci
`, rc.URL, conn.arn)
	badPath := filepath.Join(cfgDir, "bad.yaml")
	writeFile(t, badPath, bad)
	problems := []string{
		fmt.Sprintf("%s:%d: targets[0].http.secretFile: ", cfgPath, lineOf(t, bad, "no-such-secret")),
		fmt.Sprintf("%s:%d: targets[1].type: ", cfgPath, lineOf(t, bad, "carrier-pigeon")),
		fmt.Sprintf("%s:%d: pipelines[0].triggers.push[0].filePaths.includes[0]: ", cfgPath, lineOf(t, bad, "[abc")),
		fmt.Sprintf("%s:%d: pipelines[1].name: ", cfgPath, strings.Count(bad[:strings.LastIndex(bad, "- name: app")], "\n")+1),
	}
	res := runCommand(t, environ(), forgelinkBin, "config", "validate", badPath)
	if res.code == 0 {
		t.Errorf("config validate of an invalid file: exit status 0\n%s", res.stdout)
	}
	for _, p := range problems {
		if p := strings.Replace(p, cfgPath, badPath, 1); !strings.Contains(res.stderr, p) {
			t.Errorf("config validate of an invalid file: no %q in\n%s", p, res.stderr)
		}
	}

	// ... and reloading it changes nothing that runs.
	writeFile(t, cfgPath, bad)
	d.hup(t)
	const refused = "configuration reload refused; the running configuration stays"
	var refusals []map[string]any
	waitFor(t, "the daemon logs the refused reload", 10*time.Second, func() (bool, string) {
		refusals = d.logEntries(refused)
		return len(refusals) > 0, "no such log line"
	})
	logged, _ := refusals[0]["error"].(string)
	for _, p := range problems {
		if !strings.Contains(logged, p) {
			t.Errorf("refused reload: log %q does not say %q", logged, p)
		}
	}
	if got := cli.pipelines(t); !slices.Equal(got, wantPipelines) {
		t.Errorf("pipelines list after a refused reload = %+v, want the running ones %+v", got, wantPipelines)
	}
	after := pushTo(t, client, d, conn, pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"src/c.go"}}, http.StatusAccepted, "accepted")
	waitFor(t, "a push after the refused reload is delivered", 10*time.Second, func() (bool, string) {
		ds := cli.deliveries(t, "--event-id", after.EventID)
		return len(ds) == 1 && ds[0].State == store.DeliverySucceeded && ds[0].Pipeline == "app", fmt.Sprintf("%+v", ds)
	})
	rc.check(t)
}

// verdict is a pipeline's verdict as "events explain" prints it.
type verdict struct {
	Pipeline  string
	Triggered bool
	Subjects  []struct {
		Subject string
		Filters []struct {
			Filter   string
			Matched  bool
			Criteria []criterion
		}
	}
}

type criterion struct {
	Criterion, Value, Decision string
	Matched                    bool
	Files                      *struct {
		Listed   int
		Complete bool
	}
}

// criteria returns the branches and filePaths verdicts of a filter on a
// subject.
func (v verdict) criteria(subject, filter string) (branches, files criterion, ok bool) {
	for _, s := range v.Subjects {
		if s.Subject != subject {
			continue
		}
		for _, f := range s.Filters {
			if f.Filter != filter {
				continue
			}
			for _, c := range f.Criteria {
				switch c.Criterion {
				case "branches":
					branches, ok = c, true
				case "filePaths":
					files = c
				}
			}
		}
	}
	return branches, files, ok
}

// TestE2EPipelineKillTwice is the fault test: pushes pour in from several
// senders while the daemon is killed with SIGKILL twice and restarted on
// the same data directory. Every push answered 202 must reach the target
// at least once; duplicates are allowed only for attempts in flight at a
// kill, and nothing the daemon refused may arrive.
func TestE2EPipelineKillTwice(t *testing.T) {
	e2e(t)
	const (
		senders     = 8
		concurrency = 8
		kills       = 2
		perRound    = 200 // accepted pushes between kills
	)
	dir, cfgDir := t.TempDir(), t.TempDir()
	secret := newSigningSecret(t, cfgDir, "signing-secret")
	// A short pause per delivery keeps attempts in flight when the kill comes.
	rc := newReceiver(t, secret, func() { time.Sleep(time.Duration(mrand.IntN(3000)) * time.Microsecond) })
	gh := fakeGitHub(t)
	cfgPath := filepath.Join(cfgDir, "forgelink.yaml")
	base := fmt.Sprintf("providers:\n  githubAPIURL: %s/\n", gh.URL)
	writeFile(t, cfgPath, base)
	opts := daemonOptions{dataDir: dir, env: []string{"FORGELINK_CONFIG=" + cfgPath}}
	d := startDaemon(t, opts)
	cli := cliFor(t, d)
	conn := newHookConn(t, cli, "kill-twice", store.ProviderGitHub)
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: sink
    type: http
    http:
      url: %s/ci
      secretFile: signing-secret
      timeout: 2s
    concurrency: %d
    retry: {initialInterval: 50ms, maxInterval: 500ms, maxAttempts: 100, maxAge: 1h}
pipelines:
  - name: burst
    connectionArn: %s
    repository: octo-org/widget
    executionMode: PARALLEL
    target: sink
    triggers:
      push:
        - branches: {includes: [main]}
`, rc.URL, concurrency, conn.arn))
	d.hup(t)
	cli.waitPipelines(t, []pipelineInfo{{"burst", conn.arn, "octo-org/widget", "PARALLEL", "sink"}})
	cli.complete(t, conn)

	// The senders post to the current daemon; when it dies they wait for
	// the next one.
	type live struct {
		url  string
		next chan struct{} // closed when a new daemon replaces this one
	}
	var (
		mu        sync.Mutex
		current   = live{conn.url(d), make(chan struct{})}
		accepted  = map[string]bool{} // commit ids answered 202
		unknown   = map[string]bool{} // sent, no answer: the daemon died meanwhile
		unsent    = map[string]bool{} // connection refused: never reached a daemon
		refused   = map[string]int{}  // commit ids answered otherwise, with the status
		nAccepted atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = senders
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for range senders {
		wg.Go(func() {
			for {
				mu.Lock()
				cur := current
				mu.Unlock()
				select {
				case <-stop:
					return
				default:
				}
				p := pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"src/app.go"}}
				dl := delivery{provider: store.ProviderGitHub, event: "push", id: uuid.NewString(), body: p.body(), secret: conn.secret}
				req, err := dl.request(t.Context(), cur.url)
				if err != nil {
					t.Error(err)
					return
				}
				a, err := send(client, req)
				mu.Lock()
				switch {
				case a.code == http.StatusAccepted: // committed, even if the answer was cut
					accepted[p.after] = true
					nAccepted.Add(1)
				case errors.Is(err, syscall.ECONNREFUSED):
					unsent[p.after] = true
				case a.code == 0 && err != nil:
					unknown[p.after] = true
				default:
					refused[p.after] = a.code
				}
				mu.Unlock()
				if a.code == 0 {
					select { // the daemon is down: wait for the next one
					case <-cur.next:
					case <-stop:
						return
					}
				}
			}
		})
	}
	stopSenders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopSenders()

	var lastKill time.Time
	goal := int64(perRound)
	for k := 1; k <= kills; k++ {
		waitFor(t, fmt.Sprintf("%d pushes accepted before kill %d", goal, k), 20*time.Second, func() (bool, string) {
			n := nAccepted.Load()
			return n >= goal, fmt.Sprintf("%d accepted", n)
		})
		d.kill()
		lastKill = time.Now()
		d = startDaemon(t, opts)
		cli = cliFor(t, d)
		leased := cli.deliveries(t, "--state", "leased")
		mu.Lock()
		t.Logf("kill %d: SIGKILL after %d pushes accepted; %d deliveries leased just after the restart; %d received so far",
			k, len(accepted), len(leased), len(rc.got()))
		old := current
		current = live{conn.url(d), make(chan struct{})}
		close(old.next)
		goal = int64(len(accepted) + perRound)
		mu.Unlock()
	}
	stopSenders()

	// Every accepted push reaches the receiver, once the killed daemons'
	// leases have expired (timeout 2s + the lease margin).
	waitFor(t, "every accepted push reaches the receiver and no delivery is open", 40*time.Second, func() (bool, string) {
		byCommit := map[string]int{}
		for _, r := range rc.got() {
			byCommit[r.msg.Push.After]++
		}
		missing := 0
		for c := range accepted {
			if byCommit[c] == 0 {
				missing++
			}
		}
		open := len(cli.deliveries(t, "--state", "leased")) + len(cli.deliveries(t, "--state", "pending"))
		return missing == 0 && open == 0, fmt.Sprintf("%d of %d accepted pushes not received; %d deliveries pending or leased", missing, len(accepted), open)
	})
	t.Logf("all %d accepted pushes received %v after the last kill", len(accepted), time.Since(lastKill).Round(100*time.Millisecond))

	rc.check(t)
	receipts := map[string][]receipt{} // by commit id
	for _, r := range rc.got() {
		if r.msg.Push == nil || r.msg.Variables[notify.VarCommitID] != r.msg.Push.After || r.msg.Pipeline != "burst" {
			t.Errorf("receiver: delivery %s is not a push of pipeline burst with its commit id: %+v", r.webhookID, r.msg)
			continue
		}
		receipts[r.msg.Push.After] = append(receipts[r.msg.Push.After], r)
	}
	deliveries := map[string]deliveryInfo{}
	for _, dl := range cli.deliveries(t) {
		deliveries[dl.DeliveryID] = dl
		if dl.State != store.DeliverySucceeded {
			t.Errorf("delivery %s ended %s (%s), want succeeded", dl.DeliveryID, dl.State, dl.LastError)
		}
	}
	duplicates, fromUnanswered := 0, 0
	for commit, rs := range receipts {
		switch {
		case refused[commit] != 0:
			t.Errorf("commit %s was refused with HTTP %d, yet delivered", commit, refused[commit])
		case unsent[commit]:
			t.Errorf("commit %s never reached a daemon (connection refused), yet delivered", commit)
		case unknown[commit]:
			fromUnanswered++ // recorded before the kill cut its answer
		case !accepted[commit]:
			t.Errorf("commit %s was never sent, yet delivered", commit)
		}
		if len(rs) == 1 {
			continue
		}
		duplicates += len(rs) - 1
		// A duplicate is the same delivery attempted again because its
		// attempt was in flight at a kill, or its result not written yet
		// (results ride the next group commit): the killed daemon never
		// recorded that attempt, so the delivery has fewer attempt records
		// than receipts.
		id := rs[0].webhookID
		for _, r := range rs[1:] {
			if r.webhookID != id {
				t.Errorf("commit %s delivered as two deliveries, %s and %s: one event was routed twice", commit, id, r.webhookID)
			}
		}
		if dl, as := cli.attempts(t, id); len(as) >= len(rs) || dl.Attempts < len(as) {
			t.Errorf("commit %s received %d times; delivery %s has %d attempts and %d attempt records %+v, want unrecorded attempts (in flight at a kill)",
				commit, len(rs), id, dl.Attempts, len(as), as)
		}
	}
	if len(deliveries) != len(receipts) {
		t.Errorf("%d deliveries listed, %d pushes received", len(deliveries), len(receipts))
	}
	t.Logf("%d pushes accepted, %d unanswered (%d of them recorded and delivered), %d refused, %d not connected; %d deliveries, %d duplicates",
		len(accepted), len(unknown), fromUnanswered, len(refused), len(unsent), len(deliveries), duplicates)
	// Per kill: the attempts in flight, and about as many finished whose
	// results were waiting for the writer's next commit.
	if maxDup := 2 * concurrency * kills; duplicates > maxDup {
		t.Errorf("%d duplicate deliveries, want at most %d (2 × target concurrency %d × %d kills)", duplicates, maxDup, concurrency, kills)
	}
	if len(refused) > 0 {
		t.Errorf("%d pushes refused with a status other than 202: %v", len(refused), firstN(refused, 5))
	}
}

func firstN(m map[string]int, n int) []string {
	var out []string
	for k, v := range m {
		if len(out) == n {
			break
		}
		out = append(out, fmt.Sprintf("%s: %d", k, v))
	}
	return out
}
