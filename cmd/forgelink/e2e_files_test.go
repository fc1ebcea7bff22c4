//go:build unix

// Truncated changed-file lists end to end: GitHub pushes whose payload
// holds the maximum of commits go into the real daemon, which asks a fake
// GitHub compare API with the connection's token before delivering.

package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// compareAPI is a fake GitHub API: GET /user as fakeGitHub, and GET
// /repos/{owner}/{repo}/compare/{before}...{after} answering with the
// files set for after. Anything else (the webhook registration's hook
// listing) gets 404 and is not counted.
type compareAPI struct {
	*httptest.Server

	mu    sync.Mutex
	files map[string][]string // by after commit: modified paths
	asked []string            // basehead of each compare request
}

func newCompareAPI(t *testing.T) *compareAPI {
	api := &compareAPI{files: map[string][]string{}}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+e2eToken {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Bad credentials"}`)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/user" {
			io.WriteString(w, `{"login":"e2e","id":1,"type":"User"}`)
			return
		}
		basehead, ok := strings.CutPrefix(r.URL.Path, "/repos/octo-org/widget/compare/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, after, _ := strings.Cut(basehead, "...")
		api.mu.Lock()
		api.asked = append(api.asked, basehead)
		paths, known := api.files[after]
		api.mu.Unlock()
		if r.Method != http.MethodGet || !known {
			http.NotFound(w, r)
			return
		}
		var files []map[string]string
		for _, p := range paths {
			files = append(files, map[string]string{"filename": p, "status": "modified"})
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ahead", "files": files})
	}))
	t.Cleanup(api.Close)
	return api
}

func (api *compareAPI) set(after string, paths ...string) {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.files[after] = paths
}

func (api *compareAPI) requests() []string {
	api.mu.Lock()
	defer api.mu.Unlock()
	return slices.Clone(api.asked)
}

// truncatedBody is p's payload with GitHub's maximum of 2,048 commits, so
// that its file list counts as truncated; every commit lists p.modified.
func truncatedBody(t *testing.T, p pushEvent) []byte {
	t.Helper()
	var payload map[string]any
	if err := json.Unmarshal(p.body(), &payload); err != nil {
		t.Fatal(err)
	}
	head := payload["head_commit"].(map[string]any)
	commits := make([]any, 2048)
	for i := range commits {
		c := map[string]any{}
		for k, v := range head {
			c[k] = v
		}
		if i < len(commits)-1 {
			c["id"] = randomCommit()
		}
		commits[i] = c
	}
	payload["commits"] = commits
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestE2ETruncatedFiles(t *testing.T) {
	e2e(t)
	cfgDir := t.TempDir()
	secret := newSigningSecret(t, cfgDir, "signing-secret")
	rc := newReceiver(t, secret, nil)
	api := newCompareAPI(t)
	d, cfgPath, base := startWithGitHubAPI(t, cfgDir, api.URL)
	cli := cliFor(t, d)
	client := newHookClient(t)

	conn := newHookConn(t, cli, "files", store.ProviderGitHub)
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: ci
    type: http
    http:
      url: %[1]s/ci
      secretFile: signing-secret
      timeout: 2s
    retry: {initialInterval: 10ms, maxInterval: 50ms, maxAttempts: 5, maxAge: 1h}
pipelines:
  - name: docs
    connectionArn: %[2]s
    repository: octo-org/widget
    executionMode: PARALLEL
    target: ci
    triggers:
      push:
        - branches: {includes: [main]}
          filePaths: {includes: ["docs/**"]}
`, rc.URL, conn.arn))
	d.hup(t)
	cli.waitPipelines(t, []pipelineInfo{{"docs", conn.arn, "octo-org/widget", "PARALLEL", "ci"}})
	cli.complete(t, conn)

	// Both payloads list src/ only, and were cut short. The first push also
	// changed docs/; the second did not.
	docsPush := pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"src/a.go"}}
	srcPush := pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"src/b.go"}}
	api.set(docsPush.after, "docs/guide.md", "src/a.go")
	api.set(srcPush.after, "src/b.go", "src/c.go")
	events := map[string]string{}
	for name, p := range map[string]pushEvent{"docs": docsPush, "src": srcPush} {
		dl := delivery{provider: store.ProviderGitHub, event: "push", id: uuid.NewString(), body: truncatedBody(t, p), secret: conn.secret}
		req, err := dl.request(t.Context(), conn.url(d))
		if err != nil {
			t.Fatal(err)
		}
		a, err := send(client, req)
		if err != nil || a.code != http.StatusAccepted {
			t.Fatalf("push %s: HTTP %d %+v (%v), want 202", name, a.code, a, err)
		}
		events[name] = a.EventID
	}

	// The docs push is delivered, with the complete list.
	var docs deliveryInfo
	waitFor(t, "the docs push delivered", 20*time.Second, func() (bool, string) {
		ds := cli.deliveries(t, "--event-id", events["docs"])
		if len(ds) == 1 {
			docs = ds[0]
		}
		return len(ds) == 1 && ds[0].State == store.DeliverySucceeded, fmt.Sprintf("%+v", ds)
	})
	got := rc.got()
	if len(got) != 1 || got[0].webhookID != docs.DeliveryID {
		t.Fatalf("receiver got %+v, want the docs delivery only", got)
	}
	m := got[0].msg
	if m.FilesIncomplete || m.Push == nil || m.Push.FilesIncomplete || !slices.Equal(m.Push.Files.Modified, []string{"docs/guide.md", "src/a.go"}) {
		t.Errorf("delivered push %+v, files incomplete %v; want the compare API's complete list", m.Push, m.FilesIncomplete)
	}

	// The src push ends filtered; the target never hears of it.
	waitFor(t, "the src push filtered", 20*time.Second, func() (bool, string) {
		ds := cli.deliveries(t, "--event-id", events["src"])
		return len(ds) == 1 && ds[0].State == store.DeliveryFiltered, fmt.Sprintf("%+v", ds)
	})
	filtered := cli.deliveries(t, "--state", store.DeliveryFiltered)
	if len(filtered) != 1 || filtered[0].EventID != events["src"] {
		t.Fatalf("deliveries list --state filtered = %+v, want the src push's", filtered)
	}
	_, attempts := cli.attempts(t, filtered[0].DeliveryID)
	const reason = "no changed file matched filePaths (full list of 2 files from the compare API)"
	if len(attempts) != 1 || attempts[0].Outcome != "filtered" || attempts[0].Error != reason {
		t.Errorf("attempts of the filtered delivery = %+v, want one filtered: %s", attempts, reason)
	}
	if n := len(rc.got()); n != 1 {
		t.Errorf("receiver got %d deliveries, want 1", n)
	}
	// GitHub was asked once per push, with the connection's token.
	if asked := api.requests(); len(asked) != 2 {
		t.Errorf("compare requests %v, want one per push", asked)
	}
	rc.check(t)
}
