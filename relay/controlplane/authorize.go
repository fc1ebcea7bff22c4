package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// Authorizer decides whether an authenticated access key may perform an
// action on a resource. policy.Authorizer implements it over the root
// credentials and the configured access keys.
type Authorizer interface {
	Authorize(accessKeyID string, r policy.Request) policy.Decision
	MayAllow(accessKeyID, action string) bool
	// UsesKey reports whether the key's policy could read, for the action,
	// a condition key beginning with keyPrefix; when it cannot, the
	// control plane does not gather those keys (resource tags cost a
	// store lookup per resource).
	UsesKey(accessKeyID, action, keyPrefix string) bool
}

// Action prefixes: the CodeConnections operations (both API namespaces)
// are "codeconnections:<Operation>", forgelink's own "forgelink:<Operation>".
const (
	actionPrefix = policy.Service + ":"
	extPrefix    = policy.ForgelinkService + ":"
)

// Permission-only actions of IAM's CodeConnections reference.
const (
	actionUseConnection      = actionPrefix + "UseConnection"
	actionPassConnection     = actionPrefix + "PassConnection"
	actionGetConnectionToken = actionPrefix + "GetConnectionToken"
)

// listActions are the listings: authorised on "*", they answer only the
// records the action is allowed on (filterVisible).
var listActions = map[string]bool{
	actionPrefix + "ListConnections":     true,
	actionPrefix + "ListHosts":           true,
	actionPrefix + "ListRepositoryLinks": true,
	extPrefix + "ListEvents":             true,
	extPrefix + "ListDeliveries":         true,
	extPrefix + "ListPipelines":          true,
}

// anyConnection stands for a connection that does not exist: a record
// (event, delivery, pipeline) whose connection cannot be named is
// authorised as if on every connection of every region (a literal "*"
// region, which only a policy wildcard matches), so only a caller allowed
// on all of them learns that it does not exist.
func (a *API) anyConnection() string {
	return a.arnOf(store.ServiceCodeConnections, "*", store.KindConnection, "*")
}

// authenticate verifies the request's signature. The returned context
// carries the key id (policy.CallerOf). Deployments without
// authentication (loopback only) authenticate nobody.
func (a *API) authenticate(r *http.Request, ns namespace, body []byte) (context.Context, error) {
	ctx := r.Context()
	if a.opts.Auth == nil {
		return ctx, nil
	}
	keyID, err := a.opts.Auth.Verify(r, body, ns.service)
	if err != nil {
		return ctx, err
	}
	return policy.WithCaller(ctx, keyID), nil
}

// callerOf returns the access key id that signed the request, "" when the
// deployment does not authenticate.
func callerOf(ctx context.Context) string {
	id, _ := policy.CallerOf(ctx)
	return id
}

// authorizing reports whether requests are authorised at all: a daemon
// without authentication (loopback) or without an Authorizer allows all.
func (a *API) authorizing() bool {
	return a.opts.Auth != nil && a.opts.Authorizer != nil
}

// authorizeAll checks every request an operation declared; all must be
// allowed. A listing on "*" passes unless explicitly denied or allowed on
// nothing at all: its records are filtered one by one.
func (a *API) authorizeAll(ctx context.Context, reqs []policy.Request) error {
	if !a.authorizing() {
		return nil
	}
	id := callerOf(ctx)
	tags := tagCache{}
	for _, r := range reqs {
		if r.Resource == "*" && listActions[r.Action] {
			if err := a.authorizeListing(id, r); err != nil {
				return err
			}
			continue
		}
		r, err := a.withResourceTags(ctx, id, r, tags)
		if err != nil {
			return err
		}
		if d := a.opts.Authorizer.Authorize(id, r); d != policy.Allowed {
			return deniedError(id, r, d)
		}
	}
	return nil
}

func (a *API) authorizeListing(id string, r policy.Request) error {
	switch d := a.opts.Authorizer.Authorize(id, r); {
	case d == policy.Denied:
		return deniedError(id, r, d)
	case d == policy.NotAllowed && !a.opts.Authorizer.MayAllow(id, r.Action):
		return deniedError(id, r, d)
	}
	return nil
}

// visible reports whether the listing list may show the record at arn:
// the list action, with the listing's condition keys, on the record with
// its tags.
func (a *API) visible(ctx context.Context, list policy.Request, arn string, tags tagCache) (bool, error) {
	if !a.authorizing() {
		return true, nil
	}
	id := callerOf(ctx)
	r, err := a.withResourceTags(ctx, id, policy.Request{Action: list.Action, Resource: arn, Context: list.Context}, tags)
	if err != nil {
		return false, err
	}
	return a.opts.Authorizer.Authorize(id, r) == policy.Allowed, nil
}

// filterVisible keeps the records of a listing page the caller may see.
func filterVisible[T any](ctx context.Context, a *API, list policy.Request, records []T, arn func(T) string) ([]T, error) {
	if !a.authorizing() {
		return records, nil
	}
	tags := tagCache{}
	out := records[:0:0]
	for _, rec := range records {
		ok, err := a.visible(ctx, list, arn(rec), tags)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

// tagCache holds the tags loaded for one request, by ARN.
type tagCache map[string][]store.Tag

// withResourceTags adds aws:ResourceTag/<key> for the stored tags of the
// resource a request names, when the policy of the caller id can read
// them for the action: otherwise they could change no decision, and the
// root key and most policies would pay a lookup and a ListTags per
// resource for nothing. A resource that does not exist has none: its
// absence changes the decision only as absent tags would, so a caller not
// allowed on the ARN learns nothing about whether it exists.
func (a *API) withResourceTags(ctx context.Context, id string, r policy.Request, cache tagCache) (policy.Request, error) {
	if r.Resource == "*" || !a.opts.Authorizer.UsesKey(id, r.Action, policy.KeyResourceTagPrefix) {
		return r, nil
	}
	tags, ok := cache[r.Resource]
	if !ok {
		var err error
		if tags, err = a.resourceTags(ctx, r.Resource); err != nil {
			return r, err
		}
		cache[r.Resource] = tags
	}
	if len(tags) == 0 {
		return r, nil
	}
	c := make(policy.Context, len(r.Context)+len(tags))
	for k, v := range r.Context {
		c[k] = v
	}
	for _, t := range tags {
		c[policy.KeyResourceTagPrefix+t.Key] = []string{t.Value}
	}
	r.Context = c
	return r, nil
}

// resourceTags loads the tags of the resource at arn; none for a resource
// that does not exist here.
func (a *API) resourceTags(ctx context.Context, arn string) ([]store.Tag, error) {
	r, ok := parseARN(arn)
	if !ok || r.account != a.opts.AccountID || r.partition != "aws" {
		return nil, nil
	}
	res, err := a.lookupResource(ctx, arn)
	if err == nil {
		var tags []store.Tag
		tags, err = a.opts.Store.ListTags(ctx, res.ref)
		if err == nil {
			return tags, nil
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return nil, fmt.Errorf("tags of %s: %w", arn, err)
}

// deniedError is AccessDeniedException naming the key id, the action and
// the resource, as IAM's message does; never a secret.
func deniedError(id string, r policy.Request, d policy.Decision) error {
	if d == policy.Denied {
		return newError(codeAccessDenied, "access key %s is not authorized to perform: %s on resource: %s with an explicit deny in its policy", id, r.Action, r.Resource)
	}
	return newError(codeAccessDenied, "access key %s is not authorized to perform: %s on resource: %s because no statement of its policy allows the %s action", id, r.Action, r.Resource, r.Action)
}

// canonicalARN renders a resource ARN in the codeconnections form, which
// policies are matched against whichever form the caller sent. A string
// that is no resource ARN stays as it is.
func canonicalARN(s string) string {
	r, ok := parseARN(s)
	if !ok {
		return s
	}
	return "arn:" + r.partition + ":" + namespaces[0].service + ":" + r.region + ":" + r.account + ":" + string(r.kind) + "/" + r.id
}

// checkARN validates a required ARN member of the given kind (syntax and
// kind only: whether it names a record is looked up after authorisation)
// and returns it in the codeconnections form.
func checkARN(field string, v *string, kind store.ResourceKind, max int) (string, error) {
	if err := required(field, v); err != nil {
		return "", err
	}
	if err := checkLength(field, *v, 1, max); err != nil {
		return "", err
	}
	r, ok := parseARN(*v)
	if !ok || r.kind != kind {
		return "", validationError("Value '%s' at '%s' failed to satisfy constraint: Member must be a %s ARN", *v, field, kind)
	}
	return canonicalARN(*v), nil
}

// on is one request: action on resource with condition keys given as
// key, value pairs.
func on(action, resource string, kv ...string) policy.Request {
	r := policy.Request{Action: action, Resource: resource}
	for i := 0; i+1 < len(kv); i += 2 {
		if r.Context == nil {
			r.Context = policy.Context{}
		}
		r.Context[kv[i]] = append(r.Context[kv[i]], kv[i+1])
	}
	return r
}

// withRequestTags adds aws:RequestTag/<key> and aws:TagKeys for the tags a
// request sets.
func withRequestTags(r policy.Request, tags []store.Tag) policy.Request {
	if len(tags) == 0 {
		return r
	}
	if r.Context == nil {
		r.Context = policy.Context{}
	}
	for _, t := range tags {
		r.Context[policy.KeyRequestTagPrefix+t.Key] = []string{t.Value}
		r.Context[policy.KeyTagKeys] = append(r.Context[policy.KeyTagKeys], t.Key)
	}
	return r
}
