// Package ingress receives provider webhooks: it proves each delivery came
// from the provider for one connection, normalises it and records it durably
// before answering. It is the "receive" stage of forgelink's
// receive → route → notify flow.
package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

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

// Keyring opens sealed secrets and tags webhook paths (relay/keyring).
type Keyring interface {
	Open(sealed, associated []byte) ([]byte, error)
	Tagger
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
	Keyring   Keyring
	Providers map[string]Provider // by connection provider type
	Lifecycle Lifecycle           // optional
	// GitHubApps maps a GitHub App id to its webhook secret; AppProvider
	// verifies and parses the App's deliveries.
	GitHubApps map[int64][]byte
	// GitHubAppRegions: a configured App listed here serves only the
	// connections homed in these regions (a region such as Europe (Milan)
	// has an App of its own); unlisted Apps serve every region.
	GitHubAppRegions map[int64][]string
	AppProvider      AppProvider
	Log              *zap.Logger
	Metrics          *Metrics // optional
	MaxBody          int64    // DefaultMaxBody if zero
	// MaxInFlightBytes bounds the body bytes all requests hold at once
	// (DefaultMaxInFlightBytes if zero); MaxInFlightPerConnection one
	// connection's (or App's) share of it (a quarter if zero, never less
	// than MaxBody). Past either: 503 with Retry-After.
	MaxInFlightBytes         int64
	MaxInFlightPerConnection int64
	// MaxConcurrentPerSource bounds the requests in flight from one remote
	// address (DefaultMaxConcurrentPerSource if zero): 503 past it.
	// Loopback addresses are not limited unless LimitLoopbackSources:
	// behind a local reverse proxy or tunnel every delivery comes from
	// loopback, and the limit would cap all webhook traffic at once (the
	// byte budgets still apply to it).
	MaxConcurrentPerSource int
	LimitLoopbackSources   bool
	// BodyReadTimeout bounds the time from a request's headers to its last
	// body byte (DefaultBodyReadTimeout if zero): 408 past it.
	BodyReadTimeout time.Duration
	Now             func() time.Time
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
	opts    Options
	cache   targetCache
	budget  *budget
	sources sources
	replays replays
}

// New returns a webhook handler.
func New(opts Options) *Handler {
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	defaultLimits(&opts)
	return &Handler{
		opts:    opts,
		budget:  newBudget(opts.MaxInFlightBytes, opts.MaxInFlightPerConnection, opts.Metrics),
		sources: sources{max: opts.MaxConcurrentPerSource, n: map[string]int{}, limitLoopback: opts.LimitLoopbackSources},
	}
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
	outcomeShed              = "shed"
	outcomeTimeout           = "timeout"
	outcomeError             = "error"
)

// unverified stands for the connection in metrics of deliveries whose
// signature was not verified: anyone can name any id, and refusals of
// strangers must not grow the label set.
const unverified = "unverified"

// refusal is a request refused with a status; reason goes to the log and,
// being free of secrets and body bytes, to the client too.
type refusal struct {
	status  int
	outcome string
	reason  string
	shed    string // why the request was shed, if it was
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
	verified   bool // the signature was checked
}

// ServeHTTP serves POST /webhooks/{connection}/{token...}, and answers
// POST /webhooks/{connection} (the form before tokens) as an unknown
// connection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	done, err := h.admit(w, r)
	defer done()
	var (
		d                delivery
		outcome, eventID string
	)
	if err == nil {
		d, outcome, eventID, err = h.receive(w, r)
	} else {
		outcome = outcomeOf(err)
	}
	providerLabel, connLabel := "unknown", unverified
	if d.conn.ID != "" {
		providerLabel = d.conn.ProviderType
	}
	if d.verified {
		connLabel = d.conn.ID
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

// receive runs the checks in order of cost: path token, connection, size,
// content type, body within the budget, signature, then parsing and the
// durable write.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) (d delivery, outcome, eventID string, err error) {
	ctx := r.Context()
	t, err := h.connection(ctx, r.PathValue("connection"), r.PathValue("token"))
	if err != nil {
		return d, outcomeOf(err), "", err
	}
	d.conn, d.secrets = t.conn, t.validAt(h.opts.Now())
	d.provider = h.opts.Providers[d.conn.ProviderType]
	d.deliveryID = d.provider.DeliveryID(r.Header)
	res := &reservation{b: h.budget, key: d.conn.ID}
	defer res.release()
	if d.body, err = h.readBody(w, r, res); err != nil {
		return d, outcomeOf(err), "", err
	}
	if err := d.provider.Verify(r.Header, d.body, d.secrets); err != nil {
		err = refuse(http.StatusUnauthorized, outcomeBadSignature, "%v", err)
		return d, outcomeBadSignature, "", err
	}
	d.verified = true
	if err := h.checkReplay(d, r.Header); err != nil {
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
// the cache when it is fresh. The path's token is checked first, before
// anything is looked up: a wrong or missing one answers exactly as an
// unknown connection does.
func (h *Handler) connection(ctx context.Context, id, token string) (*target, error) {
	if _, err := uuid.Parse(id); err != nil || !validToken(h.opts.Keyring, id, token) {
		return nil, refuse(http.StatusNotFound, outcomeUnknownConnection, "no such connection")
	}
	now := h.opts.Now()
	if t := h.cache.get(id, now); t != nil {
		return t, nil
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
		if rf.shed != "" {
			h.opts.Metrics.shed(rf.shed)
			// The rest of the body is not read: the connection cannot
			// carry another request.
			w.Header().Set("Connection", "close")
		}
		if rf.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfter)
		}
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
