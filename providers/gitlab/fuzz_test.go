package gitlab

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

func FuzzParse(f *testing.F) {
	seeds := map[string]string{
		"push.json":                "Push Hook",
		"push_create.json":         "Push Hook",
		"push_delete.json":         "Push Hook",
		"push_force.json":          "Push Hook",
		"push_truncated.json":      "Push Hook",
		"push_odd_timestamps.json": "Push Hook",
		"tag_push.json":            "Tag Push Hook",
		"mr_open.json":             "Merge Request Hook",
		"mr_update_commits.json":   "Merge Request Hook",
		"mr_reopen_odd.json":       "Merge Request Hook",
		"issue.json":               "Issue Hook",
		"system_hook.json":         "System Hook",
	}
	for file, event := range seeds {
		f.Add(event, load(f, file))
	}
	// Generic hooks, classified by the body.
	f.Add("System Hook", load(f, "examples/system/merge_request.json"))
	f.Add("System Hook", load(f, "examples/system/push.json"))
	f.Add("Service Hook", []byte(`{"object_kind":"tag_push","ref":"refs/tags/v1","project":{"path_with_namespace":"a/b"}}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		h := http.Header{}
		h.Set("X-Gitlab-Event", event)
		ev, err := Webhooks{}.Parse(h, body)
		if err != nil {
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if ev.Kind == providers.KindPush {
			checkPushInvariants(t, ev.Pushes)
		}
		if (ev.Kind == providers.KindPullRequest) != (ev.PullRequest != nil) {
			t.Fatalf("Kind %q with PullRequest %v", ev.Kind, ev.PullRequest)
		}
	})
}

func checkPushInvariants(t *testing.T, pushes []providers.Push) {
	if len(pushes) != 1 {
		t.Fatalf("%d pushes", len(pushes))
	}
	p := pushes[0]
	if p.TotalCommits < len(p.Commits) || p.CommitsTruncated != (p.TotalCommits > len(p.Commits)) {
		t.Fatalf("TotalCommits %d, %d commits, truncated %v", p.TotalCommits, len(p.Commits), p.CommitsTruncated)
	}
	for _, files := range [][]string{p.Files.Added, p.Files.Modified, p.Files.Removed} {
		if !slices.IsSorted(files) || len(slices.Compact(slices.Clone(files))) != len(files) {
			t.Fatalf("files not a sorted set: %q", files)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("s3cr3t-current-token", []byte("s3cr3t-current-token"), []byte("old-token-Ω"))
	f.Add("old-token-Ω", []byte("s3cr3t-current-token"), []byte("old-token-Ω"))
	f.Add("", []byte(""), []byte("x"))
	f.Add("sha256=0b1c", []byte("sha256=0b1c "), []byte{})
	f.Fuzz(func(t *testing.T, token string, current, previous []byte) {
		h := http.Header{}
		h.Set("X-Gitlab-Token", token)
		err := Webhooks{}.Verify(h, nil, [][]byte{current, previous})
		switch {
		case token == "":
			if !errors.Is(err, providers.ErrMissingSignature) {
				t.Fatalf("empty token: %v", err)
			}
		case token == string(current) || token == string(previous):
			if err != nil {
				t.Fatalf("matching token: %v", err)
			}
		default:
			if !errors.Is(err, providers.ErrBadSignature) {
				t.Fatalf("other token: %v", err)
			}
		}
	})
}
