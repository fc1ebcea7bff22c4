//go:build unix

// Webhook ingress end to end: deliveries signed the way each provider signs
// them, sent over HTTP to the real daemon and read back through forgelink's
// own CLI, signed as root.

package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

// forgelinkCLI runs forgelink's client commands against one daemon, signed
// as root through the standard AWS environment variables.
type forgelinkCLI struct {
	url string
	env []string
}

func cliFor(t *testing.T, d *daemon) forgelinkCLI {
	t.Helper()
	return forgelinkCLI{url: d.url, env: clientEnv(t)}
}

// run runs "forgelink GROUP COMMAND ARGS...", with the common flags after
// the command, where the client parses them.
func (c forgelinkCLI) run(t *testing.T, args ...string) result {
	t.Helper()
	args = append(args[:2:2], append([]string{"--endpoint-url", c.url, "--output", "json"}, args[2:]...)...)
	return runCommand(t, c.env, forgelinkBin, args...)
}

// decode runs a command that must succeed and decodes its JSON output into v.
func (c forgelinkCLI) decode(t *testing.T, v any, args ...string) {
	t.Helper()
	res := c.run(t, args...)
	if res.code != 0 {
		t.Fatalf("forgelink %s: exit status %d\n%s", strings.Join(args, " "), res.code, res.stderr)
	}
	decodeJSON(t, "forgelink "+strings.Join(args, " "), res.stdout, v)
}

// webhookInfo is the output of "connections webhook" and "connections rotate-secret".
type webhookInfo struct {
	ConnectionArn            string
	URL                      string `json:"Url"`
	Secret                   string
	PreviousSecretValidUntil *float64
}

// eventSummary is an event as "events list" and "events get" print it.
type eventSummary struct {
	EventID       string `json:"EventId"`
	ConnectionArn string
	Provider      string
	DeliveryID    string `json:"DeliveryId"`
	Kind          string
	RawKind       string
	Repository    string
	Held          bool
}

// listEvents runs "events list --all" with further filter flags.
func (c forgelinkCLI) listEvents(t *testing.T, filters ...string) []eventSummary {
	t.Helper()
	var out struct {
		Events    []eventSummary
		NextToken *string
	}
	c.decode(t, &out, append([]string{"events", "list", "--all"}, filters...)...)
	if out.NextToken != nil {
		t.Errorf("events list --all %s: NextToken %q after the last page", strings.Join(filters, " "), *out.NextToken)
	}
	return out.Events
}

// hookConn is a connection and its webhook secret.
type hookConn struct {
	arn, id, provider, secret string
	path                      string // the webhook URL's path, with its token
}

// newHookConn creates a connection with the CLI and fetches its webhook.
func newHookConn(t *testing.T, cli forgelinkCLI, name, provider string) hookConn {
	t.Helper()
	var created struct{ ConnectionArn string }
	cli.decode(t, &created, "connections", "create", "--name", name, "--provider-type", provider)
	arn := created.ConnectionArn
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	var w webhookInfo
	cli.decode(t, &w, "connections", "webhook", arn)
	if w.ConnectionArn != arn || !strings.HasPrefix(w.URL, cli.url+"/webhooks/"+id+"/") || len(w.Secret) < 32 || w.PreviousSecretValidUntil != nil {
		t.Fatalf("connections webhook %s = %+v, want its URL under %s and a fresh secret", arn, w, cli.url)
	}
	return hookConn{arn: arn, id: id, provider: provider, secret: w.Secret, path: strings.TrimPrefix(w.URL, cli.url)}
}

// strayHookConn is a GitHub webhook for a connection d does not have, at
// the path d would give it (its token is right): only the id is wrong.
func strayHookConn(d *daemon, id, secret string) hookConn {
	return hookConn{id: id, provider: store.ProviderGitHub, secret: secret, path: webhookPath(d, id)}
}

// url is the connection's webhook URL on d (the port changes on restart;
// the path, token included, does not).
func (c hookConn) url(d *daemon) string { return d.url + c.path }

// delivery returns the provider's testdata payload file as a delivery of
// event with id, signed with the connection's secret.
func (c hookConn) delivery(t *testing.T, event, file, id string) delivery {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "providers", strings.ToLower(c.provider), "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return delivery{provider: c.provider, event: event, id: id, body: body, secret: c.secret}
}

// signer is how a provider labels and authenticates its deliveries.
type signer struct {
	eventHeader, idHeader string
	sign                  func(h http.Header, body []byte, secret string)
}

var signers = map[string]signer{
	store.ProviderGitHub: {"X-GitHub-Event", "X-GitHub-Delivery", hmacSHA256("X-Hub-Signature-256")},
	// GitLab sends the secret itself.
	store.ProviderGitLab: {"X-Gitlab-Event", "Idempotency-Key", func(h http.Header, _ []byte, secret string) { h.Set("X-Gitlab-Token", secret) }},
	// Bitbucket Cloud signs with SHA-256 under GitHub's legacy header name.
	store.ProviderBitbucket: {"X-Event-Key", "X-Request-UUID", hmacSHA256("X-Hub-Signature")},
}

func hmacSHA256(header string) func(http.Header, []byte, string) {
	return func(h http.Header, body []byte, secret string) {
		h.Set(header, "sha256="+hexMAC(sha256.New, secret, body))
	}
}

func hexMAC(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// delivery is one webhook request as its provider sends it.
type delivery struct {
	provider, event, id string
	body                []byte
	secret              string
}

func (dl delivery) withSecret(s string) delivery { dl.secret = s; return dl }
func (dl delivery) withBody(b []byte) delivery   { dl.body = b; return dl }

func (dl delivery) request(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(dl.body))
	if err != nil {
		return nil, err
	}
	s := signers[dl.provider]
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "forgelink-e2e")
	req.Header.Set(s.eventHeader, dl.event)
	req.Header.Set(s.idHeader, dl.id)
	s.sign(req.Header, dl.body, dl.secret)
	return req, nil
}

// answer is the daemon's reply to a delivery; code is set once the
// response headers have arrived, even if reading the body then fails.
type answer struct {
	code    int
	Status  string `json:"status"`
	EventID string `json:"eventId"`
	Error   string `json:"error"`
}

func send(client *http.Client, req *http.Request) (answer, error) {
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("HTTP %d: answer is not JSON: %w", resp.StatusCode, err)
	}
	return a, nil
}

func newHookClient(t *testing.T) *http.Client {
	c := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// ingressCase is a delivery and the answer it must get.
type ingressCase struct {
	name   string
	conn   hookConn
	dl     delivery
	tweak  func(*http.Request) // departs from what the provider sends; nil for none
	code   int
	status string // the answer's status on success
	kind   string // the kind of the event it records; "" for none
}

func (tc ingressCase) check(t *testing.T, d *daemon, client *http.Client) answer {
	t.Helper()
	req, err := tc.dl.request(t.Context(), tc.conn.url(d))
	if err != nil {
		t.Fatal(err)
	}
	if tc.tweak != nil {
		tc.tweak(req)
	}
	a, err := send(client, req)
	what := fmt.Sprintf("POST %s (delivery %q)", req.URL.Path, tc.dl.id)
	switch {
	case err != nil:
		t.Errorf("%s: %v", what, err)
	case a.code != tc.code:
		t.Errorf("%s: HTTP %d %+v, want %d", what, a.code, a, tc.code)
	case a.code < 300 && (a.Status != tc.status || (a.code == http.StatusAccepted) != (a.EventID != "")):
		t.Errorf("%s: answer %+v, want status %q and an event id with 202", what, a, tc.status)
	case a.code >= 400 && a.Error == "":
		t.Errorf("%s: HTTP %d without an error message", what, a.code)
	}
	return a
}

// wantEvent is an event the daemon must have recorded.
type wantEvent struct {
	eventID                                  string // from the 202 answer
	arn, provider, kind, rawKind, repository string
	body                                     []byte
	secret                                   string // must appear nowhere in the event
}

// repositories of the providers' testdata payloads.
var repositories = map[string]string{
	store.ProviderGitHub:    "octo-org/widget",
	store.ProviderGitLab:    "acme/platform/forgelink-demo",
	store.ProviderBitbucket: "acme-platform/payments-api",
}

func TestE2EWebhookIngress(t *testing.T) {
	e2e(t)
	const maxBody = 64 << 10
	cfg := filepath.Join(t.TempDir(), "forgelink.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "webhooks:\n  maxBodyBytes: %d\n", maxBody), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfg}})
	cli := cliFor(t, d)
	client := newHookClient(t)
	gh := newHookConn(t, cli, "github", store.ProviderGitHub)
	gl := newHookConn(t, cli, "gitlab", store.ProviderGitLab)
	bb := newHookConn(t, cli, "bitbucket", store.ProviderBitbucket)
	gone := newHookConn(t, cli, "gone", store.ProviderGitHub)
	if res := cli.run(t, "connections", "delete", gone.arn); res.code != 0 {
		t.Fatalf("connections delete: exit status %d\n%s", res.code, res.stderr)
	}
	// The secret is shown to root only.
	forged := forgelinkCLI{url: d.url, env: append(slices.Clone(cli.env), "AWS_SECRET_ACCESS_KEY=not-the-root-secret")}
	if res := forged.run(t, "connections", "webhook", gh.arn); res.code == 0 || strings.Contains(res.stdout+res.stderr, gh.secret) {
		t.Errorf("connections webhook with a wrong signature: exit status %d, stdout %q; want a failure that shows no secret", res.code, res.stdout)
	}

	ghPush, glPush, bbPush, retried := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	sha1Signed := gh.delivery(t, "push", "push_branch.json", uuid.NewString())
	oversized := gh.delivery(t, "push", "push_branch.json", uuid.NewString()).withBody(fmt.Appendf(nil, `{"zen":%q}`, strings.Repeat("x", maxBody)))
	form := gh.delivery(t, "push", "push_branch.json", uuid.NewString())
	form = form.withBody([]byte("payload=" + url.QueryEscape(string(form.body))))
	unknown := strayHookConn(d, uuid.NewString(), gh.secret)
	notID := strayHookConn(d, "not-a-connection", gh.secret)
	const wrong = "not-the-secret"
	cases := []ingressCase{
		// New connections are PENDING: their events are recorded and held.
		{"GitHub ping", gh, gh.delivery(t, "ping", "ping.json", uuid.NewString()), nil, 202, "held", "ping"},
		{"GitHub push", gh, gh.delivery(t, "push", "push_branch.json", ghPush), nil, 202, "held", "push"},
		{"GitHub pull request", gh, gh.delivery(t, "pull_request", "pull_request_opened.json", uuid.NewString()), nil, 202, "held", "pull_request"},
		{"GitLab push", gl, gl.delivery(t, "Push Hook", "push.json", glPush), nil, 202, "held", "push"},
		{"GitLab merge request", gl, gl.delivery(t, "Merge Request Hook", "mr_open.json", uuid.NewString()), nil, 202, "held", "pull_request"},
		{"GitLab tag push without Idempotency-Key", gl, gl.delivery(t, "Tag Push Hook", "tag_push.json", uuid.NewString()), eventUUIDOnly, 202, "held", "push"},
		{"Bitbucket push", bb, bb.delivery(t, "repo:push", "push_branch.json", bbPush), nil, 202, "held", "push"},
		{"Bitbucket pull request", bb, bb.delivery(t, "pullrequest:created", "pr_created.json", uuid.NewString()), nil, 202, "held", "pull_request"},
		// Redeliveries keep the delivery id.
		{"GitHub redelivery", gh, gh.delivery(t, "push", "push_branch.json", ghPush), nil, 200, "duplicate", ""},
		{"GitLab redelivery", gl, gl.delivery(t, "Push Hook", "push.json", glPush), nil, 200, "duplicate", ""},
		{"Bitbucket redelivery", bb, bb.delivery(t, "repo:push", "push_branch.json", bbPush), nil, 200, "duplicate", ""},
		// A refused delivery is not recorded: its retry with the right secret is.
		{"GitHub wrong secret", gh, gh.delivery(t, "push", "push_branch.json", retried).withSecret(wrong), nil, 401, "", ""},
		{"GitHub retry with the right secret", gh, gh.delivery(t, "push", "push_branch.json", retried), nil, 202, "held", "push"},
		{"GitLab wrong token", gl, gl.delivery(t, "Push Hook", "push.json", uuid.NewString()).withSecret(wrong), nil, 401, "", ""},
		{"Bitbucket wrong secret", bb, bb.delivery(t, "repo:push", "push_branch.json", uuid.NewString()).withSecret(wrong), nil, 401, "", ""},
		{"GitHub SHA-1 signature only", gh, sha1Signed, sha1Only(sha1Signed), 401, "", ""},
		{"GitHub without a delivery id", gh, gh.delivery(t, "push", "push_branch.json", uuid.NewString()), dropHeader("X-GitHub-Delivery"), 400, "", ""},
		{"unknown connection", unknown, unknown.delivery(t, "push", "push_branch.json", uuid.NewString()), nil, 404, "", ""},
		{"not a connection id", notID, notID.delivery(t, "push", "push_branch.json", uuid.NewString()), nil, 404, "", ""},
		{"deleted connection", gone, gone.delivery(t, "push", "push_branch.json", uuid.NewString()), nil, 404, "", ""},
		{"body over the limit", gh, oversized, nil, 413, "", ""},
		{"body over the limit, chunked", gh, oversized, chunked, 413, "", ""},
		{"form-encoded", gh, form, formEncoded, 400, "", ""},
	}
	want := map[string]wantEvent{} // by delivery id
	run := func(cases []ingressCase) {
		for _, tc := range cases {
			var a answer
			t.Run(tc.name, func(t *testing.T) { a = tc.check(t, d, client) })
			if tc.kind != "" {
				want[tc.dl.id] = wantEvent{a.EventID, tc.conn.arn, tc.conn.provider, tc.kind, tc.dl.event, repositories[tc.conn.provider], tc.dl.body, tc.dl.secret}
			}
		}
	}
	run(cases)

	// Rotation: with an overlap both secrets work until it ends; without
	// one the old secret stops at once.
	before := time.Now()
	var rotated, current, glRotated webhookInfo
	cli.decode(t, &rotated, "connections", "rotate-secret", gh.arn, "--overlap", "1h")
	if rotated.Secret == gh.secret || len(rotated.Secret) != len(gh.secret) || rotated.PreviousSecretValidUntil == nil ||
		!nearly(epoch(*rotated.PreviousSecretValidUntil), before.Add(time.Hour), time.Since(before)+time.Second) {
		t.Errorf("rotate-secret --overlap 1h = %+v, want a new secret and the old one valid for an hour", rotated)
	}
	cli.decode(t, &current, "connections", "webhook", gh.arn)
	if current.Secret != rotated.Secret || current.PreviousSecretValidUntil == nil {
		t.Errorf("connections webhook after rotate-secret = %+v, want the new secret and the overlap", current)
	}
	cli.decode(t, &glRotated, "connections", "rotate-secret", gl.arn, "--overlap", "0s")
	if glRotated.Secret == gl.secret || glRotated.PreviousSecretValidUntil != nil {
		t.Errorf("rotate-secret --overlap 0s = %+v, want a new secret and no overlap", glRotated)
	}
	ghNew, glNew := gh, gl
	ghNew.secret, glNew.secret = rotated.Secret, glRotated.Secret
	run([]ingressCase{
		{"GitHub new secret", ghNew, ghNew.delivery(t, "push", "push_create.json", uuid.NewString()), nil, 202, "held", "push"},
		{"GitHub old secret during the overlap", gh, gh.delivery(t, "push", "push_tag.json", uuid.NewString()), nil, 202, "held", "push"},
		{"GitHub wrong secret after rotation", gh, gh.delivery(t, "push", "push_tag.json", uuid.NewString()).withSecret(wrong), nil, 401, "", ""},
		{"GitLab new token", glNew, glNew.delivery(t, "Push Hook", "push_create.json", uuid.NewString()), nil, 202, "held", "push"},
		{"GitLab old token without overlap", gl, gl.delivery(t, "Push Hook", "push_create.json", uuid.NewString()), nil, 401, "", ""},
	})

	// Copies of one delivery sent at once (a retry racing the original):
	// one is recorded, the others are duplicates.
	racing := gh.delivery(t, "push", "push_forced.json", uuid.NewString())
	answers := make(chan answer, 8)
	var wg sync.WaitGroup
	for range cap(answers) {
		wg.Go(func() {
			req, err := racing.request(t.Context(), gh.url(d))
			if err != nil {
				t.Error(err)
				return
			}
			a, err := send(client, req)
			if err != nil {
				t.Errorf("concurrent copy of delivery %s: %v", racing.id, err)
			}
			answers <- a
		})
	}
	wg.Wait()
	close(answers)
	codes := map[int]int{}
	for a := range answers {
		codes[a.code]++
		if a.code == http.StatusAccepted {
			want[racing.id] = wantEvent{a.EventID, gh.arn, gh.provider, "push", "push", repositories[gh.provider], racing.body, racing.secret}
		}
	}
	if codes[http.StatusAccepted] != 1 || codes[http.StatusOK] != cap(answers)-1 {
		t.Errorf("%d concurrent copies of one delivery: answers by status %v, want one 202 and the rest 200", cap(answers), codes)
	}

	// The listing holds exactly the accepted deliveries.
	listed := map[string]eventSummary{}
	for _, e := range cli.listEvents(t) {
		if _, dup := listed[e.DeliveryID]; dup {
			t.Errorf("delivery %s listed twice", e.DeliveryID)
		}
		listed[e.DeliveryID] = e
	}
	for id, w := range want {
		wantSummary := eventSummary{EventID: w.eventID, ConnectionArn: w.arn, Provider: w.provider, DeliveryID: id,
			Kind: w.kind, RawKind: w.rawKind, Repository: w.repository, Held: true}
		if got := listed[id]; got != wantSummary {
			t.Errorf("events list: delivery %s = %+v, want %+v", id, got, wantSummary)
		}
	}
	for id := range listed {
		if _, ok := want[id]; !ok {
			t.Errorf("events list: delivery %s was refused or a duplicate, yet listed", id)
		}
	}
	for _, f := range []struct {
		flags []string
		match func(wantEvent) bool
	}{
		{[]string{"--connection-arn", otherNamespace(gl.arn)}, func(w wantEvent) bool { return w.arn == gl.arn }},
		{[]string{"--kind", "pull_request"}, func(w wantEvent) bool { return w.kind == "pull_request" }},
		{[]string{"--repository", repositories[store.ProviderBitbucket]}, func(w wantEvent) bool { return w.provider == store.ProviderBitbucket }},
	} {
		var got, wantIDs []string
		for _, e := range cli.listEvents(t, f.flags...) {
			got = append(got, e.DeliveryID)
		}
		for id, w := range want {
			if f.match(w) {
				wantIDs = append(wantIDs, id)
			}
		}
		slices.Sort(got)
		slices.Sort(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Errorf("events list %s: deliveries %v, want %v", strings.Join(f.flags, " "), got, wantIDs)
		}
	}

	// Each event keeps the body byte for byte, and no secret.
	for id, w := range want {
		var out struct {
			Event struct {
				eventSummary
				Headers map[string]string
				Body    string
			}
		}
		res := cli.run(t, "events", "get", w.eventID)
		if res.code != 0 {
			t.Errorf("events get %s: exit status %d\n%s", w.eventID, res.code, res.stderr)
			continue
		}
		decodeJSON(t, "events get", res.stdout, &out)
		e := out.Event
		if e.DeliveryID != id || e.Body != string(w.body) || e.Headers[signers[w.provider].eventHeader] != w.rawKind {
			t.Errorf("events get %s: delivery %s, %d-byte body (identical: %t), headers %v; want delivery %s and the %d bytes sent",
				w.eventID, e.DeliveryID, len(e.Body), e.Body == string(w.body), e.Headers, id, len(w.body))
		}
		if strings.Contains(res.stdout, w.secret) {
			t.Errorf("events get %s shows the webhook secret", w.eventID)
		}
	}
}

func epoch(s float64) time.Time { return time.UnixMilli(int64(s * 1000)) }

func nearly(got, want time.Time, slack time.Duration) bool {
	return got.After(want.Add(-slack)) && got.Before(want.Add(slack))
}

// Tweaks: requests that depart from what the provider sends.

func dropHeader(name string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Del(name) }
}

// eventUUIDOnly is a GitLab instance too old to send Idempotency-Key.
func eventUUIDOnly(r *http.Request) {
	r.Header.Set("X-Gitlab-Event-UUID", r.Header.Get("Idempotency-Key"))
	r.Header.Del("Idempotency-Key")
}

// chunked sends the body without announcing its length.
func chunked(r *http.Request) { r.ContentLength = -1 }

func formEncoded(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }

// sha1Only signs like a GitHub webhook set up before SHA-256 signatures.
func sha1Only(dl delivery) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Del("X-Hub-Signature-256")
		r.Header.Set("X-Hub-Signature", "sha1="+hexMAC(sha1.New, dl.secret, dl.body))
	}
}

// TestE2EKillDuringBurst kills the daemon with SIGKILL while deliveries pour
// in, twice: every delivery answered 202 must survive, and none may be
// recorded twice.
func TestE2EKillDuringBurst(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	d := startDaemon(t, daemonOptions{dataDir: dir})
	conn := newHookConn(t, cliFor(t, d), "burst", store.ProviderGitHub)
	push := conn.delivery(t, "push", "push_branch.json", "")
	client := newHookClient(t)
	accepted := map[string]bool{} // acknowledged deliveries, across rounds
	for round := 1; round <= 2; round++ {
		r := burst(t, conn.url(d), push, round, d.kill)
		d = startDaemon(t, daemonOptions{dataDir: dir})
		for _, id := range r.accepted {
			accepted[id] = true
		}
		recorded := checkRecorded(t, cliFor(t, d).listEvents(t, "--connection-arn", conn.arn), accepted, r.inFlight)
		t.Logf("round %d: SIGKILL after %d deliveries accepted; %d in flight, %d of them recorded; %d refused",
			round, len(r.accepted), len(r.inFlight), len(recorded), r.refused)
		// Redelivered after the restart, a recorded delivery is a duplicate
		// and an unrecorded one is accepted now.
		for _, id := range append(slices.Clone(r.inFlight), r.accepted[:8]...) {
			tc := ingressCase{conn: conn, dl: push, code: 202, status: "held"}
			tc.dl.id = id
			if accepted[id] || recorded[id] {
				tc.code, tc.status = 200, "duplicate"
			}
			tc.check(t, d, client)
			accepted[id] = true
		}
	}
	checkRecorded(t, cliFor(t, d).listEvents(t, "--connection-arn", conn.arn), accepted, nil)
}

// burstResult is what the senders of one burst saw.
type burstResult struct {
	accepted []string // delivery ids answered 202
	inFlight []string // sent, but the connection died before an answer
	refused  int      // connection refused: never reached the daemon
}

// burst runs senders that post unique deliveries to url until their
// connection fails, and kills the daemon once enough have been accepted.
func burst(t *testing.T, url string, dl delivery, round int, kill func()) burstResult {
	t.Helper()
	const senders, killAfter, perSender = 16, 300, 2000
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = senders
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()

	var (
		mu       sync.Mutex
		res      burstResult
		accepted atomic.Int64
		wg       sync.WaitGroup
	)
	enough := make(chan struct{})
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				dl := dl
				dl.id = fmt.Sprintf("burst%d-%02d-%04d", round, s, i)
				req, err := dl.request(ctx, url)
				if err != nil {
					t.Error(err)
					return
				}
				a, err := send(client, req)
				mu.Lock()
				switch {
				case a.code == http.StatusAccepted: // committed, even if the answer was cut
					res.accepted = append(res.accepted, dl.id)
					if accepted.Add(1) == killAfter {
						close(enough)
					}
				case errors.Is(err, syscall.ECONNREFUSED):
					res.refused++
				case err != nil:
					res.inFlight = append(res.inFlight, dl.id)
				default:
					t.Errorf("delivery %s: HTTP %d %+v, want 202", dl.id, a.code, a)
				}
				mu.Unlock()
				if a.code != http.StatusAccepted {
					return
				}
			}
		})
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-enough:
		kill()
	case <-stopped:
	case <-ctx.Done():
	}
	<-stopped
	if n := accepted.Load(); n < killAfter {
		t.Fatalf("round %d: only %d deliveries accepted before the senders stopped (%v), want %d", round, n, ctx.Err(), killAfter)
	}
	return res
}

// checkRecorded checks the delivery ids of a connection's events: none
// twice, every accepted one present, and nothing else but in-flight ones.
// It returns the in-flight ones that were recorded.
func checkRecorded(t *testing.T, events []eventSummary, accepted map[string]bool, inFlight []string) map[string]bool {
	t.Helper()
	maybe := map[string]bool{}
	for _, id := range inFlight {
		maybe[id] = true
	}
	seen := map[string]int{}
	recorded := map[string]bool{}
	var dups, unexpected, missing []string
	for _, e := range events {
		id := e.DeliveryID
		seen[id]++
		switch {
		case seen[id] == 2:
			dups = append(dups, id)
		case seen[id] > 2:
		case maybe[id]:
			recorded[id] = true
		case !accepted[id]:
			unexpected = append(unexpected, id)
		}
	}
	for id := range accepted {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	for _, c := range []struct {
		what string
		ids  []string
	}{
		{"recorded more than once", dups},
		{"recorded, though never sent or refused", unexpected},
		{"accepted with 202, but lost", missing},
	} {
		if len(c.ids) > 0 {
			slices.Sort(c.ids)
			t.Errorf("%d of %d deliveries %s: %v", len(c.ids), len(events), c.what, c.ids[:min(len(c.ids), 10)])
		}
	}
	return recorded
}

func TestE2EMetricsIngress(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	d := startDaemon(t, daemonOptions{dataDir: dir})
	cli := cliFor(t, d)
	pending := newHookConn(t, cli, "pending", store.ProviderGitHub)
	available := newHookConn(t, cli, "available", store.ProviderGitHub)
	// Nothing in forgelink completes a connection yet: mark one AVAILABLE
	// in the stopped daemon's store, as the provider handshake will.
	d.stop(t)
	setConnectionStatus(t, dir, available.id, store.StatusAvailable)
	d = startDaemon(t, daemonOptions{dataDir: dir})
	cli = cliFor(t, d)
	client := newHookClient(t)

	push := available.delivery(t, "push", "push_branch.json", uuid.NewString())
	unknown := strayHookConn(d, uuid.NewString(), pending.secret)
	for _, tc := range []ingressCase{
		{"accepted", available, push, nil, 202, "accepted", "push"},
		{"duplicate", available, push, nil, 200, "duplicate", ""},
		{"held", pending, pending.delivery(t, "push", "push_branch.json", uuid.NewString()), nil, 202, "held", "push"},
		{"bad signature", pending, pending.delivery(t, "push", "push_branch.json", uuid.NewString()).withSecret("not-the-secret"), nil, 401, "", ""},
		{"unknown connection", unknown, unknown.delivery(t, "push", "push_branch.json", uuid.NewString()), nil, 404, "", ""},
	} {
		a := tc.check(t, d, client)
		if a.EventID == "" {
			continue
		}
		var got struct{ Event eventSummary }
		cli.decode(t, &got, "events", "get", a.EventID)
		if got.Event.Held != (tc.status == "held") {
			t.Errorf("%s delivery: event held = %t", tc.name, got.Event.Held)
		}
	}

	metrics := scrape(t, d)
	received := func(conn, outcome, provider string) string {
		return series("forgelink_webhooks_received_total", "connection", conn, "outcome", outcome, "provider", provider)
	}
	ingested := func(outcome string) string {
		return series("forgelink_webhook_ingest_duration_seconds_count", "outcome", outcome, "provider", store.ProviderGitHub)
	}
	for _, s := range []string{
		received(available.id, "accepted", store.ProviderGitHub),
		received(available.id, "duplicate", store.ProviderGitHub),
		received(pending.id, "held", store.ProviderGitHub),
		// Refusals of unverified senders carry no connection id: anyone
		// could name any id and grow the label set.
		received("unverified", "bad_signature", store.ProviderGitHub),
		received("unverified", "unknown_connection", "unknown"),
		ingested("accepted"), ingested("duplicate"), ingested("held"), ingested("bad_signature"),
	} {
		if got, ok := metrics[s]; got != 1 {
			t.Errorf("/metrics: %s = %v (present: %t), want 1", s, got, ok)
		}
	}
}

// setConnectionStatus changes a connection's status in a stopped daemon's store.
func setConnectionStatus(t *testing.T, dataDir, id, status string) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "forgelink.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = st.SetConnectionStatus(t.Context(), id, status, "")
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// scrape reads d's /metrics into a map from series to value.
func scrape(t *testing.T, d *daemon) map[string]float64 {
	t.Helper()
	resp, err := http.DefaultClient.Do(d.rootSignedGet(t, "/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// The value is the last field; label values may hold spaces.
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("/metrics: malformed line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: malformed line %q", line)
		}
		m[line[:i]] = v
	}
	if err := sc.Err(); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: HTTP %d, %v", resp.StatusCode, err)
	}
	return m
}

// series spells a series as the text format does: labels sorted by name.
func series(name string, labels ...string) string {
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+"="+strconv.Quote(labels[i+1]))
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}
