package dispatch

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

const (
	planARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/c1"
	sha     = "9fceb02d0ae598e95dc970b74767f19372d61af8"
)

func planRecorded(ev *providers.Event) Recorded {
	return Recorded{
		EventID: "0190f000-0000-7000-8000-000000000001", ConnectionID: "c1", ConnectionARN: planARN,
		ReceivedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Event: ev,
	}
}

var planRepo = providers.Repository{FullName: "octo/api", CloneURLHTTP: "https://github.com/octo/api.git"}

func decodeMessage(t *testing.T, d store.Delivery) notify.Message {
	t.Helper()
	var m notify.Message
	if err := json.Unmarshal(d.Message, &m); err != nil {
		t.Fatalf("delivery %s message: %v", d.ID, err)
	}
	return m
}

func TestPlanPush(t *testing.T) {
	// Author dates are given in UTC whatever the committer's zone.
	zone := time.FixedZone("CEST", 2*60*60)
	ev := &providers.Event{
		Provider: store.ProviderGitHub, DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Kind: providers.KindPush, Repository: planRepo,
		Pushes: []providers.Push{{
			Ref: "refs/heads/feature/x", RefType: providers.RefBranch, RefName: "feature/x", After: sha,
			HeadCommit: &providers.Commit{ID: sha, Message: "Fix the build\n\nDetails.", Timestamp: time.Date(2026, 3, 1, 12, 4, 5, 0, zone)},
		}},
	}
	r := planRecorded(ev)
	build := &config.Pipeline{Name: "build", ExecutionMode: config.ModeQueued, Target: "jenkins"}
	deploy := &config.Pipeline{Name: "deploy", ExecutionMode: config.ModeSuperseded, Target: "argo"}
	ds := Plan(r, []route.Match{
		{Pipeline: build, Push: &ev.Pushes[0], Branch: "feature/x"},
		{Pipeline: deploy, Push: &ev.Pushes[0], Branch: "feature/x", FilesIncomplete: true},
	})
	if len(ds) != 2 {
		t.Fatalf("Plan made %d deliveries, want 2", len(ds))
	}
	if ds[0].ID == ds[1].ID || ds[0].ID > ds[1].ID {
		t.Errorf("delivery ids %s, %s; want distinct, in match order", ds[0].ID, ds[1].ID)
	}
	for i, want := range []struct {
		pipeline, target, mode string
		incomplete             bool
	}{{"build", "jenkins", "QUEUED", false}, {"deploy", "argo", "SUPERSEDED", true}} {
		d := ds[i]
		if id, err := uuid.Parse(d.ID); err != nil || id.Version() != 7 {
			t.Errorf("delivery id %q: want a UUID v7 (%v)", d.ID, err)
		}
		if d.EventID != r.EventID || d.ConnectionID != "c1" || d.Pipeline != want.pipeline || d.Target != want.target ||
			d.Mode != want.mode || d.Branch != "feature/x" || d.FilesIncomplete != want.incomplete {
			t.Errorf("delivery %d = %+v", i, d)
		}
		m := decodeMessage(t, d)
		wantMsg := notify.Message{
			DeliveryID: d.ID, Pipeline: want.pipeline, ConnectionARN: planARN, EventID: r.EventID,
			ProviderDeliveryID: ev.DeliveryID, Provider: store.ProviderGitHub, Kind: providers.KindPush, Repository: planRepo, Push: &ev.Pushes[0],
			FilesIncomplete: want.incomplete, CreatedAt: r.ReceivedAt,
			Variables: map[string]string{
				"CommitId":           sha,
				"BranchName":         "feature/x",
				"CommitMessage":      "Fix the build\n\nDetails.",
				"AuthorDate":         "2026-03-01T10:04:05Z",
				"FullRepositoryName": "octo/api",
				"ConnectionArn":      planARN,
				"EventKind":          "push",
				"DeliveryId":         d.ID,
				"Pipeline":           want.pipeline,
				"ProviderType":       "GitHub",
				"CloneUrl":           "https://github.com/octo/api.git",
			},
		}
		// Compare through JSON: times lose their zone on the way.
		if got, w := string(mustJSON(t, m)), string(mustJSON(t, wantMsg)); got != w {
			t.Errorf("message %d =\n%s\nwant\n%s", i, got, w)
		}
		if m.Attempt != 0 {
			t.Errorf("planned message has attempt %d, want 0 (set per attempt)", m.Attempt)
		}
	}
}

func TestPlanVariables(t *testing.T) {
	tests := []struct {
		name  string
		ev    *providers.Event
		match func(ev *providers.Event) route.Match
		want  map[string]string // besides the ones every message has
	}{
		{
			name: "tag push",
			ev: &providers.Event{Provider: store.ProviderGitLab, Kind: providers.KindPush, Repository: planRepo, Pushes: []providers.Push{{
				Ref: "refs/tags/v1.2.0", RefType: providers.RefTag, RefName: "v1.2.0", After: sha,
				HeadCommit: &providers.Commit{ID: sha, Message: "Release 1.2.0"}, // no timestamp: no AuthorDate
			}}},
			match: func(ev *providers.Event) route.Match { return route.Match{Push: &ev.Pushes[0]} },
			want:  map[string]string{"CommitId": sha, "TagName": "v1.2.0", "CommitMessage": "Release 1.2.0"},
		},
		{
			name: "branch push without head commit",
			ev: &providers.Event{Provider: store.ProviderBitbucket, Kind: providers.KindPush, Repository: planRepo, Pushes: []providers.Push{
				{Ref: "refs/heads/other", RefType: providers.RefBranch, RefName: "other", After: "1111111111111111111111111111111111111111"},
				{Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main", After: sha},
			}},
			// A Bitbucket push with several refs: the variables are the matched ref's.
			match: func(ev *providers.Event) route.Match { return route.Match{Push: &ev.Pushes[1], Branch: "main"} },
			want:  map[string]string{"CommitId": sha, "BranchName": "main"},
		},
		{
			name: "pull request",
			ev: &providers.Event{Provider: store.ProviderGitHub, Kind: providers.KindPullRequest, Repository: planRepo, PullRequest: &providers.PullRequest{
				Action: providers.PROpened, Number: 42, Title: "Add the cache", SourceBranch: "feature/cache", DestinationBranch: "main", HeadSHA: sha,
			}},
			match: func(ev *providers.Event) route.Match {
				return route.Match{PullRequest: ev.PullRequest, Branch: ev.PullRequest.SourceBranch}
			},
			want: map[string]string{
				"CommitId": sha, "BranchName": "feature/cache", "SourceBranch": "feature/cache", "DestinationBranch": "main",
				"PullRequestNumber": "42", "CommitMessage": "Add the cache",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match := tt.match(tt.ev)
			match.Pipeline = &config.Pipeline{Name: "ci", ExecutionMode: config.ModeParallel, Target: "t"}
			ds := Plan(planRecorded(tt.ev), []route.Match{match})
			if len(ds) != 1 {
				t.Fatalf("Plan made %d deliveries, want 1", len(ds))
			}
			m := decodeMessage(t, ds[0])
			want := maps.Clone(tt.want)
			maps.Copy(want, map[string]string{
				"FullRepositoryName": "octo/api", "ConnectionArn": planARN, "EventKind": string(tt.ev.Kind),
				"DeliveryId": ds[0].ID, "Pipeline": "ci", "ProviderType": tt.ev.Provider, "CloneUrl": planRepo.CloneURLHTTP,
			})
			if !maps.Equal(m.Variables, want) {
				t.Errorf("variables:\n%v\nwant\n%v", m.Variables, want)
			}
			if !reflect.DeepEqual(m.Push, match.Push) || !reflect.DeepEqual(m.PullRequest, match.PullRequest) {
				t.Errorf("message subject = %+v, %+v; want %+v, %+v", m.Push, m.PullRequest, match.Push, match.PullRequest)
			}
			if ds[0].Branch != match.Branch || ds[0].Mode != "PARALLEL" {
				t.Errorf("delivery branch %q mode %q, want %q PARALLEL", ds[0].Branch, ds[0].Mode, match.Branch)
			}
		})
	}
}

func TestPlanNoMatches(t *testing.T) {
	if ds := Plan(planRecorded(&providers.Event{Kind: providers.KindPing}), nil); len(ds) != 0 {
		t.Errorf("Plan without matches = %v, want none", ds)
	}
}

// The stored message is forgelink's schema, without an attempt number.
func TestPlanMessageSchema(t *testing.T) {
	ev := pushEvent("main")
	ds := Plan(planRecorded(ev), []route.Match{{Pipeline: &config.Pipeline{Name: "ci", Target: "t", ExecutionMode: "QUEUED"}, Push: &ev.Pushes[0], Branch: "main"}})
	var raw map[string]any
	if err := json.Unmarshal(ds[0].Message, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"deliveryId", "attempt", "pipeline", "connectionArn", "eventId", "provider", "kind", "repository", "push", "filesIncomplete", "createdAt", "variables"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("message has no %q: %s", k, ds[0].Message)
		}
	}
	if _, ok := raw["pullRequest"]; ok || !strings.Contains(string(ds[0].Message), `"attempt":0`) {
		t.Errorf("message = %s; want no pullRequest and attempt 0", ds[0].Message)
	}
}
