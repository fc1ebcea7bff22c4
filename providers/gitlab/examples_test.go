package gitlab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

// exampleEvents maps each documented example (testdata/examples) to the
// X-Gitlab-Event it is delivered with.
func exampleEvents(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "examples", "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var events map[string]string
	if err := json.Unmarshal(raw, &events); err != nil || len(events) < 50 {
		t.Fatalf("events.json: %d entries, %v", len(events), err)
	}
	return events
}

// Every payload GitLab documents is accepted; generic hooks are classified
// by their body.
func TestParseDocumentedExamples(t *testing.T) {
	want := map[string]providers.Kind{
		"hooks/push.json":                  providers.KindPush,
		"hooks/tag_push.json":              providers.KindPush,
		"hooks/merge_request.json":         providers.KindPullRequest,
		"hooks/service_merge_request.json": providers.KindPullRequest,
		"system/push.json":                 providers.KindPush,
		"system/tag_push.json":             providers.KindPush,
		"system/merge_request.json":        providers.KindPullRequest,
	}
	for key, event := range exampleEvents(t) {
		t.Run(key, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "examples", key))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Webhooks{}.Parse(headers(event), body)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if w := want[key]; ev.Kind != w && !(w == "" && ev.Kind == providers.KindOther) {
				t.Errorf("Kind = %s, want %s", ev.Kind, w)
			}
			if ev.RawKind != event {
				t.Errorf("RawKind = %q, want %q", ev.RawKind, event)
			}
		})
	}
}

// A merge request or push sent as a System Hook or Service Hook carries the
// fields it would as a Merge Request Hook or Push Hook.
func TestParseGenericHooks(t *testing.T) {
	load := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mr, err := Webhooks{}.Parse(headers(eventSystemHook), load("system/merge_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	wantPR := providers.PullRequest{
		Action: providers.PROther, Number: 1, Title: "MS-Viewport",
		SourceBranch: "ms-viewport", DestinationBranch: "master",
		HeadSHA: "ba3e0d8ff79c80d5b0bbb4f3e2e343e0aaa662b7",
	}
	if mr.Kind != providers.KindPullRequest || mr.PullRequest == nil || mr.Repository.FullName != "jsmith/example" {
		t.Fatalf("system merge request = %+v", mr)
	}
	if got := *mr.PullRequest; got != wantPR {
		t.Errorf("system merge request =\n%+v\nwant\n%+v", got, wantPR)
	}
	svc, err := Webhooks{}.Parse(headers(eventServiceHook), load("hooks/service_merge_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	if svc.PullRequest == nil || svc.PullRequest.Number != 2 || svc.PullRequest.RawAction != "update" || svc.Repository.FullName != "test/woodpecker" {
		t.Errorf("service merge request = %+v, %+v", svc, svc.PullRequest)
	}
	push, err := Webhooks{}.Parse(headers(eventSystemHook), load("system/push.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(push.Pushes) != 1 || push.Pushes[0].RefName != "master" || len(push.Pushes[0].Commits) != 1 || push.Repository.FullName != "mike/diaspora" {
		t.Errorf("system push = %+v", push)
	}
	tag, err := Webhooks{}.Parse(headers(eventSystemHook), load("system/tag_push.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tag.Pushes) != 1 || tag.Pushes[0].RefType != providers.RefTag || tag.Pushes[0].RefName != "v1.0.0" {
		t.Errorf("system tag push = %+v", tag)
	}
	// A generic hook without a kind forgelink routes stays other, with its project.
	other, err := Webhooks{}.Parse(headers(eventSystemHook), load("system/repository_update.json"))
	if err != nil || other.Kind != providers.KindOther {
		t.Errorf("repository_update = %+v, %v", other, err)
	}
	// A generic hook claiming a merge request still needs the members forgelink reads.
	if _, err := (Webhooks{}).Parse(headers(eventServiceHook), []byte(`{"object_kind": "merge_request", "object_attributes": {"iid": "7"}}`)); err == nil {
		t.Error("merge request with a string iid accepted")
	}
}
