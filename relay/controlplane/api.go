// Package controlplane serves forgelink's connection and host records over
// the AWS CodeConnections wire protocol (AWS JSON 1.0), in both the
// codeconnections and the legacy codestar-connections namespaces, so that the
// AWS SDKs and CLI work against forgelink with an endpoint override.
package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// Store is what the control plane needs from persistence.
type Store interface {
	CreateConnection(ctx context.Context, c store.Connection, tags []store.Tag, maxConnections int) error
	GetConnection(ctx context.Context, id string) (store.Connection, error)
	ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, error)
	DeleteConnection(ctx context.Context, id string) error
	CreateHost(ctx context.Context, h store.Host, tags []store.Tag, maxHosts int) error
	GetHost(ctx context.Context, id string) (store.Host, error)
	ListHosts(ctx context.Context, f store.HostFilter, p store.Page) ([]store.Host, error)
	UpdateHost(ctx context.Context, id string, u store.HostUpdate) (store.Host, error)
	DeleteHost(ctx context.Context, id string) error
	TagResource(ctx context.Context, r store.ResourceRef, tags []store.Tag, maxTags int) error
	UntagResource(ctx context.Context, r store.ResourceRef, keys []string) error
	ListTags(ctx context.Context, r store.ResourceRef) ([]store.Tag, error)
	WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error)
	RotateWebhookSecret(ctx context.Context, connID string, sealed []byte, previousUntil time.Time) error
	GetEvent(ctx context.Context, id string) (store.Event, error)
	ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error)
	ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error)
	GetDelivery(ctx context.Context, id string) (store.Delivery, []store.Attempt, error)
	Redeliver(ctx context.Context, id string) error
	Discard(ctx context.Context, id string) error
	SetConnectionCredential(ctx context.Context, connID string, c store.Credential) error
	CreateRepositoryLink(ctx context.Context, l store.RepositoryLink, tags []store.Tag, maxLinks int) error
	GetRepositoryLink(ctx context.Context, id string) (store.RepositoryLink, error)
	ListRepositoryLinks(ctx context.Context, f store.RepositoryLinkFilter, p store.Page) ([]store.RepositoryLink, error)
	UpdateRepositoryLink(ctx context.Context, id string, u store.RepositoryLinkUpdate) (store.RepositoryLink, error)
	DeleteRepositoryLink(ctx context.Context, id string) error
}

// Pipelines is the daemon's running pipeline configuration.
type Pipelines interface {
	Pipelines() []config.Pipeline
	// Explain says why each pipeline on the event's connection and
	// repository did or did not trigger.
	Explain(connID string, ev *providers.Event) []route.PipelineVerdict
}

// Keyring seals secrets at rest; associated data binds a sealed value to
// its record (see relay/keyring).
type Keyring interface {
	Seal(plaintext, associated []byte) []byte
	Open(sealed, associated []byte) ([]byte, error)
}

// Authenticator verifies a request signed for the given signing name and
// returns the caller's access key id. Errors should be *sigv4.Error.
type Authenticator interface {
	Verify(r *http.Request, body []byte, service string) (string, error)
}

// Options configure an API.
type Options struct {
	Store     Store
	Log       *zap.Logger
	Auth      Authenticator // nil: unauthenticated (loopback-only deployments)
	Metrics   *Metrics      // nil: not measured
	Keyring   Keyring
	Region    string
	AccountID string
	Limits    Limits
	// WebhookBaseURL is the externally reachable base URL of forgelink's
	// listener; a connection's webhook URL is WebhookBaseURL/webhooks/<id>.
	WebhookBaseURL string
	// SecretOverlap is how long a rotated-out webhook secret stays valid.
	SecretOverlap time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// ConnectionChanged is told the id of a connection that was deleted,
	// completed, or whose webhook secret was rotated (the ingress drops its
	// cache entry).
	ConnectionChanged func(id string)
	// Pipelines lists and explains the configured pipelines; nil: none.
	Pipelines Pipelines
	// DeliveriesChanged is told that a delivery became due again
	// (redelivered), so that the delivery engine looks before its next poll.
	DeliveriesChanged func()
	// Authorizer decides what an authenticated access key may do
	// (authorize.go); nil: everything.
	Authorizer Authorizer
	// RepositoryTokens vends GetConnectionToken's short-lived repository
	// tokens (token.go); nil: not offered.
	RepositoryTokens RepositoryTokens
	// Tokens checks the tokens of CompleteConnection (complete.go) against
	// the providers at ProviderURLs (or at their hosts); nil: not offered.
	Tokens       TokenChecker
	ProviderURLs config.Providers
	// Setup starts the browser set-up of connections and hosts
	// (setup.go); nil: not offered.
	Setup Setup
	// Revoker revokes a connection's credentials before it is deleted
	// (setup.go); nil: nothing is revoked.
	Revoker Revoker
	// ConsoleLinks mints CreateConsoleLink's sign-in links (console.go);
	// nil: not offered.
	ConsoleLinks ConsoleLinks
	// Hooks keeps the provider-side webhooks of linked repositories
	// (links.go); nil: none are registered.
	Hooks HookRegistry
}

// Limits are the account quotas the control plane enforces.
type Limits struct {
	Connections int
	Hosts       int
	// AllowHTTPEndpoints lets hosts use plain-HTTP provider endpoints.
	AllowHTTPEndpoints bool
	// RepositoryLinks caps the repository links; 0: no limit.
	RepositoryLinks int
}

// API is the http.Handler for "POST /".
type API struct {
	opts Options
	ops  map[string]operation // the CodeConnections operations
	ext  map[string]operation // forgelink's own, in the forgelink namespace
}

// call is one decoded request on its way to an operation.
type call struct {
	ns   namespace
	body []byte
}

type operation func(ctx context.Context, c call) (any, error)

// maxBody bounds a control-plane request; the largest legal one (200 tags at
// their maximum lengths) is well under it.
const maxBody = 1 << 20

// New returns an API serving the operations of the CodeConnections model
// that forgelink implements.
func New(opts Options) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ConnectionChanged == nil {
		opts.ConnectionChanged = func(string) {}
	}
	if opts.Pipelines == nil {
		opts.Pipelines = noPipelines{}
	}
	if opts.DeliveriesChanged == nil {
		opts.DeliveriesChanged = func() {}
	}
	a := &API{opts: opts}
	a.ops = map[string]operation{
		"CreateConnection":     a.createConnection,
		"GetConnection":        a.getConnection,
		"ListConnections":      a.listConnections,
		"DeleteConnection":     a.deleteConnection,
		"CreateHost":           a.createHost,
		"GetHost":              a.getHost,
		"ListHosts":            a.listHosts,
		"UpdateHost":           a.updateHost,
		"DeleteHost":           a.deleteHost,
		"TagResource":          a.tagResource,
		"UntagResource":        a.untagResource,
		"ListTagsForResource":  a.listTagsForResource,
		"CreateRepositoryLink": a.createRepositoryLink,
		"GetRepositoryLink":    a.getRepositoryLink,
		"ListRepositoryLinks":  a.listRepositoryLinks,
		"UpdateRepositoryLink": a.updateRepositoryLink,
		"DeleteRepositoryLink": a.deleteRepositoryLink,
	}
	addSyncOperations(a.ops)
	a.ext = map[string]operation{
		"GetConnectionWebhook":          a.getConnectionWebhook,
		"RotateConnectionWebhookSecret": a.rotateConnectionWebhookSecret,
		"ListEvents":                    a.listEvents,
		"GetEvent":                      a.getEvent,
		"ExplainEvent":                  a.explainEvent,
		"ListDeliveries":                a.listDeliveries,
		"GetDelivery":                   a.getDelivery,
		"RedeliverDelivery":             a.redeliverDelivery,
		"DiscardDelivery":               a.discardDelivery,
		"ListPipelines":                 a.listPipelines,
		"GetPipeline":                   a.getPipeline,
		"CompleteConnection":            a.completeConnection,
		"StartConnectionSetup":          a.startConnectionSetup,
		"StartHostSetup":                a.startHostSetup,
		"StartGitHubAppSetup":           a.startGitHubAppSetup,
		"ConfigureHostApp":              a.configureHostApp,
		"GetConnectionToken":            a.getConnectionToken,
		"CreateConsoleLink":             a.createConsoleLink,
	}
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-Requestid", requestID)
	opName, out, err := a.serve(r)
	outcome := "success"
	if err != nil {
		outcome = a.writeError(w, opName, requestID, err)
	} else {
		writeJSON(w, http.StatusOK, out)
	}
	a.opts.Metrics.observe(opName, outcome, time.Since(start))
}

// serve resolves the operation, authenticates, authorizes and runs it. The returned
// operation name is "unknown" until the target is recognised, to keep metric
// labels bounded.
func (a *API) serve(r *http.Request) (opName string, out any, err error) {
	opName = "unknown"
	if r.Method != http.MethodPost {
		return opName, nil, newError(codeUnknownOperation, "the control plane accepts only POST, got %s", r.Method)
	}
	ns, name, err := a.resolveTarget(r.Header.Get("X-Amz-Target"))
	if err != nil {
		return opName, nil, err
	}
	opName = name
	body, err := readBody(r)
	if err != nil {
		return opName, nil, err
	}
	ctx, err := a.authenticate(r, name, ns, body)
	if err != nil {
		return opName, nil, err
	}
	out, err = a.operations(ns)[name](ctx, call{ns: ns, body: body})
	return opName, out, err
}

// resolveTarget accepts both spellings clients send: the short
// "CodeConnections_20231201.Op" (Go SDK) and the qualified
// "com.amazonaws.codeconnections.CodeConnections_20231201.Op" (botocore).
func (a *API) resolveTarget(target string) (namespace, string, error) {
	if target == "" {
		return namespace{}, "", newError(codeUnknownOperation, "missing X-Amz-Target header")
	}
	i := strings.LastIndexByte(target, '.')
	if i < 0 {
		return namespace{}, "", newError(codeUnknownOperation, "unrecognized X-Amz-Target %q", target)
	}
	prefix, name := target[:i], target[i+1:]
	for _, ns := range namespaces {
		if prefix != ns.prefix && prefix != qualifiedPrefix(ns) {
			continue
		}
		if _, ok := a.operations(ns)[name]; !ok {
			return namespace{}, "", newError(codeUnknownOperation, "operation %q is not supported by forgelink", name)
		}
		return ns, name, nil
	}
	return namespace{}, "", newError(codeUnknownOperation, "unrecognized X-Amz-Target %q", target)
}

func (a *API) operations(ns namespace) map[string]operation {
	if ns.extension {
		return a.ext
	}
	return a.ops
}

func qualifiedPrefix(ns namespace) string {
	if ns.service == "codestar-connections" {
		return "com.amazonaws.codestar.connections." + ns.prefix
	}
	return "com.amazonaws." + ns.service + "." + ns.prefix
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, validationError("request body exceeds %d bytes", maxBody)
	case err != nil:
		return nil, newError(codeSerialization, "read request body: %v", err)
	}
	return body, nil
}

// decode parses a JSON request body into in. An empty body is an empty input.
func decode(body []byte, in any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return newError(codeSerialization, "field %s: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return newError(codeSerialization, "request body is not valid JSON: %v", err)
	}
	return nil
}

func (a *API) writeError(w http.ResponseWriter, op, requestID string, err error) string {
	e, internal := toWire(err)
	log := a.opts.Log.With(zap.String("operation", op), zap.String("request_id", requestID), zap.String("code", e.code))
	if internal {
		log.Error("control plane request failed", zap.Error(err))
	} else {
		log.Info("control plane request refused", zap.String("reason", e.msg))
	}
	w.Header().Set("X-Amzn-ErrorType", e.code)
	writeJSON(w, e.status, map[string]string{"__type": e.code, "message": truncateMessage(e.msg)})
	return e.code
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every response type is a plain struct; failing here is a bug.
		panic(fmt.Sprintf("controlplane: encode response: %v", err))
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	w.Write(body)
}
