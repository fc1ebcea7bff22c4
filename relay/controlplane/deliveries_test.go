package controlplane

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

const ext = "Forgelink_20261125."

// fakePipelines explains an event by the pipelines of its connection and
// repository, with one triggered subject per push.
type fakePipelines []config.Pipeline

func (p fakePipelines) Pipelines() []config.Pipeline { return p }

func (p fakePipelines) Explain(connID string, ev *providers.Event) []route.PipelineVerdict {
	var out []route.PipelineVerdict
	for _, pl := range p {
		if !strings.HasSuffix(pl.ConnectionArn, "/"+connID) || pl.Repository != ev.Repository.FullName {
			continue
		}
		v := route.PipelineVerdict{Pipeline: pl.Name, Target: pl.Target, Triggered: true}
		for _, push := range ev.Pushes {
			v.Subjects = append(v.Subjects, route.SubjectVerdict{Subject: "branch " + push.RefName, Triggered: true,
				Filters: []route.FilterVerdict{{Filter: "push[0]", Matched: true, Criteria: []route.CriterionVerdict{{
					Criterion: "branches", Value: push.RefName, Matched: true, Decision: `include "main" matched`,
				}}}}})
		}
		out = append(out, v)
	}
	return out
}

// call posts an operation of forgelink's namespace. It returns the error
// code and message, or decodes a success into out.
func (f *fixture) call(t *testing.T, op, body string, out any) (code, msg string) {
	t.Helper()
	status, m := f.post(t, ext+op, body)
	if status != 200 {
		code, _ = m["__type"].(string)
		msg, _ = m["message"].(string)
		return code, msg
	}
	if out != nil {
		raw, _ := json.Marshal(m)
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: decode %s: %v", op, raw, err)
		}
	}
	return "", ""
}

// mustCall is call for operations that must succeed; it returns the
// response as canonical JSON (sorted members).
func (f *fixture) mustCall(t *testing.T, op, body string) string {
	t.Helper()
	var out map[string]any
	if code, msg := f.call(t, op, body, &out); code != "" {
		t.Fatalf("%s %s: %s: %s", op, body, code, msg)
	}
	raw, _ := json.Marshal(out)
	return string(raw)
}

// recordEvent records a push to main of repo with one delivery per
// pipeline, to target "t-<pipeline>", and returns the event and delivery ids.
func recordEvent(t *testing.T, st *sqlite.Store, connID, repo string, at time.Time, pipelines ...string) (string, []string) {
	t.Helper()
	ev := providers.Event{Provider: store.ProviderGitHub, DeliveryID: uuid.NewString(), Kind: providers.KindPush, RawKind: "push",
		Repository: providers.Repository{FullName: repo},
		Pushes:     []providers.Push{{Ref: "refs/heads/main", RefType: providers.RefBranch, RefName: "main"}}}
	normalized, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: connID, Provider: ev.Provider, DeliveryID: ev.DeliveryID,
		Kind: string(ev.Kind), RawKind: ev.RawKind, Repository: repo, ReceivedAt: at,
		Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: normalized, Routed: true}
	var ids []string
	for _, p := range pipelines {
		id := uuid.Must(uuid.NewV7()).String()
		ids = append(ids, id)
		e.Deliveries = append(e.Deliveries, store.Delivery{ID: id, EventID: e.ID, ConnectionID: connID, Pipeline: p,
			Target: "t-" + p, Mode: config.ModeQueued, Branch: "main", Message: []byte(`{"pipeline":"` + p + `"}`)})
	}
	if _, err := st.RecordEvent(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	return e.ID, ids
}

// attempt leases the delivery to target and completes it with a.
func attempt(t *testing.T, st *sqlite.Store, target, state string, a store.Attempt) {
	t.Helper()
	claimed, err := st.ClaimDeliveries(t.Context(), store.ClaimRequest{
		Owner: "test", Now: time.Now(), Lease: time.Minute, Limits: map[string]int{target: 1},
	})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim %s: %v %v", target, claimed, err)
	}
	a.DeliveryID, a.N = claimed[0].ID, claimed[0].Attempts
	if err := st.CompleteAttempts(t.Context(), []store.AttemptResult{{Attempt: a, LeaseOwner: "test", State: state}}); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveries(t *testing.T) {
	var changed atomic.Int32
	f := newFixture(t, Limits{}, false, func(o *Options) { o.DeliveriesChanged = func() { changed.Add(1) } })
	connID := uuid.NewString()
	connARN := "arn:aws:codeconnections:us-east-1:123456789012:connection/" + connID
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	eventID, ids := recordEvent(t, f.store, connID, "acme/app", at, "build", "deploy", "docs")
	build, deploy, docs := ids[0], ids[1], ids[2]
	otherEvent, other := recordEvent(t, f.store, connID, "acme/app", at.Add(time.Second), "build")
	started := time.Now().UTC().Truncate(time.Millisecond)
	attempt(t, f.store, "t-build", store.DeliveryDead, store.Attempt{StartedAt: started, Duration: 1500 * time.Microsecond,
		Outcome: "dead", StatusCode: 503, Error: "HTTP 503"})
	exit := 0
	attempt(t, f.store, "t-deploy", store.DeliverySucceeded, store.Attempt{StartedAt: started, Duration: time.Second,
		Outcome: "succeeded", ExitStatus: &exit, Output: "ok\n"})

	type listOut struct {
		Deliveries []deliverySummary
		NextToken  *string
	}
	var all listOut
	if code, msg := f.call(t, "ListDeliveries", `{}`, &all); code != "" {
		t.Fatalf("ListDeliveries: %s: %s", code, msg)
	}
	if len(all.Deliveries) != 4 || all.NextToken != nil {
		t.Fatalf("ListDeliveries = %+v, want 4 deliveries and no NextToken", all)
	}
	got := all.Deliveries[0]
	got.UpdatedAt = 0 // the store's clock
	want := deliverySummary{DeliveryID: build, EventID: eventID, ConnectionArn: connARN, Pipeline: "build", Target: "t-build",
		Mode: "QUEUED", Branch: "main", State: "dead", Attempts: 1, LastError: "HTTP 503", CreatedAt: epochSeconds(at)}
	if got != want {
		t.Errorf("ListDeliveries[0] =\n%+v, want\n%+v", got, want)
	}
	if next := all.Deliveries[2].NextAttemptAt; next == nil || *next != epochSeconds(at) {
		t.Errorf("pending delivery: NextAttemptAt %v, want %v", next, epochSeconds(at))
	}

	t.Run("pages", func(t *testing.T) {
		var first, second listOut
		f.call(t, "ListDeliveries", `{"MaxResults":3}`, &first)
		if len(first.Deliveries) != 3 || first.NextToken == nil {
			t.Fatalf("first page %+v", first)
		}
		f.call(t, "ListDeliveries", fmt.Sprintf(`{"MaxResults":3,"NextToken":%q}`, *first.NextToken), &second)
		if len(second.Deliveries) != 1 || second.NextToken != nil || second.Deliveries[0].EventID != otherEvent {
			t.Errorf("second page %+v", second)
		}
		body := fmt.Sprintf(`{"State":"dead","NextToken":%q}`, *first.NextToken)
		if code, _ := f.call(t, "ListDeliveries", body, nil); code != codeValidation {
			t.Errorf("token replayed on another filter: %q", code)
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			body string
			want []string
		}{
			{`{"State":"pending"}`, []string{docs, other[0]}},
			{`{"Pipeline":"deploy"}`, []string{deploy}},
			{`{"Pipeline":"build","EventId":"` + eventID + `"}`, []string{build}},
			{`{"EventId":"` + eventID + `"}`, []string{build, deploy, docs}},
		} {
			var out listOut
			f.call(t, "ListDeliveries", tc.body, &out)
			var ids []string
			for _, d := range out.Deliveries {
				ids = append(ids, d.DeliveryID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Errorf("ListDeliveries %s = %v, want %v", tc.body, ids, tc.want)
			}
		}
	})

	t.Run("get", func(t *testing.T) {
		startedAt := strconv.FormatFloat(epochSeconds(started), 'f', -1, 64)
		for _, tc := range []struct{ id, wantMessage, wantAttempts string }{
			{build, `{"pipeline":"build"}`,
				`[{"DurationMs":1.5,"Error":"HTTP 503","N":1,"Outcome":"dead","Output":"","StartedAt":` + startedAt + `,"StatusCode":503}]`},
			{deploy, `{"pipeline":"deploy"}`,
				`[{"DurationMs":1000,"Error":"","ExitStatus":0,"N":1,"Outcome":"succeeded","Output":"ok\n","StartedAt":` + startedAt + `}]`},
			{docs, `{"pipeline":"docs"}`, `[]`},
		} {
			var out struct {
				Delivery struct {
					DeliveryID string `json:"DeliveryId"`
					Message    json.RawMessage
				}
				Attempts json.RawMessage
			}
			f.call(t, "GetDelivery", `{"DeliveryId":"`+tc.id+`"}`, &out)
			if out.Delivery.DeliveryID != tc.id || string(out.Delivery.Message) != tc.wantMessage || string(out.Attempts) != tc.wantAttempts {
				t.Errorf("GetDelivery %s = %s %s %s, want message %s, attempts %s", tc.id,
					out.Delivery.DeliveryID, out.Delivery.Message, out.Attempts, tc.wantMessage, tc.wantAttempts)
			}
		}
	})

	t.Run("redeliver and discard", func(t *testing.T) {
		state := func(id string) string {
			var out struct{ Delivery deliverySummary }
			f.call(t, "GetDelivery", `{"DeliveryId":"`+id+`"}`, &out)
			return out.Delivery.State
		}
		code, msg := f.call(t, "RedeliverDelivery", `{"DeliveryId":"`+docs+`"}`, nil)
		if want := "delivery " + docs + " is pending; only succeeded, dead, superseded, discarded or filtered deliveries can be redelivered"; code != codeConflict || msg != want {
			t.Errorf("redeliver pending: %s: %s, want %s: %s", code, msg, codeConflict, want)
		}
		if changed.Load() != 0 {
			t.Error("a refused redelivery woke the engine")
		}
		if out := f.mustCall(t, "RedeliverDelivery", `{"DeliveryId":"`+build+`"}`); out != `{}` {
			t.Errorf("RedeliverDelivery = %s", out)
		}
		if s := state(build); s != store.DeliveryPending || changed.Load() != 1 {
			t.Errorf("after redelivery: state %s, engine woken %d times; want pending, once", s, changed.Load())
		}
		f.mustCall(t, "DiscardDelivery", `{"DeliveryId":"`+docs+`"}`)
		if s := state(docs); s != store.DeliveryDiscarded {
			t.Errorf("after discard: state %s", s)
		}
		code, msg = f.call(t, "DiscardDelivery", `{"DeliveryId":"`+deploy+`"}`, nil)
		if want := "delivery " + deploy + " is succeeded; only pending or dead deliveries can be discarded"; code != codeConflict || msg != want {
			t.Errorf("discard succeeded: %s: %s, want %s: %s", code, msg, codeConflict, want)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		unknown := uuid.NewString()
		for _, tc := range []struct{ op, body, code, msg string }{
			{"GetDelivery", `{}`, codeValidation, "Value null at 'DeliveryId'"},
			{"GetDelivery", `{"DeliveryId":"nope"}`, codeValidation, "Member must be a delivery id (a UUID)"},
			{"GetDelivery", `{"DeliveryId":"` + unknown + `"}`, codeNotFound, "delivery " + unknown + " does not exist"},
			{"RedeliverDelivery", `{"DeliveryId":"` + unknown + `"}`, codeNotFound, "delivery " + unknown + " does not exist"},
			{"DiscardDelivery", `{"DeliveryId":5}`, codeSerialization, "field DeliveryId"},
			{"ListDeliveries", `{"State":"PENDING"}`, codeValidation, "at 'State'"},
			{"ListDeliveries", `{"EventId":"e1"}`, codeValidation, "Member must be an event id"},
			{"ListDeliveries", `{"MaxResults":101}`, codeValidation, "at 'MaxResults'"},
		} {
			if code, msg := f.call(t, tc.op, tc.body, nil); code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("%s %s: %s: %s, want %s containing %q", tc.op, tc.body, code, msg, tc.code, tc.msg)
			}
		}
	})
}

func TestPipelinesAndExplain(t *testing.T) {
	connID := uuid.NewString()
	connARN := "arn:aws:codeconnections:us-east-1:123456789012:connection/" + connID
	pipelines := fakePipelines{{
		Name: "build", ConnectionArn: connARN, Repository: "acme/app", ExecutionMode: config.ModeQueued, Target: "t-build",
		Triggers: config.Triggers{
			Push:        []config.PushFilter{{Branches: &config.Criteria{Includes: []string{"main"}}, FilePaths: &config.Criteria{Excludes: []string{"docs/**"}}}},
			PullRequest: []config.PullRequestFilter{{Events: []string{config.PROpen}, Branches: &config.Criteria{Includes: []string{"main"}}}},
		},
	}, {
		Name: "site", ConnectionArn: connARN, Repository: "acme/site", ExecutionMode: config.ModeParallel, Target: "t-site",
	}}
	f := newFixture(t, Limits{}, false, func(o *Options) { o.Pipelines = pipelines })

	site := `{"ConnectionArn":"` + connARN + `","ExecutionMode":"PARALLEL","Name":"site","Repository":"acme/site","Target":"t-site","Triggers":{}}`
	want := `{"Pipelines":[{"ConnectionArn":"` + connARN + `","ExecutionMode":"QUEUED","Name":"build","Repository":"acme/app","Target":"t-build",` +
		`"Triggers":{"pullRequest":[{"branches":{"includes":["main"]},"events":["OPEN"]}],"push":[{"branches":{"includes":["main"]},"filePaths":{"excludes":["docs/**"]}}]}},` +
		site + `]}`
	if got := f.mustCall(t, "ListPipelines", ``); got != want {
		t.Errorf("ListPipelines =\n%s\nwant\n%s", got, want)
	}
	if got := f.mustCall(t, "GetPipeline", `{"Name":"site"}`); got != `{"Pipeline":`+site+`}` {
		t.Errorf("GetPipeline = %s", got)
	}
	if code, msg := f.call(t, "GetPipeline", `{"Name":"nope"}`, nil); code != codeNotFound || msg != "pipeline nope does not exist" {
		t.Errorf("GetPipeline unknown: %s: %s", code, msg)
	}
	if code, _ := f.call(t, "GetPipeline", `{}`, nil); code != codeValidation {
		t.Errorf("GetPipeline without Name: %s", code)
	}
	if got := newFixture(t, Limits{}, false).mustCall(t, "ListPipelines", `{}`); got != `{"Pipelines":[]}` {
		t.Errorf("ListPipelines without pipelines = %s", got)
	}

	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	eventID, ids := recordEvent(t, f.store, connID, "acme/app", at, "build")
	recordEvent(t, f.store, connID, "acme/app", at, "build")
	var out struct {
		EventID       string `json:"EventId"`
		ConnectionArn string
		Repository    string
		Kind          string
		Verdicts      []route.PipelineVerdict
		Deliveries    []deliverySummary
	}
	if code, msg := f.call(t, "ExplainEvent", `{"EventId":"`+eventID+`"}`, &out); code != "" {
		t.Fatalf("ExplainEvent: %s: %s", code, msg)
	}
	wantVerdicts := pipelines.Explain(connID, &providers.Event{
		Repository: providers.Repository{FullName: "acme/app"}, Pushes: []providers.Push{{RefName: "main"}},
	})
	if out.EventID != eventID || out.ConnectionArn != connARN || out.Repository != "acme/app" || out.Kind != "push" ||
		!reflect.DeepEqual(out.Verdicts, wantVerdicts) {
		t.Errorf("ExplainEvent = %+v; want verdicts %+v", out, wantVerdicts)
	}
	if len(out.Deliveries) != 1 || out.Deliveries[0].DeliveryID != ids[0] {
		t.Errorf("ExplainEvent deliveries = %+v, want only %s", out.Deliveries, ids[0])
	}

	// An event no pipeline applies to has empty lists, not nulls.
	quiet, _ := recordEvent(t, f.store, uuid.NewString(), "acme/app", at)
	if got := f.mustCall(t, "ExplainEvent", `{"EventId":"`+quiet+`"}`); !strings.Contains(got, `"Deliveries":[]`) || !strings.Contains(got, `"Verdicts":[]`) {
		t.Errorf("ExplainEvent of an unmatched event = %s", got)
	}
	unknown := uuid.NewString()
	if code, msg := f.call(t, "ExplainEvent", `{"EventId":"`+unknown+`"}`, nil); code != codeNotFound || msg != "event "+unknown+" does not exist" {
		t.Errorf("ExplainEvent unknown: %s: %s", code, msg)
	}
}
