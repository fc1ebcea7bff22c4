package bitbucket

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

// Every event kind Atlassian documents parses: those of testdata (push,
// pull request lifecycle, fork) and of testdata/examples (the rest).
func TestParseDocumentedExamples(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "examples", "event_keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]string
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for file, key := range keys {
		t.Run(key, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "examples", file))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Webhooks{}.Parse(eventHeader(key), body)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			want := providers.KindOther
			if strings.HasPrefix(key, pullRequestPrefix) {
				want = providers.KindPullRequest
			}
			if ev.Kind != want || ev.Repository.FullName != "acme-platform/payments-api" {
				t.Errorf("Kind %s, repository %q; want %s, acme-platform/payments-api", ev.Kind, ev.Repository.FullName, want)
			}
			if want == providers.KindPullRequest && (ev.PullRequest == nil || ev.PullRequest.Action != providers.PROther) {
				t.Errorf("PullRequest = %+v, want action other", ev.PullRequest)
			}
		})
	}
}
