package gitlab

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

const (
	zero      = "0000000000000000000000000000000000000000"
	mainHead  = "ae506c7592925374fba54cee16a5c8cbffc2ac31"
	mrHead    = "0c14c6b2019d0329b451bb2634462926a5687afe"
	mrURL     = "https://gitlab.example.com/acme/platform/forgelink-demo/-/merge_requests/7"
	mrTitle   = "Fix escaping of <script> & “quotes”"
	deliveryK = "5f0c8d1e-2b3a-4c5d-8e9f-a0b1c2d3e4f5"
)

var demoRepo = providers.Repository{
	FullName:      "acme/platform/forgelink-demo",
	CloneURLHTTP:  "https://gitlab.example.com/acme/platform/forgelink-demo.git",
	CloneURLSSH:   "git@gitlab.example.com:acme/platform/forgelink-demo.git",
	HTMLURL:       "https://gitlab.example.com/acme/platform/forgelink-demo",
	DefaultBranch: "main",
}

// pushSummary is what TestParse checks of a push; commit contents are
// checked by TestParsePushCommits.
type pushSummary struct {
	Ref, RefType, RefName, Before, After string
	Created, Deleted, Forced             bool
	Head                                 string // HeadCommit.ID, "" when nil
	Commits, Total                       int
	Truncated, FilesIncomplete           bool
	Files                                providers.ChangedFiles
}

func summarise(p providers.Push) pushSummary {
	s := pushSummary{
		Ref: p.Ref, RefType: p.RefType, RefName: p.RefName, Before: p.Before, After: p.After,
		Created: p.Created, Deleted: p.Deleted, Forced: p.Forced,
		Commits: len(p.Commits), Total: p.TotalCommits,
		Truncated: p.CommitsTruncated, FilesIncomplete: p.FilesIncomplete,
		Files: p.Files,
	}
	if p.HeadCommit != nil {
		s.Head = p.HeadCommit.ID
	}
	return s
}

func mergeRequest(action, raw string) *providers.PullRequest {
	return &providers.PullRequest{
		Action: action, RawAction: raw, Number: 7, Title: mrTitle, URL: mrURL,
		SourceBranch: "feature/escape", DestinationBranch: "main", HeadSHA: mrHead,
	}
}

func TestParse(t *testing.T) {
	fromFork := mergeRequest(providers.PROpened, "open")
	fromFork.SourceRepository = "jordan/forgelink-demo"

	tests := []struct {
		name, event, file string
		kind              providers.Kind
		repo              providers.Repository
		push              *pushSummary
		pr                *providers.PullRequest
	}{
		{
			name: "push to a branch", event: "Push Hook", file: "push.json",
			kind: providers.KindPush, repo: demoRepo,
			push: &pushSummary{
				Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main",
				Before: "f75de4b5a49857af12f2611bc7e5e873aa571caa", After: mainHead,
				Head: mainHead, Commits: 8, Total: 8,
				Files: providers.ChangedFiles{
					Added: []string{"docs/deploy.md", "locales/de.json", "locales/ja.json",
						"src/config/load.go", "src/mathx/clamp_fuzz_test.go"},
					Modified: []string{".gitlab-ci.yml", "CHANGELOG.md", "README.md", "go.mod", "go.sum",
						"locales/index.go", "src/mathx/clamp.go", "src/render/escape.go", "src/render/escape_test.go"},
					Removed: []string{"scripts/legacy.env", "scripts/legacy.sh", "src/config/loader.go"},
				},
			},
		},
		{
			name: "annotated tag push", event: "Tag Push Hook", file: "tag_push.json",
			kind: providers.KindPush, repo: demoRepo,
			push: &pushSummary{
				Ref: "refs/tags/v1.4.0", RefType: providers.RefTag, RefName: "v1.4.0",
				Before: zero, After: "6dc06198c9c4105d003cb9d99ca8e1d2017316d3", Created: true,
			},
		},
		{
			name: "branch creation", event: "Push Hook", file: "push_create.json",
			kind: providers.KindPush, repo: demoRepo,
			push: &pushSummary{
				Ref: "refs/heads/feature/π-calculator", RefType: providers.RefBranch, RefName: "feature/π-calculator",
				Before: zero, After: "db671e587b163d6ee3e877c20d5ecfb1ba4506ca", Created: true,
				Head: "db671e587b163d6ee3e877c20d5ecfb1ba4506ca", Commits: 1, Total: 1,
				Files: providers.ChangedFiles{Added: []string{"src/pi/pi.go"}},
			},
		},
		{
			name: "branch deletion", event: "Push Hook", file: "push_delete.json",
			kind: providers.KindPush, repo: demoRepo,
			push: &pushSummary{
				Ref: "refs/heads/feature/old-ui", RefType: providers.RefBranch, RefName: "feature/old-ui",
				Before: "4d04049712a074ae0fb34a44898fd33e4b856cf4", After: zero, Deleted: true,
			},
		},
		{
			// GitLab does not flag forced pushes; Forced stays false.
			name: "forced push", event: "Push Hook", file: "push_force.json",
			kind: providers.KindPush, repo: demoRepo,
			push: &pushSummary{
				Ref: "refs/heads/feature/parser", RefType: providers.RefBranch, RefName: "feature/parser",
				Before: "b8819516dfd4baa33abc293fba4d14bce717d90a", After: "a4ad7900f8df3c4f89e3d97614af48b814dd49eb",
				Head: "a4ad7900f8df3c4f89e3d97614af48b814dd49eb", Commits: 2, Total: 2,
				Files: providers.ChangedFiles{Modified: []string{"src/parse/parse.go", "src/parse/parse_test.go"}},
			},
		},
		{
			name: "more commits than carried", event: "Push Hook", file: "push_truncated.json",
			kind: providers.KindPush, repo: demoRepo,
			push: &pushSummary{
				Ref: "refs/heads/import/history", RefType: providers.RefBranch, RefName: "import/history",
				Before: "5193383a34d5def08037ab7e342cd8494fad3a9e", After: "663a485976be5f7ad5edc5b96c66c8f47a7bc1e4",
				Head: "663a485976be5f7ad5edc5b96c66c8f47a7bc1e4", Commits: 20, Total: 37,
				Truncated: true, FilesIncomplete: true,
				Files: providers.ChangedFiles{
					Added: []string{"src/gen/new21.go", "src/gen/new28.go", "src/gen/new35.go"},
					Modified: []string{"src/gen/part0.go", "src/gen/part1.go", "src/gen/part2.go",
						"src/gen/part3.go", "src/gen/part4.go"},
				},
			},
		},
		{
			name: "push with odd commit dates", event: "Push Hook", file: "push_odd_timestamps.json",
			kind: providers.KindPush, repo: demoRepo,
			push: &pushSummary{
				Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main",
				Before: "4ede5413d27218e057f4952de70eda784a1bcb8f", After: "2ba20ec77e7ba69efb64363baea68e171ec762b7",
				Head: "2ba20ec77e7ba69efb64363baea68e171ec762b7", Commits: 3, Total: 3,
				Files: providers.ChangedFiles{Added: []string{"svn/import.txt"}, Modified: []string{"svn/import.txt"}},
			},
		},
		{
			name: "merge request opened from a fork", event: "Merge Request Hook", file: "mr_open.json",
			kind: providers.KindPullRequest, repo: demoRepo, pr: fromFork,
		},
		{
			name: "merge request with new commits", event: "Merge Request Hook", file: "mr_update_commits.json",
			kind: providers.KindPullRequest, repo: demoRepo, pr: mergeRequest(providers.PRUpdated, "update"),
		},
		{
			name: "merge request title edit", event: "Merge Request Hook", file: "mr_update_title.json",
			kind: providers.KindPullRequest, repo: demoRepo, pr: mergeRequest(providers.PROther, "update"),
		},
		{
			name: "merge request closed", event: "Merge Request Hook", file: "mr_close.json",
			kind: providers.KindPullRequest, repo: demoRepo, pr: mergeRequest(providers.PRClosed, "close"),
		},
		{
			name: "merge request merged", event: "Merge Request Hook", file: "mr_merge.json",
			kind: providers.KindPullRequest, repo: demoRepo, pr: mergeRequest(providers.PRMerged, "merge"),
		},
		{
			name: "merge request approved", event: "Merge Request Hook", file: "mr_approved.json",
			kind: providers.KindPullRequest, repo: demoRepo, pr: mergeRequest(providers.PROther, "approved"),
		},
		{
			// last_commit.timestamp is "2024-01-24 16:27:40 UTC" and
			// merge_params.force_remove_source_branch is "": both reject
			// the whole payload when decoded by the library's own types.
			name: "merge request reopened with odd values", event: "Merge Request Hook", file: "mr_reopen_odd.json",
			kind: providers.KindPullRequest, repo: demoRepo, pr: mergeRequest(providers.PROpened, "reopen"),
		},
		{
			name: "issue", event: "Issue Hook", file: "issue.json",
			kind: providers.KindOther, repo: demoRepo,
		},
		{
			name: "system hook without object_kind", event: "System Hook", file: "system_hook.json",
			kind: providers.KindOther, repo: demoRepo,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Webhooks{}.Parse(headers(tt.event), load(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Provider != store.ProviderGitLab || ev.DeliveryID != deliveryK || ev.RawKind != tt.event {
				t.Errorf("Provider, DeliveryID, RawKind = %q, %q, %q", ev.Provider, ev.DeliveryID, ev.RawKind)
			}
			if ev.Kind != tt.kind {
				t.Errorf("Kind = %q, want %q", ev.Kind, tt.kind)
			}
			if ev.Repository != tt.repo {
				t.Errorf("Repository = %+v, want %+v", ev.Repository, tt.repo)
			}
			if !reflect.DeepEqual(ev.PullRequest, tt.pr) {
				t.Errorf("PullRequest = %+v, want %+v", ev.PullRequest, tt.pr)
			}
			checkPush(t, ev.Pushes, tt.push)
		})
	}
}

func checkPush(t *testing.T, pushes []providers.Push, want *pushSummary) {
	t.Helper()
	if want == nil {
		if pushes != nil {
			t.Errorf("Pushes = %+v, want none", pushes)
		}
		return
	}
	if len(pushes) != 1 {
		t.Fatalf("got %d pushes, want 1", len(pushes))
	}
	if got := summarise(pushes[0]); !reflect.DeepEqual(got, *want) {
		t.Errorf("push:\n got %+v\nwant %+v", got, *want)
	}
}

func TestParsePushCommits(t *testing.T) {
	ev, err := Webhooks{}.Parse(headers("Push Hook"), load(t, "push.json"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	p := ev.Pushes[0]
	wantHead := providers.Commit{
		ID:          mainHead,
		Message:     "Merge branch 'feature/escape' into 'main'\n\nFix escaping\n\nSee merge request acme/platform/forgelink-demo!7\n",
		AuthorName:  "Jordan O'Neil",
		AuthorEmail: "jordan@example.com",
		Timestamp:   time.Date(2024, 5, 2, 12, 30, 0, 0, time.UTC),
		URL:         "https://gitlab.example.com/acme/platform/forgelink-demo/-/commit/" + mainHead,
		Modified:    []string{"src/render/escape.go", "CHANGELOG.md"},
		Removed:     []string{},
		Added:       []string{},
	}
	checkCommit(t, p.HeadCommit, wantHead)
	if p.HeadCommit == &p.Commits[len(p.Commits)-1] {
		t.Error("HeadCommit aliases an element of Commits")
	}

	wantMessages := map[int]string{
		1: "Fix escaping of <script> tags & ampersands\n\nCloses #112.\n\nThe renderer turned \"a & b\" into \"a &amp;amp; b\".\n",
		3: "i18n: Übersetzungen für café/naïve ergänzt ☕\n\nAdds German and Japanese strings: 日本語の翻訳を追加しました。\n",
	}
	for i, want := range wantMessages {
		if got := p.Commits[i].Message; got != want {
			t.Errorf("Commits[%d].Message = %q, want %q", i, got, want)
		}
	}
	if got := p.Commits[3].AuthorName; got != "渡辺 健" {
		t.Errorf("Commits[3].AuthorName = %q", got)
	}
	if got, want := p.Commits[6].Removed, []string{"src/config/loader.go"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Commits[6].Removed = %q, want %q", got, want)
	}
}

func checkCommit(t *testing.T, got *providers.Commit, want providers.Commit) {
	t.Helper()
	if got == nil {
		t.Fatal("HeadCommit is nil")
	}
	c := *got
	if !c.Timestamp.Equal(want.Timestamp) {
		t.Errorf("Timestamp = %v, want %v", c.Timestamp, want.Timestamp)
	}
	c.Timestamp, want.Timestamp = time.Time{}, time.Time{}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("commit:\n got %+v\nwant %+v", c, want)
	}
}

// TestParseOddTimestamps: dates GitLab writes in Rails' default form are
// read; dates in no known form leave the zero time and do not reject the push.
func TestParseOddTimestamps(t *testing.T) {
	ev, err := Webhooks{}.Parse(headers("Push Hook"), load(t, "push_odd_timestamps.json"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []time.Time{{}, {}, time.Date(2024, 1, 24, 16, 27, 40, 0, time.UTC)}
	for i, c := range ev.Pushes[0].Commits {
		if !c.Timestamp.Equal(want[i]) {
			t.Errorf("Commits[%d].Timestamp = %v, want %v", i, c.Timestamp, want[i])
		}
	}
}

func TestParseErrors(t *testing.T) {
	push := load(t, "push.json")
	mr := load(t, "mr_open.json")
	tests := []struct {
		name, event, body string
	}{
		{"truncated push", "Push Hook", string(push[:len(push)/2])},
		{"truncated merge request", "Merge Request Hook", string(mr[:len(mr)-2])},
		{"truncated other hook", "Issue Hook", string(load(t, "issue.json")[:100])},
		{"array", "Push Hook", `[]`},
		{"string", "Push Hook", `"x"`},
		{"number ref", "Push Hook", `{"ref": 987654321}`},
		{"bool ref in tag push", "Tag Push Hook", `{"ref": true}`},
		{"commits object", "Push Hook", `{"ref": "refs/heads/main", "commits": {}}`},
		{"null", "Push Hook", `null`},
		{"no ref", "Push Hook", `{}`},
		{"bare word", "Push Hook", `{"ref": qqqq}`},
		{"empty body", "Push Hook", ``},
		{"merge request without iid", "Merge Request Hook", `{"object_attributes": {"action": "open"}}`},
		{"merge request attributes array", "Merge Request Hook", `{"object_attributes": []}`},
		{"no event header", "", string(push)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Webhooks{}.Parse(headers(tt.event), []byte(tt.body))
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want ErrMalformed", ev, err)
			}
			for _, leak := range []string{"987654321", "qqqq", "'q'", "Zoë"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q quotes the body", err)
				}
			}
		})
	}
}

// TestParseOtherShapes: any other hook is KindOther whatever its shape,
// as long as it is JSON.
func TestParseOtherShapes(t *testing.T) {
	for _, body := range []string{`[]`, `{"project": "x"}`, `{"object_kind": "emoji"}`, `null`} {
		ev, err := Webhooks{}.Parse(headers("Emoji Hook"), []byte(body))
		if err != nil || ev.Kind != providers.KindOther || ev.Repository != (providers.Repository{}) {
			t.Errorf("Parse(%s) = %+v, %v; want KindOther without repository", body, ev, err)
		}
	}
}

func BenchmarkParsePush(b *testing.B) {
	body := load(b, "push.json")
	h := headers("Push Hook")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (Webhooks{}).Parse(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

func headers(event string) http.Header {
	h := http.Header{}
	if event != "" {
		h.Set("X-Gitlab-Event", event)
	}
	h.Set("Idempotency-Key", deliveryK)
	h.Set("X-Gitlab-Event-UUID", "0b7e5c8a-1f2d-4e3c-9b8a-7d6e5f4c3b2a")
	return h
}

func load(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
