package route

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
)

const (
	connA = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	connB = "0190a1b2-c3d4-7e5f-8a9b-ffffffffffff"
	repo  = "acme/app"
)

func arn(conn string) string {
	return "arn:aws:codeconnections:us-east-1:000000000000:connection/" + conn
}

func pipelineOf(name string, t config.Triggers) config.Pipeline {
	return config.Pipeline{Name: name, ConnectionArn: arn(connA), Repository: repo, Triggers: t, ExecutionMode: config.ModeQueued, Target: "ci"}
}

func inc(patterns ...string) *config.Criteria { return &config.Criteria{Includes: patterns} }

func exc(patterns ...string) *config.Criteria { return &config.Criteria{Excludes: patterns} }

func both(includes, excludes []string) *config.Criteria {
	return &config.Criteria{Includes: includes, Excludes: excludes}
}

func push(filters ...config.PushFilter) config.Triggers { return config.Triggers{Push: filters} }

func pulls(filters ...config.PullRequestFilter) config.Triggers {
	return config.Triggers{PullRequest: filters}
}

func branch(name string, modified ...string) providers.Push {
	return providers.Push{Ref: "refs/heads/" + name, RefType: providers.RefBranch, RefName: name, Files: providers.ChangedFiles{Modified: modified}}
}

func tag(name string) providers.Push {
	return providers.Push{Ref: "refs/tags/" + name, RefType: providers.RefTag, RefName: name}
}

func deleted(p providers.Push) providers.Push {
	p.Deleted = true
	return p
}

func truncated(p providers.Push) providers.Push {
	p.FilesIncomplete = true
	return p
}

func pushEvent(pushes ...providers.Push) *providers.Event {
	return &providers.Event{Provider: "GitHub", Kind: providers.KindPush, Repository: providers.Repository{FullName: repo}, Pushes: pushes}
}

func prEvent(action, source, destination string) *providers.Event {
	return &providers.Event{
		Provider: "GitHub", Kind: providers.KindPullRequest, Repository: providers.Repository{FullName: repo},
		PullRequest: &providers.PullRequest{Action: action, Number: 7, SourceBranch: source, DestinationBranch: destination},
	}
}

func newRouter(t testing.TB, pipelines ...config.Pipeline) *Router {
	t.Helper()
	r, err := New(pipelines)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFilters runs one pipeline against one event: triggered or not, and
// whether the match relied on an incomplete file list.
func TestFilters(t *testing.T) {
	tests := []struct {
		name       string
		triggers   config.Triggers
		event      *providers.Event
		want       bool
		incomplete bool
	}{
		// CodePipeline's documented examples.
		{"main* matches main", push(config.PushFilter{Branches: inc("main*")}), pushEvent(branch("main")), true, false},
		{"main* matches mainline", push(config.PushFilter{Branches: inc("main*")}), pushEvent(branch("mainline")), true, false},
		{"main* misses feature/main", push(config.PushFilter{Branches: inc("main*")}), pushEvent(branch("feature/main")), false, false},
		{"release/** matches release/1/hotfix", push(config.PushFilter{Branches: inc("release/**")}), pushEvent(branch("release/1/hotfix")), true, false},
		{"release/** misses release", push(config.PushFilter{Branches: inc("release/**")}), pushEvent(branch("release")), false, false},
		{"feature/* matches feature/x", push(config.PushFilter{Branches: inc("feature/*")}), pushEvent(branch("feature/x")), true, false},
		{"feature/* misses feature/x/y", push(config.PushFilter{Branches: inc("feature/*")}), pushEvent(branch("feature/x/y")), false, false},
		{"patterns match short names", push(config.PushFilter{Branches: inc("refs/heads/main")}), pushEvent(branch("main")), false, false},

		// Includes and excludes.
		{"exclude wins over include", push(config.PushFilter{Branches: both([]string{"**"}, []string{"main"})}), pushEvent(branch("main")), false, false},
		{"include passes what no exclude names", push(config.PushFilter{Branches: both([]string{"**"}, []string{"main"})}), pushEvent(branch("dev")), true, false},
		{"same pattern both ways: excluded", push(config.PushFilter{Branches: both([]string{"main"}, []string{"main"})}), pushEvent(branch("main")), false, false},
		{"excludes alone pass the rest", push(config.PushFilter{Branches: exc("wip/**")}), pushEvent(branch("main")), true, false},
		{"excludes alone", push(config.PushFilter{Branches: exc("wip/**")}), pushEvent(branch("wip/x")), false, false},
		{"any include of several", push(config.PushFilter{Branches: inc("main", "{release,hotfix}/**")}), pushEvent(branch("hotfix/1")), true, false},

		// File paths.
		{"a changed file matches", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")}), pushEvent(branch("main", "docs/a.md", "src/a.go")), true, false},
		{"no changed file matches", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")}), pushEvent(branch("main", "docs/a.md")), false, false},
		{"files match but branch does not", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")}), pushEvent(branch("dev", "src/a.go")), false, false},
		{"every changed file excluded", push(config.PushFilter{Branches: inc("main"), FilePaths: exc("docs/**")}), pushEvent(branch("main", "docs/a.md", "docs/b.md")), false, false},
		{"one changed file not excluded", push(config.PushFilter{Branches: inc("main"), FilePaths: exc("docs/**")}), pushEvent(branch("main", "docs/a.md", "go.mod")), true, false},
		{"**/*.js needs a directory", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("**/*.js")}), pushEvent(branch("main", "app.js")), false, false},
		{"**/*.js", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("**/*.js")}), pushEvent(branch("main", "web/app.js")), true, false},
		{"removed files count", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")}), pushEvent(providers.Push{RefType: providers.RefBranch, RefName: "main", Files: providers.ChangedFiles{Added: []string{"a"}, Removed: []string{"src/old.go"}}}), true, false},
		{"no changed files", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("**")}), pushEvent(branch("main")), false, false},

		// Incomplete file lists.
		{"incomplete list, no listed file: matched", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")}), pushEvent(truncated(branch("main", "docs/a.md"))), true, true},
		{"incomplete list, listed file matches", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")}), pushEvent(truncated(branch("main", "src/a.go"))), true, false},
		{"incomplete list, listed files excluded: matched", push(config.PushFilter{Branches: inc("main"), FilePaths: exc("docs/**")}), pushEvent(truncated(branch("main", "docs/a.md"))), true, true},
		{"incomplete list, branch misses", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")}), pushEvent(truncated(branch("dev"))), false, false},
		{"incomplete list, no filePaths", push(config.PushFilter{Branches: inc("main")}), pushEvent(truncated(branch("main"))), true, false},
		{"a complete match beats an incomplete one", push(
			config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")},
			config.PushFilter{Branches: inc("main")},
		), pushEvent(truncated(branch("main"))), true, false},

		// Tags and branches.
		{"tag matches tags", push(config.PushFilter{Tags: inc("v*")}), pushEvent(tag("v1.2")), true, false},
		{"tag misses tags", push(config.PushFilter{Tags: inc("v*")}), pushEvent(tag("nightly")), false, false},
		{"tags-only filter ignores branches", push(config.PushFilter{Tags: inc("**")}), pushEvent(branch("v1")), false, false},
		{"branches-only filter ignores tags", push(config.PushFilter{Branches: inc("**")}), pushEvent(tag("main")), false, false},
		{"tags and branches: a tag push ignores filePaths", push(config.PushFilter{Branches: inc("main"), Tags: inc("v*"), FilePaths: inc("src/**")}), pushEvent(tag("v1")), true, false},
		{"tags and branches: a branch push ignores tags", push(config.PushFilter{Branches: inc("main"), Tags: inc("v*")}), pushEvent(branch("v1")), false, false},
		{"filters are ORed", push(config.PushFilter{Branches: inc("main")}, config.PushFilter{Tags: inc("v*")}), pushEvent(tag("v2")), true, false},

		// Deletions.
		{"deletion without branchDeletions", push(config.PushFilter{Branches: inc("main")}), pushEvent(deleted(branch("main"))), false, false},
		{"deletion with branchDeletions", push(config.PushFilter{Branches: inc("feature/**"), BranchDeletions: true}), pushEvent(deleted(branch("feature/x"))), true, false},
		{"deletion of another branch", push(config.PushFilter{Branches: inc("feature/**"), BranchDeletions: true}), pushEvent(deleted(branch("main"))), false, false},
		{"deletion ignores filePaths", push(config.PushFilter{Branches: inc("**"), FilePaths: inc("src/**"), BranchDeletions: true}), pushEvent(deleted(branch("old"))), true, false},
		{"tag deletion never triggers", push(config.PushFilter{Tags: inc("**"), BranchDeletions: true}), pushEvent(deleted(tag("v1"))), false, false},

		// No filters.
		{"no filters: a branch push", config.Triggers{}, pushEvent(branch("any/thing")), true, false},
		{"no filters: a tag push", config.Triggers{}, pushEvent(tag("v1")), false, false},
		{"no filters: a deletion", config.Triggers{}, pushEvent(deleted(branch("main"))), false, false},
		{"no filters: a pull request", config.Triggers{}, prEvent(providers.PROpened, "feature", "main"), false, false},
		{"pull request filters only: a push", pulls(config.PullRequestFilter{}), pushEvent(branch("main")), false, false},
		{"push filters only: a pull request", push(config.PushFilter{Branches: inc("**")}), prEvent(providers.PROpened, "feature", "main"), false, false},

		// Pull requests.
		{"all events: opened", pulls(config.PullRequestFilter{}), prEvent(providers.PROpened, "f", "main"), true, false},
		{"all events: updated", pulls(config.PullRequestFilter{}), prEvent(providers.PRUpdated, "f", "main"), true, false},
		{"all events: closed", pulls(config.PullRequestFilter{}), prEvent(providers.PRClosed, "f", "main"), true, false},
		{"all events: merged", pulls(config.PullRequestFilter{}), prEvent(providers.PRMerged, "f", "main"), true, false},
		{"all events: other", pulls(config.PullRequestFilter{}), prEvent(providers.PROther, "f", "main"), false, false},
		{"OPEN: opened", pulls(config.PullRequestFilter{Events: []string{config.PROpen}}), prEvent(providers.PROpened, "f", "main"), true, false},
		{"OPEN: updated", pulls(config.PullRequestFilter{Events: []string{config.PROpen}}), prEvent(providers.PRUpdated, "f", "main"), false, false},
		{"CLOSED: merged", pulls(config.PullRequestFilter{Events: []string{config.PRClosed}}), prEvent(providers.PRMerged, "f", "main"), true, false},
		{"CLOSED: closed", pulls(config.PullRequestFilter{Events: []string{config.PRClosed}}), prEvent(providers.PRClosed, "f", "main"), true, false},
		{"UPDATED, CLOSED: opened", pulls(config.PullRequestFilter{Events: []string{config.PRUpdated, config.PRClosed}}), prEvent(providers.PROpened, "f", "main"), false, false},
		{"branches are the destination", pulls(config.PullRequestFilter{Branches: inc("main")}), prEvent(providers.PROpened, "feature", "main"), true, false},
		{"branches are not the source", pulls(config.PullRequestFilter{Branches: inc("main")}), prEvent(providers.PROpened, "main", "dev"), false, false},
		{"sourceBranches", pulls(config.PullRequestFilter{SourceBranches: inc("feature/**")}), prEvent(providers.PROpened, "feature/x", "main"), true, false},
		{"sourceBranches miss", pulls(config.PullRequestFilter{SourceBranches: inc("feature/**")}), prEvent(providers.PROpened, "fix/x", "main"), false, false},
		{"filePaths on a pull request: incomplete", pulls(config.PullRequestFilter{Branches: inc("main"), FilePaths: inc("src/**")}), prEvent(providers.PRUpdated, "f", "main"), true, true},
		{"pull request filters are ORed", pulls(
			config.PullRequestFilter{Events: []string{config.PROpen}, Branches: inc("main")},
			config.PullRequestFilter{Events: []string{config.PRClosed}, Branches: inc("release/**")},
		), prEvent(providers.PRMerged, "f", "release/2"), true, false},

		// Events pipelines do not evaluate.
		{"ping", config.Triggers{}, &providers.Event{Kind: providers.KindPing, Repository: providers.Repository{FullName: repo}}, false, false},
		{"pull request event without a pull request", pulls(config.PullRequestFilter{}), &providers.Event{Kind: providers.KindPullRequest, Repository: providers.Repository{FullName: repo}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t, pipelineOf("p", tt.triggers))
			got := r.Route(connA, tt.event)
			if len(got) > 1 {
				t.Fatalf("%d matches, want at most 1", len(got))
			}
			if triggered := len(got) == 1; triggered != tt.want {
				t.Fatalf("triggered = %v, want %v\n%s", triggered, tt.want, explained(t, r, tt.event))
			}
			if tt.want && got[0].FilesIncomplete != tt.incomplete {
				t.Errorf("FilesIncomplete = %v, want %v", got[0].FilesIncomplete, tt.incomplete)
			}
			// Explain must agree with Route.
			v := r.Explain(connA, tt.event)
			if len(v) != 1 || v[0].Triggered != tt.want {
				t.Errorf("Explain disagrees:\n%s", explained(t, r, tt.event))
			}
		})
	}
}

func TestRoute(t *testing.T) {
	branches := pipelineOf("branches", push(config.PushFilter{Branches: inc("**")}))
	tags := pipelineOf("tags", push(config.PushFilter{Tags: inc("v*")}))
	other := pipelineOf("other-connection", config.Triggers{})
	other.ConnectionArn = arn(connB)
	otherRepo := pipelineOf("other-repository", config.Triggers{})
	otherRepo.Repository = "acme/lib"
	shouting := pipelineOf("case-insensitive", config.Triggers{})
	shouting.Repository = "ACME/App"
	shouting.ConnectionArn = arn(strings.ToUpper(connA))
	prs := pipelineOf("pull-requests", pulls(config.PullRequestFilter{}))
	r := newRouter(t, branches, tags, other, otherRepo, shouting, prs)

	// A Bitbucket push updating several refs at once.
	ev := pushEvent(branch("main"), tag("v1"), branch("release/1"), deleted(branch("old")))
	ev.Provider = "Bitbucket"
	want := []string{"branches main", "branches release/1", "tags v1", "case-insensitive main", "case-insensitive release/1"}
	if got := summary(r.Route(connA, ev)); !equal(got, want) {
		t.Errorf("Route = %q, want %q", got, want)
	}
	if got := summary(r.Route(connB, ev)); !equal(got, []string{"other-connection main", "other-connection release/1"}) {
		t.Errorf("Route on connection B = %q", got)
	}
	ev.Repository.FullName = "Acme/APP"
	if got := summary(r.Route(connA, ev)); !equal(got, want) {
		t.Errorf("Route of Acme/APP = %q, want %q", got, want)
	}
	if got := r.Route(connA, pushEvent(branch("main"))); got[0].Push.RefName != "main" || got[0].Branch != "main" || got[0].PullRequest != nil {
		t.Errorf("push match = %+v", got[0])
	}
	if got := r.Route(connA, pushEvent(tag("v1"))); got[0].Branch != "" {
		t.Errorf("tag push grouped by branch %q", got[0].Branch)
	}
	got := r.Route(connA, prEvent(providers.PRMerged, "feature/x", "main"))
	if len(got) != 1 || got[0].PullRequest.Number != 7 || got[0].Push != nil || got[0].Branch != "feature/x" || got[0].Pipeline.Name != "pull-requests" {
		t.Errorf("pull request matches = %+v", got)
	}
	if got := r.Route("0190a1b2-0000-7000-8000-000000000000", ev); got != nil {
		t.Errorf("unknown connection: %+v", got)
	}
}

// summary lists matches as "pipeline ref".
func summary(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Pipeline.Name+" "+m.Push.RefName)
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestNewCopiesConfig(t *testing.T) {
	ps := []config.Pipeline{pipelineOf("before", config.Triggers{})}
	r := newRouter(t, ps...)
	ps[0].Name = "after"
	if got := r.Route(connA, pushEvent(branch("main"))); got[0].Pipeline.Name != "before" {
		t.Errorf("router follows a changed config: %q", got[0].Pipeline.Name)
	}
}

func TestNewErrors(t *testing.T) {
	badGlob := pipelineOf("bad-glob", push(config.PushFilter{Branches: both([]string{"main", "release/[0-9"}, []string{"{a,{b}}"})}))
	badARN := pipelineOf("bad-arn", config.Triggers{})
	badARN.ConnectionArn = "arn:aws:codeconnections:us-east-1:000000000000:host/x"
	badEvent := pipelineOf("bad-event", pulls(config.PullRequestFilter{Events: []string{"OPEN", "REOPENED"}, FilePaths: inc("src/[")}))
	_, err := New([]config.Pipeline{pipelineOf("fine", config.Triggers{}), badGlob, badARN, badEvent})
	if err == nil {
		t.Fatal("New accepted invalid pipelines")
	}
	for _, want := range []string{
		`pipeline "bad-glob": triggers.push[0].branches.includes[1]: glob "release/[0-9": unclosed '[' at position 9`,
		`pipeline "bad-glob": triggers.push[0].branches.excludes[0]: glob "{a,{b}}": nested '{' (groups cannot nest) at position 4`,
		`pipeline "bad-arn": connectionArn "arn:aws:codeconnections:us-east-1:000000000000:host/x" names no connection`,
		`pipeline "bad-event": triggers.pullRequest[0].events[1]: want OPEN, UPDATED or CLOSED, got "REOPENED"`,
		`pipeline "bad-event": triggers.pullRequest[0].filePaths.includes[0]: glob "src/[": unclosed '[' at position 5`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"fine"`) {
		t.Errorf("error names a valid pipeline: %v", err)
	}
}

func BenchmarkRoute(b *testing.B) {
	var ps []config.Pipeline
	for i := range 50 {
		p := pipelineOf(fmt.Sprintf("service-%d", i), push(
			config.PushFilter{Branches: both([]string{"main", "release/**"}, []string{"release/old/**"}), FilePaths: both([]string{fmt.Sprintf("services/svc-%d/**", i), "go.{mod,sum}"}, []string{"**/*.md"})},
			config.PushFilter{Tags: inc(fmt.Sprintf("svc-%d/v*", i))},
		))
		if i%5 == 0 {
			p.Triggers.PullRequest = []config.PullRequestFilter{{Events: []string{config.PROpen, config.PRUpdated}, Branches: inc("main")}}
		}
		ps = append(ps, p)
	}
	r := newRouter(b, ps...)
	var files []string
	for i := range 40 {
		files = append(files, fmt.Sprintf("services/svc-%d/internal/handler/file_%d.go", 7*i%50, i), fmt.Sprintf("docs/svc-%d.md", i))
	}
	ev := pushEvent(branch("release/2026.11", files...))
	b.ReportAllocs()
	for b.Loop() {
		if len(r.Route(connA, ev)) == 0 {
			b.Fatal("no match")
		}
	}
}

// TestMatchesFiles re-evaluates pipelines on completed file lists: the
// verdict on a complete list, whatever the payload listed.
func TestMatchesFiles(t *testing.T) {
	r := newRouter(t,
		pipelineOf("docs", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("docs/**")})),
		pipelineOf("no-md", push(config.PushFilter{Branches: inc("main"), FilePaths: both([]string{"**"}, []string{"**/*.md"})})),
		pipelineOf("either", push(
			config.PushFilter{Branches: inc("release/*")},
			config.PushFilter{Branches: inc("main"), FilePaths: inc("api/**")},
		)),
		pipelineOf("unfiltered", config.Triggers{}),
	)
	moved := pipelineOf("elsewhere", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("**")}))
	moved.Repository = "acme/other"
	r2 := newRouter(t, moved)

	files := func(added, modified, removed []string) providers.ChangedFiles {
		return providers.ChangedFiles{Added: added, Modified: modified, Removed: removed}
	}
	// The payload listed nothing that matches, and was cut short.
	main := truncated(branch("main", "src/main.go"))
	tests := []struct {
		name, pipeline string
		router         *Router
		push           providers.Push
		files          providers.ChangedFiles
		matched, ok    bool
	}{
		{"added file matches", "docs", r, main, files([]string{"docs/a.md"}, nil, nil), true, true},
		{"modified file matches", "docs", r, main, files(nil, []string{"src/x.go", "docs/b.md"}, nil), true, true},
		{"removed file matches", "docs", r, main, files(nil, nil, []string{"docs/old.md"}), true, true},
		{"no file matches", "docs", r, main, files([]string{"src/a.go"}, []string{"README.md"}, nil), false, true},
		{"no files", "docs", r, main, files(nil, nil, nil), false, true},
		// The payload's own list does not count: the complete list replaces it.
		{"payload file ignored", "docs", r, truncated(branch("main", "docs/listed.md")), files([]string{"src/a.go"}, nil, nil), false, true},
		{"all excluded", "no-md", r, main, files([]string{"docs/a.md", "docs/b.md"}, nil, nil), false, true},
		{"one not excluded", "no-md", r, main, files([]string{"docs/a.md", "b.go"}, nil, nil), true, true},
		{"branch no longer matches", "docs", r, truncated(branch("dev")), files([]string{"docs/a.md"}, nil, nil), false, true},
		{"second filter", "either", r, main, files(nil, []string{"api/v1.go"}, nil), true, true},
		{"first filter needs no files", "either", r, truncated(branch("release/1")), files(nil, nil, nil), true, true},
		{"no filters", "unfiltered", r, main, files(nil, nil, nil), true, true},
		{"pipeline gone", "removed", r, main, files([]string{"docs/a.md"}, nil, nil), false, false},
		{"pipeline moved to another repository", "elsewhere", r2, main, files([]string{"docs/a.md"}, nil, nil), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprintf("%+v", tc.push)
			matched, ok := tc.router.MatchesFiles(strings.ToUpper(connA), "ACME/app", tc.pipeline, &tc.push, tc.files)
			if matched != tc.matched || ok != tc.ok {
				t.Errorf("MatchesFiles = %v, %v; want %v, %v", matched, ok, tc.matched, tc.ok)
			}
			if after := fmt.Sprintf("%+v", tc.push); after != before {
				t.Errorf("MatchesFiles changed the push:\n%s\nto\n%s", before, after)
			}
		})
	}
}

func TestMatchesPullRequestFiles(t *testing.T) {
	r := newRouter(t,
		pipelineOf("docs", pulls(config.PullRequestFilter{Branches: inc("main"), FilePaths: inc("docs/**")})),
		pipelineOf("no-md", pulls(config.PullRequestFilter{FilePaths: both([]string{"**"}, []string{"**/*.md"})})),
		pipelineOf("either", pulls(
			config.PullRequestFilter{SourceBranches: inc("hotfix/*")},
			config.PullRequestFilter{FilePaths: inc("api/**")},
		)),
		pipelineOf("pushes", push(config.PushFilter{Branches: inc("main")})),
	)
	files := func(added, modified, removed []string) providers.ChangedFiles {
		return providers.ChangedFiles{Added: added, Modified: modified, Removed: removed}
	}
	toMain := *prEvent(providers.PROpened, "feature", "main").PullRequest
	tests := []struct {
		name, pipeline string
		pr             providers.PullRequest
		files          providers.ChangedFiles
		matched, ok    bool
	}{
		{"added file matches", "docs", toMain, files([]string{"docs/a.md"}, nil, nil), true, true},
		{"modified file matches", "docs", toMain, files(nil, []string{"src/x.go", "docs/b.md"}, nil), true, true},
		{"removed file matches", "docs", toMain, files(nil, nil, []string{"docs/old.md"}), true, true},
		{"no file matches", "docs", toMain, files([]string{"src/a.go"}, nil, nil), false, true},
		{"no files", "docs", toMain, files(nil, nil, nil), false, true},
		{"branch no longer matches", "docs", *prEvent(providers.PROpened, "feature", "dev").PullRequest, files([]string{"docs/a.md"}, nil, nil), false, true},
		{"all excluded", "no-md", toMain, files([]string{"docs/a.md"}, nil, nil), false, true},
		{"one not excluded", "no-md", toMain, files([]string{"docs/a.md", "b.go"}, nil, nil), true, true},
		{"second filter", "either", toMain, files(nil, []string{"api/v1.go"}, nil), true, true},
		{"first filter needs no files", "either", *prEvent(providers.PRUpdated, "hotfix/1", "main").PullRequest, files(nil, nil, nil), true, true},
		{"push filters only", "pushes", toMain, files([]string{"docs/a.md"}, nil, nil), false, true},
		{"pipeline gone", "removed", toMain, files([]string{"docs/a.md"}, nil, nil), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprintf("%+v", tc.pr)
			matched, ok := r.MatchesPullRequestFiles(strings.ToUpper(connA), "ACME/app", tc.pipeline, &tc.pr, tc.files)
			if matched != tc.matched || ok != tc.ok {
				t.Errorf("MatchesPullRequestFiles = %v, %v; want %v, %v", matched, ok, tc.matched, tc.ok)
			}
			if after := fmt.Sprintf("%+v", tc.pr); after != before {
				t.Errorf("MatchesPullRequestFiles changed the pull request:\n%s\nto\n%s", before, after)
			}
		})
	}
	// Routing a pull request whose files are known evaluates them.
	withFiles := toMain
	withFiles.Files = &providers.ChangedFiles{Added: []string{"src/a.go"}}
	ev := &providers.Event{Kind: providers.KindPullRequest, Repository: providers.Repository{FullName: "acme/app"}, PullRequest: &withFiles}
	for _, m := range r.Route(connA, ev) {
		if m.Pipeline.Name == "docs" {
			t.Errorf("Route matched docs on a pull request whose files do not pass filePaths")
		}
	}
}

func TestConnectionsAndRepositories(t *testing.T) {
	a1, a2, a3, b := pipelineOf("a1", config.Triggers{}), pipelineOf("a2", config.Triggers{}), pipelineOf("a3", config.Triggers{}), pipelineOf("b", config.Triggers{})
	a2.Repository = "Octo/Zeta"
	a3.Repository = strings.ToUpper(repo) // the same repository as a1's
	b.ConnectionArn = arn(connB)
	b.Repository = "other/repo"
	r := newRouter(t, a1, a2, a3, b)
	if got := r.Connections(); !slices.Equal(got, []string{connA, connB}) {
		t.Errorf("Connections = %v, want %v", got, []string{connA, connB})
	}
	if got, want := r.Repositories(connA), []string{strings.ToLower(repo), "octo/zeta"}; !slices.Equal(got, want) {
		t.Errorf("Repositories(connA) = %v, want %v", got, want)
	}
	if got := r.Repositories("0190a1b2-c3d4-7e5f-8a9b-000000000000"); len(got) != 0 {
		t.Errorf("Repositories(a connection no pipeline names) = %v", got)
	}
}
