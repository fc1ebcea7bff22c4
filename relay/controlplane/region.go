package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/sigv4"
	"github.com/forgelink/forgelink/store"
)

// RegionHeader names the region of an unsigned request. Only a daemon that
// authenticates nobody (loopback only) honours it: there it is what the
// CLI's --region sends, since nothing is signed. A signed request's region
// is its credential scope's, which the signature covers.
const RegionHeader = "X-Forgelink-Region"

// regionKey carries a request's region in its context.
type regionKey struct{}

// regions are the served regions, the default first.
func (a *API) regions() []string {
	if len(a.opts.Regions) == 0 {
		return []string{a.opts.Region}
	}
	return a.opts.Regions
}

// region is the region a request was made in; the default outside one.
func (a *API) region(ctx context.Context) string {
	if r, ok := ctx.Value(regionKey{}).(string); ok {
		return r
	}
	return a.regions()[0]
}

// requestRegion is the region r was made in: its credential scope's when
// signed, else (unauthenticated daemons only) RegionHeader's, else the
// default. A region this deployment does not serve is refused as AWS
// refuses a signature scoped to a region its endpoint does not serve.
func (a *API) requestRegion(r *http.Request) (string, error) {
	if h := r.Header.Get(RegionHeader); h != "" && a.opts.Auth == nil {
		if !slices.Contains(a.regions(), h) {
			return "", newError(codeValidation, "Value '%s' at '%s' failed to satisfy constraint: Member must be a region this deployment serves: %s",
				h, RegionHeader, strings.Join(a.regions(), ", "))
		}
		return h, nil
	}
	region, signed := sigv4.ScopeRegion(r)
	switch {
	case !signed:
		return a.regions()[0], nil
	case !slices.Contains(a.regions(), region):
		return "", &sigv4.Error{Code: sigv4.CodeInvalidSignature, Message: "Credential should be scoped to a valid region."}
	}
	return region, nil
}

// homeRegionError refuses a change to a connection (or a repository link,
// which follows its connection) outside the connection's home region,
// where AWS keeps its data: on the wire InvalidInputException, whose
// message names the region to send the request to.
type homeRegionError struct {
	resource string // e.g. "connection arn:aws:..."
	home     string
	region   string
}

func (e *homeRegionError) Error() string {
	return fmt.Sprintf("%s can be changed only in its home region %s, not in %s: send the request to %s", e.resource, e.home, e.region, e.home)
}

// inHomeRegion refuses the change of resource, whose home region is home,
// unless the request was made there.
func (a *API) inHomeRegion(ctx context.Context, resource, home string) error {
	if r := a.region(ctx); r != home {
		return &homeRegionError{resource: resource, home: home, region: r}
	}
	return nil
}

// arnOf renders an ARN of this account.
func (a *API) arnOf(service, region string, kind store.ResourceKind, id string) string {
	return "arn:aws:" + service + ":" + region + ":" + a.opts.AccountID + ":" + string(kind) + "/" + id
}

// connectionARNOf is the connection's own ARN, as minted at creation,
// whichever namespace reads it.
func (a *API) connectionARNOf(c store.Connection) string { return c.ARN(a.opts.AccountID) }

func (a *API) hostARNOf(h store.Host) string { return h.ARN(a.opts.AccountID) }

// linkARNOf: links store no prefix and are rendered in the codeconnections
// form, in their connection's home region (ARCHITECTURE.md, "Regions").
func (a *API) linkARNOf(l store.RepositoryLink) string {
	return a.arnOf(store.ServiceCodeConnections, l.Region, store.KindRepositoryLink, l.ID)
}

// resource is what an ARN names, as far as tags and regions need it.
type resource struct {
	ref  store.ResourceRef
	own  string // its own ARN, as minted at creation
	home string // its region: a connection's or link's home, a host's own
}

// lookupResource resolves the connection, host or repository link arn
// names, as visible in the request's region.
func (a *API) lookupResource(ctx context.Context, arn string) (resource, error) {
	r, _ := parseARN(arn)
	switch r.kind {
	case store.KindConnection:
		c, err := a.lookupConnection(ctx, "ResourceArn", arn)
		return resource{store.ResourceRef{Kind: r.kind, ID: c.ID}, a.connectionARNOf(c), c.Region}, err
	case store.KindHost:
		h, err := a.lookupHost(ctx, "ResourceArn", arn)
		return resource{store.ResourceRef{Kind: r.kind, ID: h.ID}, a.hostARNOf(h), h.Region}, err
	case store.KindRepositoryLink:
		l, err := a.lookupLink(ctx, "ResourceArn", arn)
		return resource{store.ResourceRef{Kind: r.kind, ID: l.ID}, a.linkARNOf(l), l.Region}, err
	}
	return resource{}, onResource("resource "+arn, store.ErrNotFound)
}

// ownARN is the stored ARN of the resource arn names, which IAM policies
// must name (the service prefix of its creation); arn itself when it names
// nothing visible here, so that a decision on it tells an unauthorised
// caller nothing about whether it exists.
func (a *API) ownARN(ctx context.Context, arn string) (string, error) {
	r, ok := parseARN(arn)
	if !ok || r.account != a.opts.AccountID || r.partition != "aws" {
		return arn, nil
	}
	res, err := a.lookupResource(ctx, arn)
	switch {
	case err == nil:
		return res.own, nil
	case errors.Is(err, store.ErrNotFound):
		return arn, nil
	}
	return "", fmt.Errorf("resolve %s: %w", arn, err)
}

// resolveARN validates a required ARN member of the given kind and returns
// the ARN to authorise: the resource's own (ownARN).
func (a *API) resolveARN(ctx context.Context, field string, v *string, kind store.ResourceKind) (string, error) {
	if _, err := checkARN(field, v, kind, maxConnectionARN); err != nil {
		return "", err
	}
	return a.ownARN(ctx, *v)
}

// arnLookupTimeout bounds storedConnectionARN's one store read.
const arnLookupTimeout = 5 * time.Second

// storedConnectionARN is the own ARN of the connection id, for forgelink's
// records (events, deliveries) that name their connection by id only and
// are rendered without a request context. A connection's region and
// prefix never change, so each is read once and kept (a.arns). A deleted
// connection is named as before issue 11: codeconnections, default region.
func (a *API) storedConnectionARN(id string) string {
	if arn, ok := a.arns.Load(id); ok {
		return arn.(string)
	}
	ctx, cancel := context.WithTimeout(context.Background(), arnLookupTimeout)
	defer cancel()
	c, err := a.opts.Store.GetConnection(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.opts.Log.Warn("read a connection's ARN", zap.String("connection_id", id), zap.Error(err))
		}
		return formatARN(namespaces[0], a.opts.Region, a.opts.AccountID, store.KindConnection, id)
	}
	return a.rememberARN(c)
}

// rememberARN keeps the connection's own ARN for storedConnectionARN.
func (a *API) rememberARN(c store.Connection) string {
	arn := a.connectionARNOf(c)
	a.arns.Store(c.ID, arn)
	return arn
}
