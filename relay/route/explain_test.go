package route

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
)

// explained renders Explain's answer for failure messages.
func explained(t *testing.T, r *Router, ev *providers.Event) string {
	t.Helper()
	out, err := json.MarshalIndent(r.Explain(connA, ev), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func files(listed int, complete bool) *FilesVerdict {
	return &FilesVerdict{Listed: listed, Complete: complete}
}

func TestExplain(t *testing.T) {
	services := pipelineOf("services", push(
		config.PushFilter{Branches: inc("release/**")},
		config.PushFilter{Branches: both([]string{"**"}, []string{"wip/**"}), FilePaths: both([]string{"src/**"}, []string{"**/*_test.go"})},
	))
	tests := []struct {
		name     string
		pipeline config.Pipeline
		event    *providers.Event
		want     PipelineVerdict
	}{{
		name:     "include decides, filePaths matched on an incomplete list",
		pipeline: services,
		event:    pushEvent(truncated(branch("main", "docs/a.md", "README"))),
		want: PipelineVerdict{Pipeline: "services", Target: "ci", Triggered: true, Subjects: []SubjectVerdict{{
			Subject: "branch main", Triggered: true, FilesIncomplete: true,
			Filters: []FilterVerdict{
				{Filter: "push[0]", Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "main", Decision: "no include matched"},
				}},
				{Filter: "push[1]", Matched: true, Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "main", Matched: true, Decision: `include "**" matched`},
					{Criterion: "filePaths", Matched: true, Decision: "no listed file matched filePaths, but the list is incomplete: matched, files incomplete", Files: files(2, false)},
				}},
			},
		}}},
	}, {
		name:     "a listed file matches an incomplete list",
		pipeline: services,
		event:    pushEvent(truncated(branch("main", "src/a.go"))),
		want: PipelineVerdict{Pipeline: "services", Target: "ci", Triggered: true, Subjects: []SubjectVerdict{{
			Subject: "branch main", Triggered: true,
			Filters: []FilterVerdict{
				{Filter: "push[0]", Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "main", Decision: "no include matched"},
				}},
				{Filter: "push[1]", Matched: true, Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "main", Matched: true, Decision: `include "**" matched`},
					{Criterion: "filePaths", Value: "src/a.go", Matched: true, Decision: `include "src/**" matched`, Files: files(1, false)},
				}},
			},
		}}},
	}, {
		name:     "exclude decides; every criterion is explained",
		pipeline: services,
		event:    pushEvent(branch("wip/x", "src/a_test.go")),
		want: PipelineVerdict{Pipeline: "services", Target: "ci", Subjects: []SubjectVerdict{{
			Subject: "branch wip/x",
			Filters: []FilterVerdict{
				{Filter: "push[0]", Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "wip/x", Decision: "no include matched"},
				}},
				{Filter: "push[1]", Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "wip/x", Decision: `exclude "wip/**" matched: excluded`},
					{Criterion: "filePaths", Value: "src/a_test.go", Decision: `exclude "**/*_test.go" matched: excluded; no other changed file matched; list complete`, Files: files(1, true)},
				}},
			},
		}}},
	}, {
		name:     "no changed file matches a complete list",
		pipeline: services,
		event:    pushEvent(branch("main", "README", "Makefile")),
		want: PipelineVerdict{Pipeline: "services", Target: "ci", Subjects: []SubjectVerdict{{
			Subject: "branch main",
			Filters: []FilterVerdict{
				{Filter: "push[0]", Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "main", Decision: "no include matched"},
				}},
				{Filter: "push[1]", Criteria: []CriterionVerdict{
					{Criterion: "branches", Value: "main", Matched: true, Decision: `include "**" matched`},
					{Criterion: "filePaths", Decision: "no changed file matched filePaths includes; list complete", Files: files(2, true)},
				}},
			},
		}}},
	}, {
		name:     "filters that do not apply",
		pipeline: pipelineOf("mixed", push(config.PushFilter{Branches: inc("**")}, config.PushFilter{Tags: exc("nightly")})),
		event:    pushEvent(tag("v1"), deleted(branch("old"))),
		want: PipelineVerdict{Pipeline: "mixed", Target: "ci", Triggered: true, Subjects: []SubjectVerdict{{
			Subject: "tag v1", Triggered: true,
			Filters: []FilterVerdict{
				{Filter: "push[0]", Reason: "tag push; filter has no tags criterion"},
				{Filter: "push[1]", Matched: true, Criteria: []CriterionVerdict{
					{Criterion: "tags", Value: "v1", Matched: true, Decision: "no includes; no exclude matched"},
				}},
			},
		}, {
			Subject: "branch old (deleted)",
			Filters: []FilterVerdict{
				{Filter: "push[0]", Reason: "branch deletion; branchDeletions not set"},
				{Filter: "push[1]", Reason: "branch push; filter has no branches criterion"},
			},
		}}},
	}, {
		name:     "no trigger filters",
		pipeline: pipelineOf("default", config.Triggers{}),
		event:    pushEvent(branch("main"), tag("v1")),
		want: PipelineVerdict{Pipeline: "default", Target: "ci", Triggered: true, Subjects: []SubjectVerdict{{
			Subject: "branch main", Triggered: true,
			Filters: []FilterVerdict{{Filter: "default", Matched: true, Criteria: []CriterionVerdict{
				{Criterion: "branches", Value: "main", Matched: true, Decision: "no trigger filters: every branch push triggers"},
			}}},
		}, {
			Subject: "tag v1",
			Filters: []FilterVerdict{{Filter: "default", Reason: "tag push; a pipeline without trigger filters is triggered by branch pushes only"}},
		}}},
	}, {
		name: "pull request",
		pipeline: pipelineOf("reviews", pulls(
			config.PullRequestFilter{Events: []string{config.PROpen, config.PRUpdated}, Branches: inc("main")},
			config.PullRequestFilter{Events: []string{config.PRClosed}, SourceBranches: exc("dependabot/**"), FilePaths: inc("src/**")},
		)),
		event: prEvent(providers.PRMerged, "feature/x", "main"),
		want: PipelineVerdict{Pipeline: "reviews", Target: "ci", Triggered: true, Subjects: []SubjectVerdict{{
			Subject: "pull request #7 merged: feature/x -> main", Triggered: true, FilesIncomplete: true,
			Filters: []FilterVerdict{
				{Filter: "pullRequest[0]", Criteria: []CriterionVerdict{
					{Criterion: "events", Value: "CLOSED", Decision: "not listed in OPEN, UPDATED"},
					{Criterion: "branches", Value: "main", Matched: true, Decision: `include "main" matched`},
				}},
				{Filter: "pullRequest[1]", Matched: true, Criteria: []CriterionVerdict{
					{Criterion: "events", Value: "CLOSED", Matched: true, Decision: "listed in CLOSED"},
					{Criterion: "sourceBranches", Value: "feature/x", Matched: true, Decision: "no includes; no exclude matched"},
					{Criterion: "filePaths", Matched: true, Decision: "pull request events list no changed files: matched, files incomplete", Files: files(0, false)},
				}},
			},
		}}},
	}, {
		name:     "pull request action that never triggers",
		pipeline: pipelineOf("reviews", pulls(config.PullRequestFilter{})),
		event: &providers.Event{Kind: providers.KindPullRequest, Repository: providers.Repository{FullName: repo},
			PullRequest: &providers.PullRequest{Action: providers.PROther, RawAction: "labeled", Number: 3, SourceBranch: "f", DestinationBranch: "main"}},
		want: PipelineVerdict{Pipeline: "reviews", Target: "ci", Subjects: []SubjectVerdict{{
			Subject: "pull request #3 other (labeled): f -> main",
			Reason:  "pull request action is not opened, updated, closed or merged: it never triggers",
		}}},
	}, {
		name:     "push to a pipeline of pull requests",
		pipeline: pipelineOf("reviews", pulls(config.PullRequestFilter{})),
		event:    pushEvent(branch("main")),
		want: PipelineVerdict{Pipeline: "reviews", Target: "ci", Subjects: []SubjectVerdict{{
			Subject: "branch main", Reason: "push; the pipeline has only pullRequest filters",
		}}},
	}, {
		name:     "ping",
		pipeline: pipelineOf("default", config.Triggers{}),
		event:    &providers.Event{Kind: providers.KindPing, Repository: providers.Repository{FullName: repo}},
		want:     PipelineVerdict{Pipeline: "default", Target: "ci", Reason: "ping event; only pushes and pull requests trigger pipelines"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t, tt.pipeline)
			got := r.Explain(connA, tt.event)
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				want, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Errorf("got\n%s\nwant\n%s", explained(t, r, tt.event), want)
			}
		})
	}
}

func TestExplainListsPipelinesOfTheRepository(t *testing.T) {
	otherRepo := pipelineOf("lib", config.Triggers{})
	otherRepo.Repository = "acme/lib"
	otherConn := pipelineOf("elsewhere", config.Triggers{})
	otherConn.ConnectionArn = arn(connB)
	r := newRouter(t, pipelineOf("b", config.Triggers{}), otherRepo, otherConn, pipelineOf("a", pulls(config.PullRequestFilter{})))
	var names []string
	for _, v := range r.Explain(connA, pushEvent(branch("main"))) {
		names = append(names, v.Pipeline)
	}
	if !equal(names, []string{"b", "a"}) {
		t.Errorf("Explain lists %q, want b and a in configuration order", names)
	}
}

func TestExplainJSON(t *testing.T) {
	r := newRouter(t, pipelineOf("svc", push(config.PushFilter{Branches: inc("main"), FilePaths: inc("src/**")})))
	got, err := json.Marshal(r.Explain(connA, pushEvent(branch("main", "src/a.go"))))
	if err != nil {
		t.Fatal(err)
	}
	const want = `[{"pipeline":"svc","target":"ci","triggered":true,"subjects":[{"subject":"branch main","triggered":true,` +
		`"filters":[{"filter":"push[0]","matched":true,"criteria":[` +
		`{"criterion":"branches","value":"main","matched":true,"decision":"include \"main\" matched"},` +
		`{"criterion":"filePaths","value":"src/a.go","matched":true,"decision":"include \"src/**\" matched","files":{"listed":1,"complete":true}}]}]}]}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
