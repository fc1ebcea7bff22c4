package dispatch

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// docsPullRequestPipeline is pipe p triggered by pull requests into main
// that change docs/**, on v's connection.
func (v *env) docsPullRequestPipeline(p pipe) config.Pipeline {
	cfg := v.docsPipeline(p)
	cfg.Triggers = config.Triggers{PullRequest: []config.PullRequestFilter{{
		Branches:  &config.Criteria{Includes: []string{"main"}},
		FilePaths: &config.Criteria{Includes: []string{"docs/**"}},
	}}}
	return cfg
}

// pullRequest records pull request 7 into main, routed by the router of
// cfg as the ingress routes it (on no file list), and returns its one
// delivery.
func (v *env) pullRequest(cfg config.Pipeline) store.Delivery {
	v.t.Helper()
	ev := pushEvent("main")
	ev.Kind, ev.RawKind, ev.Pushes = providers.KindPullRequest, "pull_request", nil
	ev.PullRequest = &providers.PullRequest{Action: providers.PROpened, RawAction: "opened", Number: 7,
		SourceBranch: "feature", DestinationBranch: "main", HeadSHA: "2222222222222222222222222222222222222222"}
	matches := router(v.t, cfg)().Route(v.conn, ev)
	if len(matches) != 1 || !matches[0].FilesIncomplete {
		v.t.Fatalf("routing the pull request = %+v; want one match on incomplete files", matches)
	}
	id := uuid.Must(uuid.NewV7()).String()
	at := time.Now()
	ds := Plan(Recorded{EventID: id, ConnectionID: v.conn, ConnectionARN: cfg.ConnectionArn, ReceivedAt: at, Event: ev}, matches)
	v.record(ev, id, at, false, ds)
	return ds[0]
}

func TestFilesPullRequestCompletedMatch(t *testing.T) {
	v := newEnv(t)
	cfg := v.docsPullRequestPipeline(build)
	d := v.pullRequest(cfg)
	files := &fakeFiles{script: answer(listing("docs/guide.md", "src/new.go"))}
	f := &fake{}
	run(t, v.engine(Options{Files: files, Router: router(t, cfg)}, target("ci", f, 1)), time.Second)

	got, _ := v.waitState(d.ID, store.DeliverySucceeded)
	ms := f.messages()
	if len(ms) != 1 {
		t.Fatalf("notifier got %d messages, want 1", len(ms))
	}
	m := ms[0]
	if m.FilesIncomplete || m.PullRequest == nil || m.PullRequest.Files == nil ||
		!slices.Equal(m.PullRequest.Files.Added, []string{"docs/guide.md", "src/new.go"}) || m.PullRequest.Number != 7 {
		t.Errorf("message pull request %+v, incomplete %v; want the complete list", m.PullRequest, m.FilesIncomplete)
	}
	stored := messageOf(t, got)
	if got.FilesIncomplete || stored.FilesIncomplete || stored.PullRequest.Files == nil || len(stored.PullRequest.Files.Added) != 2 {
		t.Errorf("stored message %+v; want the completed list", stored.PullRequest)
	}
	if n := files.calls(); n != 1 {
		t.Errorf("Files asked %d times, want 1", n)
	}
}

func TestFilesPullRequestCompletedNoMatch(t *testing.T) {
	v := newEnv(t)
	cfg := v.docsPullRequestPipeline(build)
	d := v.pullRequest(cfg)
	files := &fakeFiles{script: answer(listing("src/a.go", "README.md"))}
	f := &fake{}
	run(t, v.engine(Options{Files: files, Router: router(t, cfg)}, target("ci", f, 1)), time.Second)

	got, attempts := v.waitState(d.ID, store.DeliveryFiltered)
	if n := f.calls(); n != 0 {
		t.Errorf("notifier called %d times, want never", n)
	}
	if len(attempts) != 1 || attempts[0].Outcome != "filtered" || got.FilesIncomplete {
		t.Errorf("attempts = %+v, delivery %+v; want one, filtered, files complete", attempts, got)
	}
}
