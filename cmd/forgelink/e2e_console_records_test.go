//go:build unix

package main_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

// Issue 13, "a console you can work in", against the real daemon: a dead
// build's event, its explanation and its delivery with the command's
// output are pages; Redeliver runs it again; the webhook secret shows on
// a click and the reveal is audited without it.
func TestE2EConsoleRecords(t *testing.T) {
	e2e(t)
	gh := fakeGitHub(t)
	d, cfgPath, base := startWithGitHubAPI(t, t.TempDir(), gh.URL)
	cli := cliFor(t, d)
	conn := newHookConn(t, cli, "console-records", store.ProviderGitHub)
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: compile
    type: exec
    exec:
      command: [/bin/sh, -c, 'echo "main.go:3: undefined: x" >&2; exit 2']
pipelines:
  - {name: broken, connectionArn: %s, repository: octo-org/widget, target: compile}
`, conn.arn))
	d.hup(t)
	cli.waitPipelines(t, []pipelineInfo{{"broken", conn.arn, "octo-org/widget", "QUEUED", "compile"}})
	cli.complete(t, conn)
	pushTo(t, http.DefaultClient, d, conn, pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"main.go"}}, http.StatusAccepted, "accepted")
	waitFor(t, "the delivery dead", 20*time.Second, func() (bool, string) {
		n := len(d.logEntries("delivery dead: no more attempts"))
		return n == 1, fmt.Sprintf("%d dead deliveries logged", n)
	})

	b := consoleBrowser(t, d)
	overview := b.get(t, "/console/")
	eventID := b.find(t, overview, `/console/events/([0-9a-f-]{36})"`)
	deliveryID := b.find(t, overview, `/console/deliveries/([0-9a-f-]{36})"`)
	b.want(t, "/console/events/"+eventID, "octo-org/widget", "refs/heads/main", "X-GitHub-Event", "/explain")
	b.want(t, "/console/events/"+eventID+"/explain", "broken → compile", "triggered")
	page := b.want(t, "/console/deliveries/"+deliveryID, "main.go:3: undefined: x", `id="attempt-1"`, `id="redeliver"`)
	b.post(t, "/console/deliveries/"+deliveryID+"/redeliver", b.find(t, page, `name="csrf" value="([0-9a-f]+)"`))
	waitFor(t, "the redelivered build's second attempt", 20*time.Second, func() (bool, string) {
		n := len(d.logEntries("delivery dead: no more attempts"))
		return n == 2, fmt.Sprintf("%d dead deliveries logged", n)
	})
	b.want(t, "/console/deliveries/"+deliveryID, `id="attempt-2"`)

	// The fake GitHub has no hooks API: the hook registry's failure is the
	// repository's hook health.
	waitFor(t, "the hook's health on the connection page", 20*time.Second, func() (bool, string) {
		page = b.get(t, "/console/connections/"+conn.id)
		return strings.Contains(page, "hook-error") && strings.Contains(page, "github list hooks"), page
	})
	b.want(t, "/console/connections/"+conn.id, conn.path, `id="reveal"`, "octo-org/widget")
	if strings.Contains(page, conn.secret) {
		t.Fatal("the connection page shows the webhook secret before the click")
	}
	revealed := b.post(t, "/console/connections/"+conn.id+"/webhook-secret", b.find(t, page, `name="csrf" value="([0-9a-f]+)"`))
	if !strings.Contains(revealed, conn.secret) {
		t.Errorf("the reveal does not show the secret:\n%s", revealed)
	}
	// The daemon's log reaches the test through a pipe: the line may come
	// after the answer.
	var audits []map[string]any
	waitFor(t, "the reveal's audit line", 10*time.Second, func() (bool, string) {
		audits = d.logEntries("console webhook secret revealed")
		return len(audits) > 0, fmt.Sprintf("%d audit lines", len(audits))
	})
	if len(audits) != 1 || audits[0]["logger"] != "console.audit" || audits[0]["access_key_id"] != rootKeyID || audits[0]["connection_arn"] != conn.arn {
		t.Errorf("audit log lines %v, want one by console.audit naming the key and the connection", audits)
	}
	if strings.Contains(d.out.String(), conn.secret) {
		t.Error("the webhook secret is in the daemon's log")
	}
}

// consoleSession is an HTTP client signed in to d's console with a login
// link from `forgelink console-link`.
type consoleSession struct {
	d      *daemon
	client *http.Client
}

func consoleBrowser(t *testing.T, d *daemon) consoleSession {
	t.Helper()
	res := runCommand(t, clientEnv(t), forgelinkBin, "console-link", "--endpoint-url", d.url)
	link := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(link, d.url+"/console/login/") {
		t.Fatalf("console-link: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	jar, _ := cookiejar.New(nil)
	s := consoleSession{d: d, client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	resp, err := s.client.Get(link)
	s.read(t, resp, err)
	return s
}

func (s consoleSession) read(t *testing.T, resp *http.Response, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d:\n%s", resp.Request.Method, resp.Request.URL, resp.StatusCode, body)
	}
	return string(body)
}

func (s consoleSession) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := s.client.Get(s.d.url + path)
	return s.read(t, resp, err)
}

// want fetches a page and checks that it holds every one of want.
func (s consoleSession) want(t *testing.T, path string, want ...string) string {
	t.Helper()
	page := s.get(t, path)
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("GET %s: no %q in:\n%s", path, w, page)
		}
	}
	return page
}

// post sends a console form (the browser follows its 303).
func (s consoleSession) post(t *testing.T, path, csrf string) string {
	t.Helper()
	resp, err := s.client.PostForm(s.d.url+path, url.Values{"csrf": {csrf}})
	return s.read(t, resp, err)
}

func (s consoleSession) find(t *testing.T, page, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in:\n%s", pattern, page)
	}
	return m[1]
}
