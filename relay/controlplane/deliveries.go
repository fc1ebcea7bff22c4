package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// deliveryStates are the values of ListDeliveries' State filter.
var deliveryStates = []string{
	store.DeliveryPending, store.DeliveryLeased, store.DeliverySucceeded,
	store.DeliveryDead, store.DeliverySuperseded, store.DeliveryDiscarded, store.DeliveryFiltered,
}

type deliverySummary struct {
	DeliveryID      string `json:"DeliveryId"`
	EventID         string `json:"EventId"`
	ConnectionArn   string
	Pipeline        string
	Target          string
	Mode            string
	Branch          string
	State           string
	Attempts        int
	FilesIncomplete bool
	// NextAttemptAt is set while the delivery is pending; the store keeps
	// no meaningful value otherwise.
	NextAttemptAt *float64 `json:",omitempty"`
	LastError     string
	CreatedAt     float64
	UpdatedAt     float64
}

type deliveryDetail struct {
	deliverySummary
	Message json.RawMessage // what the target receives
}

type attemptOut struct {
	N          int
	StartedAt  float64
	DurationMs float64
	Outcome    string
	StatusCode int  `json:",omitempty"` // HTTP targets
	ExitStatus *int `json:",omitempty"` // exec targets
	Error      string
	Output     string
}

func (a *API) deliveryOut(d store.Delivery) deliverySummary {
	out := deliverySummary{
		DeliveryID:      d.ID,
		EventID:         d.EventID,
		ConnectionArn:   a.connectionARN(d.ConnectionID),
		Pipeline:        d.Pipeline,
		Target:          d.Target,
		Mode:            d.Mode,
		Branch:          d.Branch,
		State:           d.State,
		Attempts:        d.Attempts,
		FilesIncomplete: d.FilesIncomplete,
		LastError:       d.LastError,
		CreatedAt:       epochSeconds(d.CreatedAt),
		UpdatedAt:       epochSeconds(d.UpdatedAt),
	}
	if d.State == store.DeliveryPending {
		next := epochSeconds(d.NextAttemptAt)
		out.NextAttemptAt = &next
	}
	return out
}

// deliveriesOut is never nil, so that an empty list is [] on the wire.
func (a *API) deliveriesOut(ds []store.Delivery) []deliverySummary {
	out := make([]deliverySummary, 0, len(ds))
	for _, d := range ds {
		out = append(out, a.deliveryOut(d))
	}
	return out
}

type listDeliveriesIn struct {
	Pipeline   *string
	State      *string
	EventId    *string
	SortOrder  *string
	MaxResults *int
	NextToken  *string
	list       policy.Request
	desc       bool
}

func (a *API) listDeliveriesAccess(_ context.Context, _ call, in *listDeliveriesIn) ([]policy.Request, error) {
	var err error
	if in.desc, err = sortOrder(in.SortOrder); err != nil {
		return nil, err
	}
	if in.State != nil && !slices.Contains(deliveryStates, *in.State) {
		return nil, validationError("Value '%s' at 'State' failed to satisfy constraint: Member must satisfy enum value set: %v", *in.State, deliveryStates)
	}
	if in.EventId != nil {
		if err := checkUUID("EventId", in.EventId, "an event id"); err != nil {
			return nil, err
		}
	}
	in.list = on(extPrefix+"ListDeliveries", "*")
	return []policy.Request{in.list}, nil
}

func (a *API) listDeliveries(ctx context.Context, _ call, in *listDeliveriesIn) (any, error) {
	var f store.DeliveryFilter
	for _, m := range []struct{ to, from *string }{{&f.Pipeline, in.Pipeline}, {&f.State, in.State}, {&f.EventID, in.EventId}} {
		if m.from != nil {
			*m.to = *m.from
		}
	}
	scope := "deliveries\x00" + f.Pipeline + "\x00" + f.State + "\x00" + f.EventID
	ds, next, err := listPage(in.MaxResults, in.NextToken, orderScope(scope, in.desc), func(p store.Page) ([]store.Delivery, error) {
		p.Descending = in.desc
		return a.opts.Store.ListDeliveries(ctx, f, p)
	}, func(d store.Delivery) string { return d.ID })
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	ds, err = filterVisible(ctx, a, in.list, ds, func(d store.Delivery) string { return a.connectionARN(d.ConnectionID) })
	if err != nil {
		return nil, err
	}
	return struct {
		Deliveries []deliverySummary
		NextToken  *string `json:",omitempty"`
	}{a.deliveriesOut(ds), next}, nil
}

type deliveryIn struct {
	DeliveryId *string
	delivery   store.Delivery
	attempts   []store.Attempt
	err        error // the lookup's, answered by run after authorisation
}

// onDelivery loads the delivery first and authorises action on its
// connection, as onEvent does for events.
func (a *API) onDelivery(action string) func(context.Context, call, *deliveryIn) ([]policy.Request, error) {
	return func(ctx context.Context, _ call, in *deliveryIn) ([]policy.Request, error) {
		if err := checkUUID("DeliveryId", in.DeliveryId, "a delivery id"); err != nil {
			return nil, err
		}
		in.delivery, in.attempts, in.err = a.opts.Store.GetDelivery(ctx, *in.DeliveryId)
		resource, err := a.recordConnection(in.err, in.delivery.ConnectionID)
		if err != nil {
			return nil, fmt.Errorf("delivery %s: %w", *in.DeliveryId, err)
		}
		in.err = onResource("delivery "+*in.DeliveryId, in.err)
		return []policy.Request{on(action, resource)}, nil
	}
}

func (a *API) getDelivery(_ context.Context, _ call, in *deliveryIn) (any, error) {
	if in.err != nil {
		return nil, in.err
	}
	d, attempts, id := in.delivery, in.attempts, *in.DeliveryId
	// Invalid JSON would fail the response's encoding as a whole.
	if !json.Valid(d.Message) {
		return nil, fmt.Errorf("delivery %s: stored message is not JSON", id)
	}
	out := struct {
		Delivery deliveryDetail
		Attempts []attemptOut
	}{
		Delivery: deliveryDetail{deliverySummary: a.deliveryOut(d), Message: d.Message},
		Attempts: make([]attemptOut, 0, len(attempts)),
	}
	for _, at := range attempts {
		out.Attempts = append(out.Attempts, attemptOut{
			N:          at.N,
			StartedAt:  epochSeconds(at.StartedAt),
			DurationMs: float64(at.Duration.Microseconds()) / 1000,
			Outcome:    at.Outcome,
			StatusCode: at.StatusCode,
			ExitStatus: at.ExitStatus,
			Error:      at.Error,
			Output:     at.Output,
		})
	}
	return out, nil
}

func (a *API) redeliverDelivery(ctx context.Context, _ call, in *deliveryIn) (any, error) {
	if err := a.transition(ctx, in, a.opts.Store.Redeliver, "succeeded, dead, superseded, discarded or filtered", "redelivered"); err != nil {
		return nil, err
	}
	a.opts.DeliveriesChanged()
	return struct{}{}, nil
}

func (a *API) discardDelivery(ctx context.Context, _ call, in *deliveryIn) (any, error) {
	if err := a.transition(ctx, in, a.opts.Store.Discard, "pending or dead", "discarded"); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// transition applies change to the delivery. The store reports a
// delivery in the wrong state as ErrUnavailable, which would go out as "is
// not AVAILABLE"; the caller is told the state instead.
func (a *API) transition(ctx context.Context, in *deliveryIn, change func(context.Context, string) error, allowed, done string) error {
	if in.err != nil {
		return in.err
	}
	id := *in.DeliveryId
	err := change(ctx, id)
	if !errors.Is(err, store.ErrUnavailable) {
		return onResource("delivery "+id, err)
	}
	d, _, err := a.opts.Store.GetDelivery(ctx, id)
	if err != nil {
		return onResource("delivery "+id, err)
	}
	return newError(codeConflict, "delivery %s is %s; only %s deliveries can be %s", id, d.State, allowed, done)
}

// noPipelines stands in when Options.Pipelines is nil.
type noPipelines struct{}

func (noPipelines) Pipelines() []config.Pipeline { return nil }

func (noPipelines) Explain(string, *providers.Event) []route.PipelineVerdict { return nil }

type pipelineOut struct {
	Name          string
	ConnectionArn string
	Repository    string
	ExecutionMode string
	Target        string
	Triggers      wireTriggers
}

// wireTriggers and the types below are config.Triggers spelled as in the
// configuration file (and CodePipeline's API), without unset members.
type wireTriggers struct {
	Push        []wirePushFilter        `json:"push,omitempty"`
	PullRequest []wirePullRequestFilter `json:"pullRequest,omitempty"`
}

type wirePushFilter struct {
	Branches        *wireCriteria `json:"branches,omitempty"`
	Tags            *wireCriteria `json:"tags,omitempty"`
	FilePaths       *wireCriteria `json:"filePaths,omitempty"`
	BranchDeletions bool          `json:"branchDeletions,omitempty"`
}

type wirePullRequestFilter struct {
	Events         []string      `json:"events,omitempty"`
	Branches       *wireCriteria `json:"branches,omitempty"`
	SourceBranches *wireCriteria `json:"sourceBranches,omitempty"`
	FilePaths      *wireCriteria `json:"filePaths,omitempty"`
}

// wireCriteria converts from config.Criteria: the fields are the same.
type wireCriteria struct {
	Includes []string `json:"includes,omitempty"`
	Excludes []string `json:"excludes,omitempty"`
}

func pipelineToWire(p config.Pipeline) pipelineOut {
	var t wireTriggers
	for _, f := range p.Triggers.Push {
		t.Push = append(t.Push, wirePushFilter{
			Branches:        (*wireCriteria)(f.Branches),
			Tags:            (*wireCriteria)(f.Tags),
			FilePaths:       (*wireCriteria)(f.FilePaths),
			BranchDeletions: f.BranchDeletions,
		})
	}
	for _, f := range p.Triggers.PullRequest {
		t.PullRequest = append(t.PullRequest, wirePullRequestFilter{
			Events:         f.Events,
			Branches:       (*wireCriteria)(f.Branches),
			SourceBranches: (*wireCriteria)(f.SourceBranches),
			FilePaths:      (*wireCriteria)(f.FilePaths),
		})
	}
	return pipelineOut{
		Name:          p.Name,
		ConnectionArn: p.ConnectionArn,
		Repository:    p.Repository,
		ExecutionMode: p.ExecutionMode,
		Target:        p.Target,
		Triggers:      t,
	}
}

type listPipelinesIn struct{ list policy.Request }

func listPipelinesOf(in *listPipelinesIn) *policy.Request { return &in.list }

// listPipelines is not paginated: pipelines come from the configuration
// file, not the store, and are few.
func (a *API) listPipelines(ctx context.Context, _ call, in *listPipelinesIn) (any, error) {
	ps, err := filterVisible(ctx, a, in.list, a.opts.Pipelines.Pipelines(), func(p config.Pipeline) string { return canonicalARN(p.ConnectionArn) })
	if err != nil {
		return nil, err
	}
	out := struct{ Pipelines []pipelineOut }{Pipelines: make([]pipelineOut, 0, len(ps))}
	for _, p := range ps {
		out.Pipelines = append(out.Pipelines, pipelineToWire(p))
	}
	return out, nil
}

type pipelineIn struct {
	Name     *string
	pipeline *config.Pipeline
}

// getPipelineAccess: GetPipeline on the pipeline's connection (every
// connection for a pipeline that does not exist, as onEvent).
func (a *API) getPipelineAccess(_ context.Context, _ call, in *pipelineIn) ([]policy.Request, error) {
	if err := required("Name", in.Name); err != nil {
		return nil, err
	}
	resource := a.anyConnection()
	for _, p := range a.opts.Pipelines.Pipelines() {
		if p.Name == *in.Name {
			in.pipeline = &p
			resource = canonicalARN(p.ConnectionArn)
			break
		}
	}
	return []policy.Request{on(extPrefix+"GetPipeline", resource)}, nil
}

func (a *API) getPipeline(_ context.Context, _ call, in *pipelineIn) (any, error) {
	if in.pipeline == nil {
		return nil, onResource("pipeline "+*in.Name, store.ErrNotFound)
	}
	return struct{ Pipeline pipelineOut }{pipelineToWire(*in.pipeline)}, nil
}

// explainEvent evaluates the event against the pipelines configured now,
// which may differ from those that routed it: the event's deliveries show
// what was actually decided.
func (a *API) explainEvent(ctx context.Context, _ call, in *eventIn) (any, error) {
	if in.err != nil {
		return nil, in.err
	}
	e := in.event
	var ev providers.Event
	if err := json.Unmarshal(e.Normalized, &ev); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", e.ID, err)
	}
	ds, err := a.opts.Store.ListDeliveries(ctx, store.DeliveryFilter{EventID: e.ID}, store.Page{})
	if err != nil {
		return nil, fmt.Errorf("deliveries of event %s: %w", e.ID, err)
	}
	verdicts := a.opts.Pipelines.Explain(e.ConnectionID, &ev)
	if verdicts == nil {
		verdicts = []route.PipelineVerdict{}
	}
	return struct {
		EventID       string `json:"EventId"`
		ConnectionArn string
		Repository    string
		Kind          string
		Verdicts      []route.PipelineVerdict
		Deliveries    []deliverySummary
	}{e.ID, a.connectionARN(e.ConnectionID), e.Repository, e.Kind, verdicts, a.deliveriesOut(ds)}, nil
}
