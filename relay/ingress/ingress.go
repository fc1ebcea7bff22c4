// Package ingress receives provider webhooks: it proves each delivery came
// from the provider for one connection, normalises it and records it durably
// before answering. It is the "receive" stage of forgelink's
// receive → route → notify flow.
package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// DefaultMaxBody is GitHub's own payload cap: larger events are never sent.
const DefaultMaxBody = 25 << 20

// Store is what the ingress needs from persistence.
type Store interface {
	GetConnection(ctx context.Context, id string) (store.Connection, error)
	WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error)
	RecordEvent(ctx context.Context, e store.Event) (duplicate bool, err error)
	ConnectionsByInstallation(ctx context.Context, appID, installationID int64) ([]store.Connection, error)
}

// Opener opens sealed secrets (see relay/keyring).
type Opener interface {
	Open(sealed, associated []byte) ([]byte, error)
}

// Provider verifies and parses one provider's deliveries (providers/github,
// providers/gitlab, providers/bitbucket).
type Provider interface {
	Verify(h http.Header, body []byte, secrets [][]byte) error
	DeliveryID(h http.Header) string
	Parse(h http.Header, body []byte) (providers.Event, error)
}

// AppProvider is a Provider whose deliveries can come from an App serving
// many connections (GitHub Apps), attributed by installation id.
type AppProvider interface {
	Provider
	InstallationID(body []byte) (int64, error)
}

// AppSecrets finds registered GitHub Apps by the key of their webhook URL
// (/webhooks/github-app/<key>).
type AppSecrets interface {
	// GitHubAppSecret returns the App's id, its host's id ("" for
	// github.com) and its webhook secret; store.ErrNotFound when key names
	// no App.
	GitHubAppSecret(ctx context.Context, key string) (appID int64, hostID string, secret []byte, err error)
}

// Lifecycle is told about installation events (an App uninstalled or
// suspended) once they are recorded.
type Lifecycle interface {
	InstallationChanged(ctx context.Context, conn store.Connection, inst providers.Installation)
}

// Options configure a Handler.
type Options struct {
	Store     Store
	Keyring   Opener
	Providers map[string]Provider // by connection provider type
	Lifecycle Lifecycle           // optional
	// GitHubApps maps a GitHub App id to its webhook secret; AppProvider
	// verifies and parses the App's deliveries.
	GitHubApps  map[int64][]byte
	AppProvider AppProvider
	Log         *zap.Logger
	Metrics     *Metrics // optional
	MaxBody     int64    // DefaultMaxBody if zero
	Now         func() time.Time
	// ConnectionARN renders a connection id as an ARN for log lines.
	ConnectionARN func(id string) string
	// Route decides the deliveries of an event of an AVAILABLE connection;
	// they are written in the event's own transaction. Nil: events are
	// recorded unrouted.
	Route func(conn store.Connection, eventID string, at time.Time, ev *providers.Event) []store.Delivery
	// Recorded is called after an event with deliveries is committed (it
	// wakes the delivery engine). Optional.
	Recorded func()
	// RegisteredApps finds the GitHub Apps forgelink registered itself
	// (manifest flow), whose webhook URLs name a non-numeric key.
	// Optional.
	RegisteredApps AppSecrets
}

// Handler serves POST /webhooks/{connection}.
type Handler struct {
	opts  Options
	cache targetCache
}

// New returns a webhook handler.
func New(opts Options) *Handler {
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts}
}

// Outcomes, as counted by the metrics.
const (
	outcomeAccepted          = "accepted"
	outcomeHeld              = "held"
	outcomeDuplicate         = "duplicate"
	outcomeBadSignature      = "bad_signature"
	outcomeUnknownConnection = "unknown_connection"
	outcomeTooLarge          = "too_large"
	outcomeMalformed         = "malformed"
	outcomeError             = "error"
)

// refusal is a request refused with a status; reason goes to the log and,
// being free of secrets and body bytes, to the client too.
type refusal struct {
	status  int
	outcome string
	reason  string
}

func (r *refusal) Error() string { return r.reason }

func refuse(status int, outcome, format string, args ...any) *refusal {
	return &refusal{status: status, outcome: outcome, reason: fmt.Sprintf(format, args...)}
}

// delivery is one request on its way through the handler.
type delivery struct {
	conn       store.Connection
	secrets    [][]byte // valid now; set by connection
	provider   Provider
	deliveryID string
	body       []byte
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	d, outcome, eventID, err := h.receive(r)
	providerLabel, connLabel := "unknown", "unknown"
	if d.conn.ID != "" {
		providerLabel, connLabel = d.conn.ProviderType, d.conn.ID
	}
	h.opts.Metrics.observe(providerLabel, connLabel, outcome, h.opts.Now().Sub(start))
	if err != nil {
		h.answerError(w, d, err)
		return
	}
	if outcome == outcomeDuplicate {
		writeJSON(w, http.StatusOK, map[string]string{"status": outcome})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": outcome, "eventId": eventID})
}

// receive runs the checks in order of cost: connection, size, content type,
// signature, then parsing and the durable write.
func (h *Handler) receive(r *http.Request) (d delivery, outcome, eventID string, err error) {
	ctx := r.Context()
	t, err := h.connection(ctx, r.PathValue("connection"))
	if err != nil {
		return d, outcomeOf(err), "", err
	}
	d.conn, d.secrets = t.conn, t.validAt(h.opts.Now())
	d.provider = h.opts.Providers[d.conn.ProviderType]
	d.deliveryID = d.provider.DeliveryID(r.Header)
	if d.body, err = h.readBody(r); err != nil {
		return d, outcomeOf(err), "", err
	}
	if err := d.provider.Verify(r.Header, d.body, d.secrets); err != nil {
		err = refuse(http.StatusUnauthorized, outcomeBadSignature, "%v", err)
		return d, outcomeBadSignature, "", err
	}
	ev, err := d.provider.Parse(r.Header, d.body)
	if err != nil {
		err = refuse(http.StatusBadRequest, outcomeMalformed, "%v", err)
		return d, outcomeMalformed, "", err
	}
	if d.deliveryID == "" {
		err = refuse(http.StatusBadRequest, outcomeMalformed, "no delivery id header: cannot de-duplicate")
		return d, outcomeMalformed, "", err
	}
	return h.record(ctx, d, r.Header, ev)
}

func outcomeOf(err error) string {
	var rf *refusal
	if errors.As(err, &rf) {
		return rf.outcome
	}
	return outcomeError
}

// connection returns the live connection id with its opened secrets, from
// the cache when it is fresh.
func (h *Handler) connection(ctx context.Context, id string) (*target, error) {
	now := h.opts.Now()
	if t := h.cache.get(id, now); t != nil {
		return t, nil
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, refuse(http.StatusNotFound, outcomeUnknownConnection, "no such connection")
	}
	conn, err := h.opts.Store.GetConnection(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, refuse(http.StatusNotFound, outcomeUnknownConnection, "no such connection")
	case err != nil:
		return nil, fmt.Errorf("look up connection: %w", err)
	}
	if h.opts.Providers[conn.ProviderType] == nil {
		return nil, fmt.Errorf("no webhook provider for %s", conn.ProviderType)
	}
	t, err := h.load(ctx, conn, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(http.StatusNotFound, outcomeUnknownConnection, "no such connection")
	}
	if err != nil {
		return nil, err
	}
	h.cache.put(t)
	return t, nil
}

// readBody refuses an oversized body without reading it whole, and anything
// but JSON.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > h.opts.MaxBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body of %d bytes exceeds the %d-byte limit", r.ContentLength, h.opts.MaxBody)
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return nil, refuse(http.StatusBadRequest, outcomeMalformed, "content type %q: want application/json (set the webhook's content type to JSON)", r.Header.Get("Content-Type"))
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // one allocation for a body of announced size
	}
	_, err = buf.ReadFrom(http.MaxBytesReader(nil, r.Body, h.opts.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body exceeds the %d-byte limit", h.opts.MaxBody)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, outcomeMalformed, "read body: %v", err)
	}
	// JSON is UTF-8 (RFC 8259); refusing anything else also keeps every
	// stored body representable, byte for byte, in API answers.
	if !utf8.Valid(buf.Bytes()) {
		return nil, refuse(http.StatusBadRequest, outcomeMalformed, "body is not valid UTF-8 JSON")
	}
	return buf.Bytes(), nil
}

// record commits the event; only then is the delivery acknowledged. A
// connection that is not AVAILABLE gets its events recorded and held, and
// the provider still gets a 2xx: GitLab disables hooks that answer 4xx.
func (h *Handler) record(ctx context.Context, d delivery, header http.Header, ev providers.Event) (delivery, string, string, error) {
	ev.Provider = d.conn.ProviderType
	ev.DeliveryID = d.deliveryID
	normalized, err := json.Marshal(ev)
	if err != nil {
		return d, outcomeError, "", fmt.Errorf("encode event: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return d, outcomeError, "", fmt.Errorf("event id: %w", err)
	}
	e := store.Event{
		ID:           id.String(),
		ConnectionID: d.conn.ID,
		Provider:     d.conn.ProviderType,
		DeliveryID:   d.deliveryID,
		Kind:         string(ev.Kind),
		RawKind:      ev.RawKind,
		Repository:   ev.Repository.FullName,
		Held:         d.conn.Status != store.StatusAvailable,
		ReceivedAt:   h.opts.Now().UTC(),
		Headers:      keptHeaders(header),
		Body:         d.body,
		Normalized:   normalized,
	}
	if !e.Held && h.opts.Route != nil {
		e.Deliveries, e.Routed = h.opts.Route(d.conn, e.ID, e.ReceivedAt, &ev), true
	}
	// The write must finish even if the provider hangs up: a half-recorded
	// request is worse than an unanswered one.
	dup, err := h.opts.Store.RecordEvent(context.WithoutCancel(ctx), e)
	switch {
	case err != nil:
		return d, outcomeError, "", fmt.Errorf("record event: %w", err)
	case dup:
		return d, outcomeDuplicate, "", nil
	}
	if len(e.Deliveries) > 0 && h.opts.Recorded != nil {
		h.opts.Recorded()
	}
	if ev.Installation != nil && h.opts.Lifecycle != nil {
		h.opts.Lifecycle.InstallationChanged(ctx, d.conn, *ev.Installation)
	}
	if e.Held {
		return d, outcomeHeld, e.ID, nil
	}
	return d, outcomeAccepted, e.ID, nil
}

func (h *Handler) answerError(w http.ResponseWriter, d delivery, err error) {
	fields := []zap.Field{zap.String("delivery_id", truncate(d.deliveryID, 128))}
	if d.conn.ID != "" {
		fields = append(fields, zap.String("connection_arn", h.opts.ConnectionARN(d.conn.ID)))
	}
	var rf *refusal
	if errors.As(err, &rf) {
		h.opts.Log.Info("webhook refused", append(fields, zap.String("outcome", rf.outcome), zap.String("reason", rf.reason))...)
		writeJSON(w, rf.status, map[string]string{"error": rf.reason})
		return
	}
	h.opts.Log.Error("webhook failed", append(fields, zap.Error(err))...)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error; the delivery was not recorded"})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
