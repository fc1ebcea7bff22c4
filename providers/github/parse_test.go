package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
)

const (
	deliveryID = "8c1c2a80-07a4-11ef-9f4e-2f1c8a5b7d11"
	zeroSHA    = "0000000000000000000000000000000000000000"
)

func headers(event string) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", deliveryID)
	return h
}

// widget is the repository of the testdata payloads. Their repository
// objects carry a multi-select custom property (a JSON array), which
// go-github v60's map[string]string cannot hold.
var widget = providers.Repository{
	FullName:      "octo-org/widget",
	CloneURLHTTP:  "https://github.com/octo-org/widget.git",
	CloneURLSSH:   "git@github.com:octo-org/widget.git",
	HTMLURL:       "https://github.com/octo-org/widget",
	DefaultBranch: "main",
}

func commitURL(id string) string { return "https://github.com/octo-org/widget/commit/" + id }

var (
	commit1 = providers.Commit{
		ID:          "2f22765d04931a078909145ca628d2264c852d7d",
		Message:     "Fix <script> escaping & quoting in templates\n\nThe renderer emitted \"&lt;\" twice when a template held both < and >.",
		AuthorName:  "Mona Lisa Octocat",
		AuthorEmail: "mona@example.com",
		Timestamp:   time.Date(2024, 5, 1, 9, 58, 3, 0, time.UTC),
		URL:         commitURL("2f22765d04931a078909145ca628d2264c852d7d"),
		Added:       []string{"internal/render/escape.go", "internal/render/escape_test.go"},
		Modified:    []string{"internal/render/render.go", "README.md"},
	}
	commit2 = providers.Commit{
		ID:          "6b1f53303a732ccc8c6aae6640399827c15250e3",
		Message:     "Übersetzung: Größenangaben für Zölle 📦",
		AuthorName:  "José Müller",
		AuthorEmail: "jose.mueller@example.de",
		Timestamp:   time.Date(2024, 5, 1, 10, 4, 41, 0, time.UTC),
		URL:         commitURL("6b1f53303a732ccc8c6aae6640399827c15250e3"),
		Modified:    []string{"docs/de/README.md", "README.md"},
		Removed:     []string{"docs/de/alt.md"},
	}
	commit3 = providers.Commit{
		ID:          "a625406f6977d45c1391b078f4d3656e0b75bfcb",
		Message:     "Rename config loader (config.go → loader.go)",
		AuthorName:  "Mona Lisa Octocat",
		AuthorEmail: "mona@example.com",
		Timestamp:   time.Date(2024, 5, 1, 10, 10, 19, 0, time.UTC),
		URL:         commitURL("a625406f6977d45c1391b078f4d3656e0b75bfcb"),
		Added:       []string{"internal/config/loader.go"},
		Modified:    []string{"cmd/widget/main.go"},
		Removed:     []string{"internal/config/config.go"},
	}
	featureCommit = providers.Commit{
		ID:          "c09bb890b096f7306f688cc6d1dad34e7e52a223",
		Message:     "Start feature/ü-naming: scaffold",
		AuthorName:  "José Müller",
		AuthorEmail: "jose.mueller@example.de",
		Timestamp:   time.Date(2024, 5, 2, 8, 15, 0, 0, time.UTC),
		URL:         commitURL("c09bb890b096f7306f688cc6d1dad34e7e52a223"),
		Added:       []string{"feature/naming.go"},
	}
	rebasedCommit = providers.Commit{
		ID:          "5573e39b6600496d40f493d00ec7658479a19607",
		Message:     "WIP: rebase onto main (amended)",
		AuthorName:  "Mona Lisa Octocat",
		AuthorEmail: "mona@example.com",
		Timestamp:   time.Date(2024, 5, 2, 16, 30, 0, 0, time.UTC),
		URL:         commitURL("5573e39b6600496d40f493d00ec7658479a19607"),
		Modified:    []string{"feature/naming.go", "go.mod"},
	}
)

func pushEvent(p providers.Push) providers.Event {
	return providers.Event{Kind: providers.KindPush, RawKind: "push", Repository: widget, Pushes: []providers.Push{p}}
}

func prEvent(pr providers.PullRequest) providers.Event {
	return providers.Event{Kind: providers.KindPullRequest, RawKind: "pull_request", Repository: widget, PullRequest: &pr}
}

func installEvent(kind, action string) providers.Event {
	return providers.Event{
		Kind:         providers.KindInstallation,
		RawKind:      kind,
		Installation: &providers.Installation{ID: 51234567, Action: action, Account: "octo-org"},
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		file, event string
		want        providers.Event
	}{
		{"push_branch.json", "push", pushEvent(providers.Push{
			Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main",
			Before:       "1405df66cbe219b0bf6355bc3d60361a8376b6b4",
			After:        commit3.ID,
			HeadCommit:   &commit3,
			Commits:      []providers.Commit{commit1, commit2, commit3},
			TotalCommits: 3,
			Files: providers.ChangedFiles{
				Added:    []string{"internal/config/loader.go", "internal/render/escape.go", "internal/render/escape_test.go"},
				Modified: []string{"README.md", "cmd/widget/main.go", "docs/de/README.md", "internal/render/render.go"},
				Removed:  []string{"docs/de/alt.md", "internal/config/config.go"},
			},
		})},
		{"push_tag.json", "push", pushEvent(providers.Push{
			Ref: "refs/tags/v1.4.0", RefType: providers.RefTag, RefName: "v1.4.0",
			Before: zeroSHA, After: commit3.ID, Created: true, HeadCommit: &commit3,
		})},
		{"push_create.json", "push", pushEvent(providers.Push{
			Ref: "refs/heads/feature/ü-naming", RefType: providers.RefBranch, RefName: "feature/ü-naming",
			Before: zeroSHA, After: featureCommit.ID, Created: true,
			HeadCommit:   &featureCommit,
			Commits:      []providers.Commit{featureCommit},
			TotalCommits: 1,
			Files:        providers.ChangedFiles{Added: []string{"feature/naming.go"}},
		})},
		{"push_delete.json", "push", pushEvent(providers.Push{
			Ref: "refs/heads/feature/ü-naming", RefType: providers.RefBranch, RefName: "feature/ü-naming",
			Before: featureCommit.ID, After: zeroSHA, Deleted: true,
		})},
		{"push_forced.json", "push", pushEvent(providers.Push{
			Ref: "refs/heads/feature/rebase", RefType: providers.RefBranch, RefName: "feature/rebase",
			Before: "1dff429e4bbffc8beb68d9051d6b7926c22aaf99", After: rebasedCommit.ID, Forced: true,
			HeadCommit:   &rebasedCommit,
			Commits:      []providers.Commit{rebasedCommit},
			TotalCommits: 1,
			Files:        providers.ChangedFiles{Modified: []string{"feature/naming.go", "go.mod"}},
		})},
		{"pull_request_opened.json", "pull_request", prEvent(providers.PullRequest{
			Action: providers.PROpened, RawAction: "opened", Number: 42,
			Title:        "Escape <, > & \" in templates — fixes #12",
			URL:          "https://github.com/octo-org/widget/pull/42",
			SourceBranch: "fix/escape-<tags>", DestinationBranch: "main",
			HeadSHA:          "b2b68dd40b48d5240e7e6b569aeac3e95c28487e",
			SourceRepository: "jmueller/widget",
		})},
		{"pull_request_synchronize.json", "pull_request", prEvent(providers.PullRequest{
			Action: providers.PRUpdated, RawAction: "synchronize", Number: 42,
			Title:        "Escape <, > & \" in templates — fixes #12",
			URL:          "https://github.com/octo-org/widget/pull/42",
			SourceBranch: "fix/escape-<tags>", DestinationBranch: "main",
			HeadSHA:          "72983c87218997036beed523d09aa750f4e90f50",
			SourceRepository: "jmueller/widget",
		})},
		{"pull_request_closed.json", "pull_request", prEvent(providers.PullRequest{
			Action: providers.PRClosed, RawAction: "closed", Number: 43,
			Title:        "Escape <, > & \" in templates — fixes #12",
			URL:          "https://github.com/octo-org/widget/pull/43",
			SourceBranch: "fix/escape-<tags>", DestinationBranch: "main",
			HeadSHA: "6f0a92ef6e6eca11a37435fe2ce728256274a46e",
		})},
		{"pull_request_merged.json", "pull_request", prEvent(providers.PullRequest{
			Action: providers.PRMerged, RawAction: "closed", Number: 44,
			Title:        "Escape <, > & \" in templates — fixes #12",
			URL:          "https://github.com/octo-org/widget/pull/44",
			SourceBranch: "fix/escape-<tags>", DestinationBranch: "main",
			HeadSHA: "26bdc5ca126d91eaca144dc9060f6efc5b7ef9bb",
		})},
		{"pull_request_labeled.json", "pull_request", prEvent(providers.PullRequest{
			Action: providers.PROther, RawAction: "labeled", Number: 44,
			Title:        "Escape <, > & \" in templates — fixes #12",
			URL:          "https://github.com/octo-org/widget/pull/44",
			SourceBranch: "fix/escape-<tags>", DestinationBranch: "main",
			HeadSHA: "b3e739ee5e2925f4b08bb163532ebdf8d7c2cef7",
		})},
		{"ping.json", "ping", providers.Event{Kind: providers.KindPing, RawKind: "ping", Repository: widget}},
		{"installation_created.json", "installation", installEvent("installation", providers.InstallCreated)},
		{"installation_suspend.json", "installation", installEvent("installation", providers.InstallSuspended)},
		{"installation_repositories_added.json", "installation_repositories", installEvent("installation_repositories", "added")},
		{"issues_opened.json", "issues", providers.Event{Kind: providers.KindOther, RawKind: "issues", Repository: widget}},
		// go-github has no type for sub_issues events.
		{"sub_issues_added.json", "sub_issues", providers.Event{Kind: providers.KindOther, RawKind: "sub_issues", Repository: widget}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Webhooks{}.Parse(headers(tt.event), readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			tt.want.Provider = Provider
			tt.want.DeliveryID = deliveryID
			normalize(&got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse() =\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
}

// normalize makes an event comparable with reflect.DeepEqual: timestamps
// in UTC, and empty slices nil (the model allows either).
func normalize(ev *providers.Event) {
	for i := range ev.Pushes {
		p := &ev.Pushes[i]
		if p.HeadCommit != nil {
			normalizeCommit(p.HeadCommit)
		}
		for j := range p.Commits {
			normalizeCommit(&p.Commits[j])
		}
		if len(p.Commits) == 0 {
			p.Commits = nil
		}
		p.Files = providers.ChangedFiles{Added: nilIfEmpty(p.Files.Added), Modified: nilIfEmpty(p.Files.Modified), Removed: nilIfEmpty(p.Files.Removed)}
	}
}

func normalizeCommit(c *providers.Commit) {
	c.Timestamp = c.Timestamp.UTC()
	c.Added, c.Modified, c.Removed = nilIfEmpty(c.Added), nilIfEmpty(c.Modified), nilIfEmpty(c.Removed)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func dump(ev providers.Event) string {
	b, _ := json.MarshalIndent(ev, "", "  ")
	return string(b)
}

// withCommits returns the branch push payload with n generated commits,
// each listing files paths as added.
func withCommits(tb testing.TB, n, files int) []byte {
	tb.Helper()
	var payload map[string]any
	if err := json.Unmarshal(readTestdata(tb, "push_branch.json"), &payload); err != nil {
		tb.Fatal(err)
	}
	commits := make([]map[string]any, n)
	for i := range commits {
		added := make([]string, files)
		for j := range added {
			added[j] = fmt.Sprintf("gen/%04d/file%04d.txt", i, j)
		}
		id := fmt.Sprintf("%040x", i+1)
		commits[i] = map[string]any{
			"id": id, "tree_id": id, "distinct": true, "message": fmt.Sprintf("Generated commit %d", i),
			"timestamp": "2024-05-01T12:00:00Z", "url": commitURL(id),
			"author": map[string]any{"name": "Mona Lisa Octocat", "email": "mona@example.com", "username": "mona-lisa"},
			"added":  added, "removed": []string{}, "modified": []string{},
		}
	}
	payload["commits"] = commits
	b, err := json.Marshal(payload)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseTruncation(t *testing.T) {
	tests := []struct {
		name             string
		commits, files   int
		truncated, incmp bool
	}{
		{name: "just under the commit cap", commits: 2047, files: 1},
		{name: "at the commit cap", commits: 2048, files: 1, truncated: true, incmp: true},
		{name: "just under the file cap", commits: 1, files: 2999},
		{name: "at the file cap", commits: 1, files: 3000, incmp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Webhooks{}.Parse(headers("push"), withCommits(t, tt.commits, tt.files))
			if err != nil {
				t.Fatal(err)
			}
			p := ev.Pushes[0]
			if p.TotalCommits != tt.commits || len(p.Commits) != tt.commits {
				t.Errorf("TotalCommits = %d, len(Commits) = %d, want %d", p.TotalCommits, len(p.Commits), tt.commits)
			}
			if p.CommitsTruncated != tt.truncated || p.FilesIncomplete != tt.incmp {
				t.Errorf("CommitsTruncated = %v, FilesIncomplete = %v, want %v, %v",
					p.CommitsTruncated, p.FilesIncomplete, tt.truncated, tt.incmp)
			}
			if want := tt.commits * tt.files; len(p.Files.Added) != want {
				t.Errorf("len(Files.Added) = %d, want %d", len(p.Files.Added), want)
			}
		})
	}
}

// Sorting the union must not reorder the commits' own lists.
func TestParseKeepsCommitFileOrder(t *testing.T) {
	ev, err := Webhooks{}.Parse(headers("push"), readTestdata(t, "push_branch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Pushes[0].Commits[0].Modified; !reflect.DeepEqual(got, commit1.Modified) {
		t.Errorf("commit Modified = %q, want %q", got, commit1.Modified)
	}
}

func TestParseErrors(t *testing.T) {
	push := readTestdata(t, "push_branch.json")
	tests := []struct {
		name, event, body string
	}{
		{"truncated JSON", "push", string(push[:len(push)/2])},
		{"array", "push", `[]`},
		{"string", "push", `"x"`},
		{"null", "push", `null`},
		{"empty body", "push", ``},
		{"ref of wrong type", "push", `{"ref": 5}`},
		{"commits of wrong type", "push", `{"ref": "refs/heads/main", "commits": {"id": "x"}}`},
		{"number of wrong type", "pull_request", `{"action": "opened", "number": "42"}`},
		{"installation of wrong type", "installation", `{"action": "created", "installation": [1]}`},
		{"installation id of wrong type", "installation", `{"action": "created", "installation": {"id": "7"}}`},
		{"pull request head of wrong type", "pull_request", `{"action": "opened", "pull_request": {"head": "main"}}`},
		{"forced of wrong type", "push", `{"ref": "refs/heads/main", "forced": "yes"}`},
		{"unknown event, not JSON", "sub_issues", `{"repository": `},
		{"ping, array", "ping", `[{}]`},
		{"unknown event, array", "sub_issues", `[]`},
		{"no event header", "", `{}`},
		{"used member of wrong type after custom properties", "pull_request", `{"repository": {"parent": {"custom_properties": {"team": ["a"]}}}, "number": "42"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers(tt.event)
			if tt.event == "" {
				h.Del("X-GitHub-Event")
			}
			_, err := Webhooks{}.Parse(h, []byte(tt.body))
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("Parse() error = %v, want ErrMalformed", err)
			}
			if strings.Contains(err.Error(), "Event.") || strings.Contains(err.Error(), "Repository.") {
				t.Errorf("error %q names Go types", err)
			}
			for _, leak := range []string{"yesterday", "secret-looking", "octo-org"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q quotes the body", err)
				}
			}
		})
	}
}

// Members forgelink does not read decide nothing, whatever their shape; a
// member it reads only for display (a commit's date) is dropped when it
// cannot be read, rather than refusing a genuine delivery.
func TestParseLenient(t *testing.T) {
	sub := providers.Repository{FullName: "octo-org/widget"}
	tests := []struct {
		name, event, body string
		kind              providers.Kind
		repo              providers.Repository
	}{
		{"repository name of wrong type", "push", `{"ref": "refs/heads/main", "repository": {"name": 5, "full_name": "octo-org/widget"}}`, providers.KindPush, sub},
		{"head repository name of wrong type", "pull_request", `{"action": "opened", "number": 1, "pull_request": {"head": {"repo": {"name": 5}}}}`, providers.KindPullRequest, providers.Repository{}},
		{"bad commit timestamp", "push", `{"ref": "refs/heads/main", "commits": [{"id": "abc", "timestamp": "yesterday at noon"}]}`, providers.KindPush, providers.Repository{}},
		{"bad repository timestamp", "pull_request", `{"action": "opened", "repository": {"created_at": true, "full_name": "octo-org/widget"}}`, providers.KindPullRequest, sub},
		{"unknown event, repository of wrong type", "sub_issues", `{"repository": "secret-looking-value"}`, providers.KindOther, providers.Repository{}},
		{"unknown event, repository member of wrong type", "sub_issues", `{"repository": {"full_name": 5}}`, providers.KindOther, providers.Repository{}},
		{"ping with odd members", "ping", `{"repository": {"custom_properties": {"team": ["a"]}, "full_name": "octo-org/widget"}, "hook_id": "secret-looking-value"}`, providers.KindPing, sub},
		{"odd timestamp beside the repository", "issues", `{"repository": {"created_at": "yesterday at noon", "full_name": "octo-org/widget"}}`, providers.KindOther, sub},
		{"check_run app.created_at in GitHub's example form", "check_run", `{"check_run": {"app": {"created_at": "2018-04-25 20:42:10"}}, "repository": {"full_name": "octo-org/widget"}}`, providers.KindOther, sub},
		{"discussion answer_chosen_by as a user", "discussion", `{"discussion": {"answer_chosen_by": {"login": "octocat", "id": 1}}, "repository": {"full_name": "octo-org/widget"}}`, providers.KindOther, sub},
		{"package metadata [] and an object body", "package", `{"package": {"package_version": {"metadata": [], "body": {"repository": {}}}}, "repository": {"full_name": "octo-org/widget"}}`, providers.KindOther, sub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Webhooks{}.Parse(headers(tt.event), []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if ev.Kind != tt.kind || ev.Repository != tt.repo {
				t.Errorf("Parse() = kind %s, repository %+v, want %s, %+v", ev.Kind, ev.Repository, tt.kind, tt.repo)
			}
		})
	}
}

// A timestamp GitHub may send as Unix seconds reads as go-github read it.
func TestParseCommitTimestampForms(t *testing.T) {
	want := time.Date(2024, 5, 1, 9, 58, 3, 0, time.UTC)
	for _, ts := range []string{`"2024-05-01T09:58:03Z"`, `1714557483`, `1714557483000`} {
		body := `{"ref": "refs/heads/main", "head_commit": {"id": "a", "timestamp": ` + ts + `}}`
		ev, err := Webhooks{}.Parse(headers("push"), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.Pushes[0].HeadCommit.Timestamp; !got.Equal(want) {
			t.Errorf("timestamp %s = %v, want %v", ts, got, want)
		}
	}
}

func TestInstallationID(t *testing.T) {
	tests := []struct {
		file string
		want int64
	}{
		{"push_branch.json", 51234567},
		{"installation_created.json", 51234567},
		{"ping.json", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := InstallationID(readTestdata(t, tt.file))
			if err != nil || got != tt.want {
				t.Errorf("InstallationID() = %d, %v, want %d", got, err, tt.want)
			}
		})
	}
	for _, body := range []string{``, `[]`, `{"installation": {"id": "51234567"}}`, `{"installation": `} {
		if _, err := InstallationID([]byte(body)); !errors.Is(err, providers.ErrMalformed) {
			t.Errorf("InstallationID(%q) error = %v, want ErrMalformed", body, err)
		}
	}
}

// BenchmarkParsePush parses realistic pushes: 8.2 KB with one commit and
// 9.5 KB with three (repository objects with every member GitHub sends).
func BenchmarkParsePush(b *testing.B) {
	for _, file := range []string{"push_forced.json", "push_branch.json"} {
		body := readTestdata(b, file)
		h := headers("push")
		b.Run(file, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (Webhooks{}).Parse(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkInstallationID(b *testing.B) {
	body := readTestdata(b, "push_branch.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := InstallationID(body); err != nil {
			b.Fatal(err)
		}
	}
}

// Webhooks serves the ingress's installation lookup through an interface.
func TestWebhooksInstallationID(t *testing.T) {
	var w interface {
		InstallationID(body []byte) (int64, error)
	} = Webhooks{}
	if got, err := w.InstallationID(readTestdata(t, "push_branch.json")); err != nil || got != 51234567 {
		t.Errorf("InstallationID() = %d, %v, want 51234567", got, err)
	}
	if got, err := w.InstallationID(readTestdata(t, "ping.json")); err != nil || got != 0 {
		t.Errorf("InstallationID(ping) = %d, %v, want 0", got, err)
	}
	if _, err := w.InstallationID([]byte(`[]`)); !errors.Is(err, providers.ErrMalformed) {
		t.Errorf("InstallationID([]) error = %v, want ErrMalformed", err)
	}
}

// testdataProperties is the custom_properties object of every repository in
// the testdata: team is a multi-select property.
const testdataProperties = `"custom_properties":{"team":["platform","ci"],"tier":"gold","owner":null}`

// parseUntouched parses body and fails if Parse changed it: the ingress
// stores the raw body.
func parseUntouched(t *testing.T, event string, body []byte) providers.Event {
	t.Helper()
	orig := bytes.Clone(body)
	ev, err := Webhooks{}.Parse(headers(event), body)
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if !bytes.Equal(body, orig) {
		t.Fatal("Parse() modified the body")
	}
	normalize(&ev)
	return ev
}

// go-github v60 decoded custom_properties into map[string]string, which
// refused multi-select (array) properties: push and pull_request events
// must parse the same with multi-select, string, empty and no custom
// properties.
func TestParseCustomProperties(t *testing.T) {
	variants := []struct{ name, props string }{
		{"strings", `"custom_properties":{"tier":"gold","cost_center":"4711"}`},
		{"empty", `"custom_properties":{}`},
		{"null", `"custom_properties":null`},
		{"only arrays", `"custom_properties":{"team":["platform"],"langs":[]}`},
		{"absent", `"custom_properties_absent":0`},
	}
	for _, tc := range []struct {
		file, event string
		repos       int // repository objects in the payload
	}{
		{"push_branch.json", "push", 1},
		{"pull_request_opened.json", "pull_request", 3}, // repository, head.repo, base.repo
	} {
		body := readTestdata(t, tc.file)
		if n := bytes.Count(body, []byte(testdataProperties)); n != tc.repos {
			t.Fatalf("%s has %d multi-select custom_properties, want %d", tc.file, n, tc.repos)
		}
		want := parseUntouched(t, tc.event, body) // multi-select, as in TestParse
		if want.Repository != widget {
			t.Fatalf("%s: repository = %+v", tc.file, want.Repository)
		}
		if pr := want.PullRequest; pr != nil && pr.SourceRepository != "jmueller/widget" {
			t.Fatalf("%s: head repository %q, want jmueller/widget", tc.file, pr.SourceRepository)
		}
		for _, v := range variants {
			t.Run(tc.event+"/"+v.name, func(t *testing.T) {
				b := bytes.ReplaceAll(body, []byte(testdataProperties), []byte(v.props))
				if got := parseUntouched(t, tc.event, b); !reflect.DeepEqual(got, want) {
					t.Errorf("Parse() =\n%s\nwant\n%s", dump(got), dump(want))
				}
			})
		}
	}
}

// setPath sets the member at path of a decoded JSON object.
func setPath(tb testing.TB, obj map[string]any, value any, path ...string) {
	tb.Helper()
	for _, k := range path[:len(path)-1] {
		next, ok := obj[k].(map[string]any)
		if !ok {
			tb.Fatalf("no object at %q", k)
		}
		obj = next
	}
	obj[path[len(path)-1]] = value
}

// Multi-select properties anywhere, and 64-bit ids, leave the result as
// it is: the lean types read neither.
func TestParseCustomPropertiesFallback(t *testing.T) {
	multi := map[string]any{"full_name": "octo-org/widget", "custom_properties": map[string]any{"team": []any{"platform", "ci"}}}
	var payload map[string]any
	if err := json.Unmarshal(readTestdata(t, "pull_request_opened.json"), &payload); err != nil {
		t.Fatal(err)
	}
	want := parseUntouched(t, "pull_request", readTestdata(t, "pull_request_opened.json"))
	setPath(t, payload, multi, "pull_request", "head", "repo", "parent")
	setPath(t, payload, multi, "repository", "template_repository")
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	if got := parseUntouched(t, "pull_request", body); !reflect.DeepEqual(got, want) {
		t.Errorf("Parse() =\n%s\nwant\n%s", dump(got), dump(want))
	}

	// 2^53+1 does not survive a float64.
	install := []byte(`{"action": "created", "installation": {"id": 9007199254740993, "account": {"login": "octo-org"}},
		"repositories": [{"id": 9007199254740995, "full_name": "octo-org/widget", "custom_properties": {"team": ["a", "b"]}}]}`)
	ev := parseUntouched(t, "installation", install)
	if ev.Installation == nil || ev.Installation.ID != 9007199254740993 {
		t.Errorf("Installation = %+v, want ID 9007199254740993", ev.Installation)
	}
}
