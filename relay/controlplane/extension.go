package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

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

func (a *API) webhookInput(ctx context.Context, c call) (store.Connection, string, *int64, error) {
	var in struct {
		ConnectionArn  *string
		OverlapSeconds *int64
	}
	if err := decode(c.body, &in); err != nil {
		return store.Connection{}, "", nil, err
	}
	if err := required("ConnectionArn", in.ConnectionArn); err != nil {
		return store.Connection{}, "", nil, err
	}
	conn, err := a.lookupConnection(ctx, "ConnectionArn", *in.ConnectionArn)
	return conn, *in.ConnectionArn, in.OverlapSeconds, err
}

// getConnectionWebhook returns the connection's webhook URL and current
// secret: the one read path for a secret, behind authentication.
func (a *API) getConnectionWebhook(ctx context.Context, c call) (any, error) {
	conn, arn, _, err := a.webhookInput(ctx, c)
	if err != nil {
		return nil, err
	}
	return a.webhookOut(ctx, conn, arn)
}

func (a *API) rotateConnectionWebhookSecret(ctx context.Context, c call) (any, error) {
	conn, arn, overlapSeconds, err := a.webhookInput(ctx, c)
	if err != nil {
		return nil, err
	}
	overlap := a.opts.SecretOverlap
	if overlapSeconds != nil {
		if *overlapSeconds < 0 || *overlapSeconds > 30*24*3600 {
			return nil, validationError("Value '%d' at 'OverlapSeconds' failed to satisfy constraint: Member must be between 0 and 2592000", *overlapSeconds)
		}
		overlap = time.Duration(*overlapSeconds) * time.Second
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
	out := webhookOut{ConnectionArn: arn, URL: a.opts.WebhookBaseURL + "/webhooks/" + conn.ID, Secret: string(secret)}
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

// connectionARN names a connection in forgelink's own operations, which
// use the codeconnections form.
func (a *API) connectionARN(id string) string {
	return formatARN(namespaces[0], a.opts.Region, a.opts.AccountID, store.KindConnection, id)
}

func (a *API) listEvents(ctx context.Context, c call) (any, error) {
	var in struct {
		ConnectionArn *string
		Repository    *string
		Kind          *string
		Since, Until  *float64
		MaxResults    *int
		NextToken     *string
	}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	f, err := a.eventFilter(ctx, in.ConnectionArn, in.Repository, in.Kind, in.Since, in.Until)
	if err != nil {
		return nil, err
	}
	scope := fmt.Sprintf("events\x00%s\x00%s\x00%s\x00%d\x00%d", f.ConnectionID, f.Repository, f.Kind, f.Since.UnixNano(), f.Until.UnixNano())
	events, next, err := listPage(in.MaxResults, in.NextToken, scope, func(p store.Page) ([]store.Event, error) {
		return a.opts.Store.ListEvents(ctx, f, p)
	}, func(e store.Event) string { return e.ID })
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
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

// eventInput loads the event an {EventId} input names.
func (a *API) eventInput(ctx context.Context, c call) (store.Event, error) {
	var in struct{ EventId *string }
	if err := decode(c.body, &in); err != nil {
		return store.Event{}, err
	}
	if err := checkUUID("EventId", in.EventId, "an event id"); err != nil {
		return store.Event{}, err
	}
	e, err := a.opts.Store.GetEvent(ctx, *in.EventId)
	return e, onResource("event "+*in.EventId, err)
}

func (a *API) getEvent(ctx context.Context, c call) (any, error) {
	e, err := a.eventInput(ctx, c)
	if err != nil {
		return nil, err
	}
	return struct{ Event eventDetail }{eventDetail{
		eventSummary: a.eventOut(e),
		Headers:      e.Headers,
		Body:         string(e.Body),
		Normalized:   e.Normalized,
	}}, nil
}
