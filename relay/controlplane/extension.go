package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// newWebhookSecret returns 32 random bytes as 64 hex characters: providers
// take the secret as text and use that text as the HMAC key.
func newWebhookSecret() []byte {
	raw := make([]byte, 32)
	rand.Read(raw)
	return []byte(hex.EncodeToString(raw))
}

type webhookOut struct {
	ConnectionArn string
	URL           string `json:"Url"`
	Secret        string
	// PreviousSecretValidUntil is set while a rotated-out secret is still
	// accepted (epoch seconds).
	PreviousSecretValidUntil *float64 `json:",omitempty"`
}

type webhookIn struct {
	ConnectionArn  *string
	OverlapSeconds *int64
}

func webhookArnOf(in *webhookIn) *string { return in.ConnectionArn }

// getConnectionWebhook returns the connection's webhook URL and current
// secret: the one read path for a secret, behind authentication.
func (a *API) getConnectionWebhook(ctx context.Context, _ call, in *webhookIn) (any, error) {
	conn, err := a.lookupConnection(ctx, "ConnectionArn", *in.ConnectionArn)
	if err != nil {
		return nil, err
	}
	return a.webhookOut(ctx, conn, *in.ConnectionArn)
}

func (a *API) rotateSecretAccess(ctx context.Context, c call, in *webhookIn) ([]policy.Request, error) {
	if s := in.OverlapSeconds; s != nil && (*s < 0 || *s > 30*24*3600) {
		return nil, validationError("Value '%d' at 'OverlapSeconds' failed to satisfy constraint: Member must be between 0 and 2592000", *s)
	}
	return onConnection(a, webhookArnOf, extPrefix+"RotateConnectionWebhookSecret")(ctx, c, in)
}

func (a *API) rotateConnectionWebhookSecret(ctx context.Context, _ call, in *webhookIn) (any, error) {
	arn := *in.ConnectionArn
	conn, err := a.lookupConnection(ctx, "ConnectionArn", arn)
	if err != nil {
		return nil, err
	}
	if err := a.inHomeRegion(ctx, "connection "+arn, conn.Region); err != nil {
		return nil, err
	}
	overlap := a.opts.SecretOverlap
	if in.OverlapSeconds != nil {
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
	}
	sealed := a.opts.Keyring.Seal(newWebhookSecret(), []byte(conn.ID))
	if err := a.opts.Store.RotateWebhookSecret(ctx, conn.ID, sealed, a.opts.Now().Add(overlap)); err != nil {
		return nil, onResource("connection "+arn, err)
	}
	a.opts.ConnectionChanged(conn.ID)
	a.syncHooks(conn.ID) // the hooks carry the old secret until pushed the new one
	return a.webhookOut(ctx, conn, arn)
}

func (a *API) webhookOut(ctx context.Context, conn store.Connection, arn string) (any, error) {
	secrets, err := a.opts.Store.WebhookSecrets(ctx, conn.ID, a.opts.Now())
	if err != nil {
		return nil, onResource("connection "+arn, err)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("connection %s has no valid webhook secret", conn.ID)
	}
	secret, err := a.opts.Keyring.Open(secrets[0].Sealed, []byte(conn.ID))
	if err != nil {
		return nil, fmt.Errorf("open webhook secret of %s: %w", conn.ID, err)
	}
	out := webhookOut{ConnectionArn: arn, URL: a.opts.WebhookBaseURL + ingress.WebhookPath(a.opts.Keyring, conn.ID), Secret: string(secret)}
	if len(secrets) > 1 {
		until := epochSeconds(secrets[1].ExpiresAt)
		out.PreviousSecretValidUntil = &until
	}
	return out, nil
}

func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}

type eventSummary struct {
	EventID       string `json:"EventId"`
	ConnectionArn string
	Provider      string
	DeliveryID    string `json:"DeliveryId"`
	Kind          string
	RawKind       string
	Repository    string
	Held          bool
	ReceivedAt    float64
}

type eventDetail struct {
	eventSummary
	Headers    json.RawMessage
	Body       string // the raw body as received
	Normalized json.RawMessage
}

func (a *API) eventOut(e store.Event) eventSummary {
	return eventSummary{
		EventID:       e.ID,
		ConnectionArn: a.connectionARN(e.ConnectionID),
		Provider:      e.Provider,
		DeliveryID:    e.DeliveryID,
		Kind:          e.Kind,
		RawKind:       e.RawKind,
		Repository:    e.Repository,
		Held:          e.Held,
		ReceivedAt:    epochSeconds(e.ReceivedAt),
	}
}

// connectionARN names a connection in forgelink's own operations: its own
// ARN (region.go).
func (a *API) connectionARN(id string) string {
	return a.storedConnectionARN(id)
}

type listEventsIn struct {
	ConnectionArn *string
	Repository    *string
	Kind          *string
	Since, Until  *float64
	Recovered     *bool // only events recovery brought back
	SortOrder     *string
	MaxResults    *int
	NextToken     *string
	list          policy.Request
	desc          bool
}

// listEventsAccess: ListEvents on "*" (records filtered by their
// connection), and on the connection the filter names.
func (a *API) listEventsAccess(_ context.Context, _ call, in *listEventsIn) ([]policy.Request, error) {
	var err error
	if in.desc, err = sortOrder(in.SortOrder); err != nil {
		return nil, err
	}
	in.list = on(extPrefix+"ListEvents", "*")
	reqs := []policy.Request{in.list}
	if in.ConnectionArn != nil {
		arn, err := checkARN("ConnectionArn", in.ConnectionArn, store.KindConnection, maxConnectionARN)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, on(in.list.Action, arn))
	}
	return reqs, nil
}

func (a *API) listEvents(ctx context.Context, _ call, in *listEventsIn) (any, error) {
	f, err := a.eventFilter(ctx, in.ConnectionArn, in.Repository, in.Kind, in.Since, in.Until)
	if err != nil {
		return nil, err
	}
	f.Recovered = in.Recovered != nil && *in.Recovered
	scope := fmt.Sprintf("events\x00%s\x00%s\x00%s\x00%d\x00%d\x00%t", f.ConnectionID, f.Repository, f.Kind, f.Since.UnixNano(), f.Until.UnixNano(), f.Recovered)
	events, next, err := listPage(in.MaxResults, in.NextToken, orderScope(scope, in.desc), func(p store.Page) ([]store.Event, error) {
		p.Descending = in.desc
		return a.opts.Store.ListEvents(ctx, f, p)
	}, func(e store.Event) string { return e.ID })
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	events, err = filterVisible(ctx, a, in.list, events, func(e store.Event) string { return a.connectionARN(e.ConnectionID) })
	if err != nil {
		return nil, err
	}
	out := struct {
		Events    []eventSummary
		NextToken *string `json:",omitempty"`
	}{Events: []eventSummary{}, NextToken: next}
	for _, e := range events {
		out.Events = append(out.Events, a.eventOut(e))
	}
	return out, nil
}

func (a *API) eventFilter(ctx context.Context, arn, repo, kind *string, since, until *float64) (store.EventFilter, error) {
	var f store.EventFilter
	if arn != nil {
		conn, err := a.lookupConnection(ctx, "ConnectionArn", *arn)
		if err != nil {
			return f, err
		}
		f.ConnectionID = conn.ID
	}
	if repo != nil {
		f.Repository = *repo
	}
	if kind != nil {
		f.Kind = *kind
	}
	if since != nil {
		f.Since = fromEpoch(*since)
	}
	if until != nil {
		f.Until = fromEpoch(*until)
	}
	return f, nil
}

func fromEpoch(s float64) time.Time {
	return time.UnixMilli(int64(s * 1000)).UTC()
}

type eventIn struct {
	EventId *string
	event   store.Event
	err     error // the lookup's, answered by run after authorisation
}

// onEvent loads the event first and authorises action on its connection;
// an event that does not exist is authorised on every connection, so
// that only a caller allowed on all of them learns it does not exist.
func (a *API) onEvent(action string) func(context.Context, call, *eventIn) ([]policy.Request, error) {
	return func(ctx context.Context, _ call, in *eventIn) ([]policy.Request, error) {
		if err := checkUUID("EventId", in.EventId, "an event id"); err != nil {
			return nil, err
		}
		in.event, in.err = a.opts.Store.GetEvent(ctx, *in.EventId)
		resource, err := a.recordConnection(in.err, in.event.ConnectionID)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", *in.EventId, err)
		}
		in.err = onResource("event "+*in.EventId, in.err)
		return []policy.Request{on(action, resource)}, nil
	}
}

// recordConnection is the ARN a record by id is authorised on: its
// connection's, or every connection's when the lookup found no record.
func (a *API) recordConnection(lookup error, connID string) (string, error) {
	switch {
	case lookup == nil:
		return a.connectionARN(connID), nil
	case errors.Is(lookup, store.ErrNotFound):
		return a.anyConnection(), nil
	}
	return "", lookup
}

func (a *API) getEvent(_ context.Context, _ call, in *eventIn) (any, error) {
	if in.err != nil {
		return nil, in.err
	}
	e := in.event
	return struct{ Event eventDetail }{eventDetail{
		eventSummary: a.eventOut(e),
		Headers:      e.Headers,
		Body:         string(e.Body),
		Normalized:   e.Normalized,
	}}, nil
}
