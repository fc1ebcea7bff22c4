package controlplane

import (
	"context"
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
}

// Every operation, in both CodeConnections namespaces and in forgelink's
// own, is authorized as the action "codeconnections:<Operation>", so one
// policy covers a resource whichever namespace a client calls it through.
const actionPrefix = policy.Service + ":"

// actionUseConnection is IAM's permission-only action for using a
// connection's credential with the provider; GetConnectionToken requires it
// on the connection besides codeconnections:GetConnectionToken itself.
const actionUseConnection = actionPrefix + "UseConnection"

// createsResource lists the operations whose resource has no ARN yet: they
// are authorized on "*".
var createsResource = map[string]bool{"CreateConnection": true, "CreateHost": true}

// authenticate verifies the request's signature, then authorizes the
// operation for the access key that signed it, before anything is decoded
// or changed. The returned context carries the key id (callerOf).
// Deployments without authentication (loopback only) allow everything.
func (a *API) authenticate(r *http.Request, op string, ns namespace, body []byte) (context.Context, error) {
	ctx := r.Context()
	if a.opts.Auth == nil {
		return ctx, nil
	}
	keyID, err := a.opts.Auth.Verify(r, body, ns.service)
	if err != nil {
		return ctx, err
	}
	ctx = policy.WithCaller(ctx, keyID)
	return ctx, a.authorize(ctx, actionPrefix+op, a.requestResource(op, body))
}

// callerOf returns the access key id that signed the request, "" when the
// deployment does not authenticate.
func callerOf(ctx context.Context) string {
	id, _ := policy.CallerOf(ctx)
	return id
}

// authorize checks that the caller may perform action on resource, and
// answers AccessDeniedException otherwise. The message names the key id,
// the action and the resource, as IAM's does; never a secret.
func (a *API) authorize(ctx context.Context, action, resource string) error {
	if a.opts.Auth == nil || a.opts.Authorizer == nil {
		return nil
	}
	id := callerOf(ctx)
	switch a.opts.Authorizer.Authorize(id, policy.Request{Action: action, Resource: resource}) {
	case policy.Allowed:
		return nil
	case policy.Denied:
		return newError(codeAccessDenied, "access key %s is not authorized to perform: %s on resource: %s with an explicit deny in its policy", id, action, resource)
	}
	return newError(codeAccessDenied, "access key %s is not authorized to perform: %s on resource: %s because no statement of its policy allows the %s action", id, action, resource, action)
}

// requestResource returns the resource an operation acts on: the first of
// its ConnectionArn, HostArn, ResourceArn and RepositoryLinkId members, in
// the codeconnections ARN form; "*" for an operation on no single resource
// (listings, creations, events and deliveries by id). The body is decoded
// as the operation will decode it, so the resource authorized is the one
// acted on; a body that does not decode is authorized on "*" (the
// operation then refuses it).
func (a *API) requestResource(op string, body []byte) string {
	if createsResource[op] {
		return "*"
	}
	var in struct {
		ConnectionArn, HostArn, ResourceArn, RepositoryLinkId *string
	}
	if decode(body, &in) != nil {
		return "*"
	}
	for _, arn := range []*string{in.ConnectionArn, in.HostArn, in.ResourceArn} {
		if arn != nil {
			return canonicalARN(*arn)
		}
	}
	if in.RepositoryLinkId != nil {
		return formatARN(namespaces[0], a.opts.Region, a.opts.AccountID, store.KindRepositoryLink, *in.RepositoryLinkId)
	}
	return "*"
}

// canonicalARN renders a resource ARN in the codeconnections form, which
// policies are matched against whichever form the caller sent. A string
// that is no resource ARN stays as it is; only "*" matches it, and the
// operation refuses it.
func canonicalARN(s string) string {
	r, ok := parseARN(s)
	if !ok {
		return s
	}
	return "arn:" + r.partition + ":" + namespaces[0].service + ":" + r.region + ":" + r.account + ":" + string(r.kind) + "/" + r.id
}
