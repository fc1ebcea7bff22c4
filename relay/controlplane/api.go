// Package controlplane serves forgelink's connection and host records over
// the AWS CodeConnections wire protocol (AWS JSON 1.0), in both the
// codeconnections and the legacy codestar-connections namespaces, so that the
// AWS SDKs and CLI work against forgelink with an endpoint override.
package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/policy"
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
	GetConnectionCredential(ctx context.Context, connID string) (store.Credential, error)
	CreateRepositoryLink(ctx context.Context, l store.RepositoryLink, tags []store.Tag, maxLinks int) error
	GetRepositoryLink(ctx context.Context, id string) (store.RepositoryLink, error)
	ListRepositoryLinks(ctx context.Context, f store.RepositoryLinkFilter, p store.Page) ([]store.RepositoryLink, error)
	UpdateRepositoryLink(ctx context.Context, id string, u store.RepositoryLinkUpdate) (store.RepositoryLink, error)
	// DeleteRepositoryLinkIf deletes a link last updated at ifUpdatedAt
	// (store.ErrConflict if it changed since).
	DeleteRepositoryLinkIf(ctx context.Context, id string, ifUpdatedAt time.Time) error
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
	// Tag is a keyed MAC under a key derived for purpose; the webhook
	// URL's path token is one (relay/ingress.WebhookPath).
	Tag(purpose string, data []byte) []byte
}

// Authenticator verifies a request signed for the given signing name and
// returns the caller's access key id. Errors should be *sigv4.Error.
type Authenticator interface {
	Verify(r *http.Request, body []byte, service string) (string, error)
}

// Options configure an API.
type Options struct {
	Store   Store
	Log     *zap.Logger
	Auth    Authenticator // nil: unauthenticated (loopback-only deployments)
	Metrics *Metrics      // nil: not measured
	Keyring Keyring
	// Region is the default region: an unsigned request's.
	Region string
	// Regions are the regions served, Region first (a request's is its
	// SigV4 credential scope's); nil: Region alone.
	Regions   []string
	AccountID string
	Limits    Limits
	// WebhookBaseURL is the externally reachable base URL of forgelink's
	// listener; a connection's webhook URL is WebhookBaseURL followed by
	// relay/ingress.WebhookPath: /webhooks/<id>/<unguessable token>.
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
	// RateLimits throttle callers (ratelimit.go); zero: no limits.
	RateLimits RateLimits
}

// Limits are the account quotas the control plane enforces.
type Limits struct {
	Connections int
	Hosts       int
	// AllowHTTPEndpoints lets hosts use plain-HTTP provider endpoints.
	AllowHTTPEndpoints bool
	// AllowPrivateEndpoints lets hosts use provider endpoints in private
	// address ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7);
	// loopback, link-local, unspecified and multicast are never allowed.
	AllowPrivateEndpoints bool
	// RepositoryLinks caps the repository links; 0: no limit.
	RepositoryLinks int
}

// API is the http.Handler for "POST /".
type API struct {
	opts Options
	ops  map[string]operation // the CodeConnections operations
	ext  map[string]operation // forgelink's own, in the forgelink namespace
	// arns: connection id → its own ARN, which never changes (region.go).
	arns sync.Map
	rate limiter
}

// call is one decoded request on its way to an operation.
type call struct {
	ns   namespace
	body []byte
}

// operation is one operation of the table: decode its input, name what it
// touches, authorise all of it, run (see op).
type operation func(ctx context.Context, c call) (any, error)

// op builds an operation from its input type, access (which validates the
// decoded input, looks up what it must, and returns every action and
// resource it reads or changes, with their condition keys) and run (which
// performs it on the same decoded input). No operation runs without
// having declared its access and all of it being allowed.
func op[In any](a *API, access func(context.Context, call, *In) ([]policy.Request, error), run func(context.Context, call, *In) (any, error)) operation {
	return func(ctx context.Context, c call) (any, error) {
		in := new(In)
		if err := decode(c.body, in); err != nil {
			return nil, err
		}
		reqs, err := access(ctx, c, in)
		if err != nil {
			return nil, err
		}
		if err := a.authorizeAll(ctx, reqs); err != nil {
			return nil, err
		}
		return run(ctx, c, in)
	}
}

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
	a := &API{opts: opts, rate: newLimiter(opts.RateLimits)}
	cc := func(name string) string { return actionPrefix + name }
	fl := func(name string) string { return extPrefix + name }
	a.ops = map[string]operation{
		"CreateConnection":     op(a, a.createConnectionAccess, a.createConnection),
		"GetConnection":        op(a, onConnection(a, connectionArnOf, cc("GetConnection")), a.getConnection),
		"ListConnections":      op(a, a.listConnectionsAccess, a.listConnections),
		"DeleteConnection":     op(a, onConnection(a, connectionArnOf, cc("DeleteConnection")), a.deleteConnection),
		"CreateHost":           op(a, a.createHostAccess, a.createHost),
		"GetHost":              op(a, a.onHost(cc("GetHost"), false), a.getHost),
		"ListHosts":            op(a, listing(cc("ListHosts"), listOf), a.listHosts),
		"UpdateHost":           op(a, a.updateHostAccess, a.updateHost),
		"DeleteHost":           op(a, a.onHost(cc("DeleteHost"), false), a.deleteHost),
		"TagResource":          op(a, a.tagResourceAccess, a.tagResource),
		"UntagResource":        op(a, a.untagResourceAccess, a.untagResource),
		"ListTagsForResource":  op(a, a.listTagsAccess, a.listTagsForResource),
		"CreateRepositoryLink": op(a, a.createLinkAccess, a.createRepositoryLink),
		"GetRepositoryLink":    op(a, a.onLink(cc("GetRepositoryLink")), a.getRepositoryLink),
		"ListRepositoryLinks":  op(a, listing(cc("ListRepositoryLinks"), listOf), a.listRepositoryLinks),
		"UpdateRepositoryLink": op(a, a.updateLinkAccess, a.updateRepositoryLink),
		"DeleteRepositoryLink": op(a, a.onLink(cc("DeleteRepositoryLink")), a.deleteRepositoryLink),
	}
	a.addSyncOperations(a.ops)
	a.ext = map[string]operation{
		"GetConnectionWebhook":          op(a, onConnection(a, webhookArnOf, fl("GetConnectionWebhook")), a.getConnectionWebhook),
		"RotateConnectionWebhookSecret": op(a, a.rotateSecretAccess, a.rotateConnectionWebhookSecret),
		"ListEvents":                    op(a, a.listEventsAccess, a.listEvents),
		"GetEvent":                      op(a, a.onEvent(fl("GetEvent")), a.getEvent),
		"ExplainEvent":                  op(a, a.onEvent(fl("ExplainEvent")), a.explainEvent),
		"ListDeliveries":                op(a, a.listDeliveriesAccess, a.listDeliveries),
		"GetDelivery":                   op(a, a.onDelivery(fl("GetDelivery")), a.getDelivery),
		"RedeliverDelivery":             op(a, a.onDelivery(fl("RedeliverDelivery")), a.redeliverDelivery),
		"DiscardDelivery":               op(a, a.onDelivery(fl("DiscardDelivery")), a.discardDelivery),
		"ListPipelines":                 op(a, listing(fl("ListPipelines"), listPipelinesOf), a.listPipelines),
		"GetPipeline":                   op(a, a.getPipelineAccess, a.getPipeline),
		"CompleteConnection":            op(a, a.completeAccess, a.completeConnection),
		"StartConnectionSetup":          op(a, a.setupConnectionAccess, a.startConnectionSetup),
		"StartHostSetup":                op(a, a.onHost(cc("StartAppRegistrationHandshake"), true), a.startHostSetup),
		"StartGitHubAppSetup":           op(a, onNothing[gitHubAppSetupIn](fl("StartGitHubAppSetup")), a.startGitHubAppSetup),
		"ConfigureHostApp":              op(a, a.configureHostAccess, a.configureHostApp),
		"GetConnectionToken":            op(a, a.connectionTokenAccess, a.getConnectionToken),
		"CreateConsoleLink":             op(a, onNothing[struct{}](fl("CreateConsoleLink")), a.createConsoleLink),
	}
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-Requestid", requestID)
	opName, region, out, err := a.serve(r)
	outcome := "success"
	if err != nil {
		outcome = a.writeError(w, opName, region, requestID, err)
	} else {
		writeJSON(w, http.StatusOK, out)
	}
	a.opts.Metrics.observe(opName, region, outcome, time.Since(start))
}

// serve resolves the operation, authenticates, authorizes and runs it. The
// returned operation name is "unknown" until the target is recognised, and
// the region "none" until the request's is known (a served one), to keep
// metric labels bounded.
func (a *API) serve(r *http.Request) (opName, region string, out any, err error) {
	opName, region = "unknown", "none"
	if err := a.admitSource(r); err != nil {
		return opName, region, nil, err
	}
	known := false // whether the caller is authenticated
	defer func() {
		if err != nil && !known {
			a.chargeSource(r)
		}
	}()
	if r.Method != http.MethodPost {
		return opName, region, nil, newError(codeUnknownOperation, "the control plane accepts only POST, got %s", r.Method)
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return opName, region, nil, err
	}
	ns, name, err := a.resolveTarget(r.Header.Get("X-Amz-Target"))
	if err != nil {
		return opName, region, nil, err
	}
	opName = name
	body, err := readBody(r)
	if err != nil {
		return opName, region, nil, err
	}
	ctx, err := a.authenticate(r, ns, body)
	if err != nil {
		return opName, region, nil, err
	}
	known = true
	if err := a.admitCaller(ctx); err != nil {
		return opName, region, nil, err
	}
	req, err := a.requestRegion(r)
	if err != nil {
		return opName, region, nil, err
	}
	region = req
	out, err = a.operations(ns)[name](withReads(context.WithValue(ctx, regionKey{}, region)), call{ns: ns, body: body})
	return opName, region, out, err
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

// checkContentType admits the AWS JSON content types only. The SDKs and
// the AWS CLI send application/x-amz-json-1.0 for this protocol; a browser
// can send text/plain or form types cross-site without a preflight, so
// those never reach an operation.
func checkContentType(v string) error {
	mt, _, err := mime.ParseMediaType(v)
	if err == nil && (mt == "application/x-amz-json-1.0" || mt == "application/x-amz-json-1.1") {
		return nil
	}
	return &apiError{code: codeUnsupportedMediaType, status: http.StatusUnsupportedMediaType,
		msg: fmt.Sprintf("Content-Type %q is not accepted: send application/x-amz-json-1.0", v)}
}

// decode parses a JSON request body into in. An empty body is an empty
// input. Member names are matched exactly, as the protocol spells them:
// members in does not have (also those differing only in case, which
// encoding/json would otherwise fold into a member) are ignored, as AWS
// JSON servers ignore unknown members, so they influence nothing.
//
// The body is parsed once into a tree to find such members; only when
// there are some, or a member is repeated, does in get the tree
// re-encoded without them. Otherwise it gets the body itself, which holds
// the same members with the same values.
func decode(body []byte, in any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	raw, value, err := parseObject(body)
	if err != nil {
		return err
	}
	if !dropUnknown(raw, reflect.TypeOf(in)) && members(raw) == memberSeparators(value) && json.Unmarshal(value, in) == nil {
		return nil
	}
	// Something was dropped, or a member repeated (the tree keeps its last
	// value, encoding/json would merge objects), or the input does not
	// fit, which decodeTree words as it always has.
	reflect.ValueOf(in).Elem().SetZero()
	return decodeTree(raw, in)
}

// parseObject parses the JSON object at the start of body into a tree,
// and returns the tree and the bytes it was parsed from.
func parseObject(body []byte) (map[string]any, []byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return nil, nil, newError(codeSerialization, "request body is not valid JSON")
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, newError(codeSerialization, "request body is not a JSON object")
	}
	return obj, body[:dec.InputOffset()], nil
}

// decodeTree decodes a parsed tree into in.
func decodeTree(raw map[string]any, in any) error {
	known, err := json.Marshal(raw)
	if err != nil {
		return newError(codeSerialization, "request body is not valid JSON: %v", err)
	}
	if err := json.Unmarshal(known, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return newError(codeSerialization, "field %s: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return newError(codeSerialization, "request body is not valid JSON: %v", err)
	}
	return nil
}

// members counts the object members in a decoded JSON tree.
func members(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n = len(v)
		for _, e := range v {
			n += members(e)
		}
	case []any:
		for _, e := range v {
			n += members(e)
		}
	}
	return n
}

// memberSeparators counts the colons outside strings of valid JSON: one
// per object member, repeated ones included.
func memberSeparators(b []byte) int {
	n, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++ // the escaped character, which may be a quote
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			n++
		}
	}
	return n
}

func (a *API) writeError(w http.ResponseWriter, op, region, requestID string, err error) string {
	e, internal := toWire(err)
	log := a.opts.Log.With(zap.String("operation", op), zap.String("region", region), zap.String("request_id", requestID), zap.String("code", e.code))
	if internal {
		log.Error("control plane request failed", zap.Error(err))
	} else {
		log.Info("control plane request refused", zap.String("reason", e.msg))
	}
	w.Header().Set("X-Amzn-ErrorType", e.code)
	if e.retryAfter > 0 {
		w.Header().Set("X-Amz-Retry-After", strconv.FormatInt(e.retryAfter.Milliseconds()+1, 10))
	}
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

// dropUnknown removes the object members that t (a struct, or a slice or
// pointer of one) has no exactly named field for, recursively, and
// reports whether it removed any.
func dropUnknown(v any, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	dropped := false
	switch t.Kind() {
	case reflect.Struct:
		obj, _ := v.(map[string]any)
		for k, e := range obj {
			ft, ok := memberType(t, k)
			if !ok {
				delete(obj, k)
				dropped = true
				continue
			}
			dropped = dropUnknown(e, ft) || dropped
		}
	case reflect.Slice:
		arr, _ := v.([]any)
		for _, e := range arr {
			dropped = dropUnknown(e, t.Elem()) || dropped
		}
	}
	return dropped
}

// memberType returns the type of the struct's exported field whose JSON
// member name is name.
func memberType(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		member := f.Name
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == "-" {
			continue
		} else if tag != "" {
			member = tag
		}
		if member == name {
			return f.Type, true
		}
	}
	return nil, false
}
