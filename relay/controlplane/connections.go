package controlplane

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

type wireConnection struct {
	ConnectionName   string  `json:"ConnectionName"`
	ConnectionArn    string  `json:"ConnectionArn"`
	ProviderType     string  `json:"ProviderType"`
	OwnerAccountID   string  `json:"OwnerAccountId"`
	ConnectionStatus string  `json:"ConnectionStatus"`
	HostArn          *string `json:"HostArn,omitempty"`
	// StatusReason is a forgelink extension: why a connection is in ERROR.
	// SDKs ignore members they do not know.
	StatusReason string `json:"StatusReason,omitempty"`
}

// connectionOut renders a connection as stored, whatever the namespace
// and region of the request: its own ARN, and its host's (hosts names the
// hosts already rendered for this answer).
func (a *API) connectionOut(ctx context.Context, c store.Connection, hosts map[string]string) (wireConnection, error) {
	out := wireConnection{
		ConnectionName:   c.Name,
		ConnectionArn:    a.connectionARNOf(c),
		ProviderType:     c.ProviderType,
		OwnerAccountID:   a.opts.AccountID,
		ConnectionStatus: c.Status,
		StatusReason:     c.StatusReason,
	}
	if c.HostID == "" {
		return out, nil
	}
	arn, ok := hosts[c.HostID]
	if !ok {
		// A host with live connections cannot be deleted.
		h, err := a.opts.Store.GetHost(ctx, c.HostID)
		if err != nil {
			return out, fmt.Errorf("host of connection %s: %w", c.ID, err)
		}
		arn = a.hostARNOf(h)
		hosts[c.HostID] = arn
	}
	out.HostArn = &arn
	return out, nil
}

type createConnectionIn struct {
	ConnectionName *string
	ProviderType   *string
	HostArn        *string
	Tags           []wireTag
	tags           []store.Tag
	conn           store.Connection
}

// createConnectionAccess: CreateConnection on "*" with the provider type
// (the host's, for a connection on a host) and the request's tags. The
// host is resolved only for a caller whose policy allows creating
// connections at all.
func (a *API) createConnectionAccess(ctx context.Context, c call, in *createConnectionIn) ([]policy.Request, error) {
	if err := required("ConnectionName", in.ConnectionName); err != nil {
		return nil, err
	}
	if err := checkLength("ConnectionName", *in.ConnectionName, 1, maxConnName); err != nil {
		return nil, err
	}
	tags, err := checkTags("Tags", in.Tags)
	if err != nil {
		return nil, err
	}
	in.tags = tags
	action := actionPrefix + "CreateConnection"
	if a.authorizing() && !a.opts.Authorizer.MayAllow(callerOf(ctx), action) {
		return nil, deniedError(callerOf(ctx), on(action, "*"), policy.NotAllowed)
	}
	// The caller's region becomes the home region; the ARN keeps the
	// namespace's service prefix for good.
	in.conn = store.Connection{Name: *in.ConnectionName, Region: a.region(ctx), Service: c.ns.service, Status: store.StatusPending}
	if err := a.resolveProvider(ctx, c.ns, &in.conn, in.ProviderType, in.HostArn); err != nil {
		return nil, err
	}
	return []policy.Request{withRequestTags(on(action, "*", policy.KeyProviderType, in.conn.ProviderType), tags)}, nil
}

func (a *API) createConnection(ctx context.Context, _ call, in *createConnectionIn) (any, error) {
	if err := a.insertConnection(ctx, &in.conn, in.tags); err != nil {
		return nil, err
	}
	out := struct {
		ConnectionArn string
		Tags          []wireTag `json:",omitempty"`
	}{ConnectionArn: a.connectionARNOf(in.conn), Tags: in.Tags}
	return out, nil
}

// resolveProvider sets the connection's provider type and host. A HostArn
// implies the host's provider type; self-managed providers need one.
func (a *API) resolveProvider(ctx context.Context, ns namespace, conn *store.Connection, providerType, hostARN *string) error {
	if providerType != nil {
		if err := checkProviderType(ns, "ProviderType", *providerType); err != nil {
			return err
		}
	}
	if hostARN == nil {
		if providerType == nil {
			return validationError("one of ProviderType or HostArn is required")
		}
		if selfManaged(*providerType) {
			return newError(codeInvalidInput, "a %s connection needs the HostArn of an AVAILABLE host", *providerType)
		}
		conn.ProviderType = *providerType
		return nil
	}
	if err := checkLength("HostArn", *hostARN, 0, maxConnectionARN); err != nil {
		return err
	}
	host, err := a.lookupHost(ctx, "HostArn", *hostARN)
	if err != nil {
		return err
	}
	if providerType != nil && *providerType != host.ProviderType {
		return newError(codeInvalidInput, "ProviderType %s does not match the %s provider of host %s", *providerType, host.ProviderType, *hostARN)
	}
	if host.Status != store.StatusAvailable {
		return newError(codeUnavailable, "host %s is %s; set it up before creating connections on it", *hostARN, host.Status)
	}
	conn.ProviderType, conn.HostID = host.ProviderType, host.ID
	return nil
}

// insertConnection stores a connection under a fresh UUID. The store keeps
// the ids of deleted connections, so an id is never reused.
func (a *API) insertConnection(ctx context.Context, conn *store.Connection, tags []store.Tag) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("new connection id: %w", err)
	}
	conn.ID = id.String()
	conn.WebhookSecret = a.opts.Keyring.Seal(newWebhookSecret(), []byte(conn.ID))
	err = a.opts.Store.CreateConnection(ctx, *conn, tags, a.opts.Limits.Connections)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrAlreadyExists):
		return onResource(fmt.Sprintf("connection named %q", conn.Name), store.ErrAlreadyExists)
	case errors.Is(err, store.ErrLimitExceeded):
		return newError(codeLimitExceeded, "the account already has the maximum of %d connections in %s", a.opts.Limits.Connections, conn.Region)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUnavailable):
		// The host was deleted or changed since it was looked up.
		return onResource("host of this connection", err)
	default:
		return fmt.Errorf("create connection: %w", err)
	}
}

// lookupConnection resolves a connection ARN, in either service prefix, to
// its record, from any region: connections are global. An ARN of another
// account, of a region that is not the connection's home, or of another
// resource type names nothing.
func (a *API) lookupConnection(ctx context.Context, field, arn string) (store.Connection, error) {
	r, err := a.parseResourceARN(field, arn, store.KindConnection)
	if err != nil {
		return store.Connection{}, err
	}
	conn, err := a.readConnection(ctx, r.id)
	if err == nil && conn.Region != r.region {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Connection{}, onResource("connection "+arn, err)
	}
	a.rememberARN(conn)
	return conn, nil
}

// readsKey carries the connections a request has read, by id: authorising
// on a connection's own ARN reads it, and the operation then uses the same
// read rather than a second one.
type readsKey struct{}

func withReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, readsKey{}, map[string]store.Connection{})
}

func (a *API) readConnection(ctx context.Context, id string) (store.Connection, error) {
	reads, _ := ctx.Value(readsKey{}).(map[string]store.Connection)
	if c, ok := reads[id]; ok {
		return c, nil
	}
	c, err := a.opts.Store.GetConnection(ctx, id)
	if err == nil && reads != nil {
		reads[id] = c
	}
	return c, err
}

func (a *API) parseResourceARN(field, arn string, kind store.ResourceKind) (resourceARN, error) {
	r, ok := parseARN(arn)
	if !ok {
		return resourceARN{}, validationError("Value '%s' at '%s' failed to satisfy constraint: Member must be a %s ARN such as %s", arn, field, kind, formatARN(namespaces[0], a.opts.Region, a.opts.AccountID, kind, "..."))
	}
	if r.kind != kind {
		return resourceARN{}, validationError("Value '%s' at '%s' failed to satisfy constraint: Member must be a %s ARN, not a %s ARN", arn, field, kind, r.kind)
	}
	if r.account != a.opts.AccountID || r.partition != "aws" {
		return resourceARN{}, onResource(string(kind)+" "+arn, store.ErrNotFound)
	}
	return r, nil
}

// connectionIn is the input of the operations on one connection.
type connectionIn struct{ ConnectionArn *string }

// onConnection is the access of an operation on the connection its
// ConnectionArn names, authorised on the connection's own ARN.
func onConnection[In any](a *API, arn func(*In) *string, actions ...string) func(context.Context, call, *In) ([]policy.Request, error) {
	return func(ctx context.Context, _ call, in *In) ([]policy.Request, error) {
		r, err := a.resolveARN(ctx, "ConnectionArn", arn(in), store.KindConnection)
		if err != nil {
			return nil, err
		}
		reqs := make([]policy.Request, len(actions))
		for i, action := range actions {
			reqs[i] = on(action, r)
		}
		return reqs, nil
	}
}

func connectionArnOf(in *connectionIn) *string { return in.ConnectionArn }

func (a *API) getConnection(ctx context.Context, _ call, in *connectionIn) (any, error) {
	conn, err := a.lookupConnection(ctx, "ConnectionArn", *in.ConnectionArn)
	if err != nil {
		return nil, err
	}
	out, err := a.connectionOut(ctx, conn, map[string]string{})
	if err != nil {
		return nil, err
	}
	return struct{ Connection wireConnection }{out}, nil
}

type listConnectionsIn struct {
	ProviderTypeFilter *string
	HostArnFilter      *string
	MaxResults         *int
	NextToken          *string
	list               policy.Request
}

func (a *API) listConnectionsAccess(_ context.Context, c call, in *listConnectionsIn) ([]policy.Request, error) {
	r := on(actionPrefix+"ListConnections", "*")
	if in.ProviderTypeFilter != nil {
		if err := checkProviderType(c.ns, "ProviderTypeFilter", *in.ProviderTypeFilter); err != nil {
			return nil, err
		}
		r = on(r.Action, "*", policy.KeyProviderTypeFilter, *in.ProviderTypeFilter)
	}
	if in.HostArnFilter != nil {
		if err := checkLength("HostArnFilter", *in.HostArnFilter, 0, maxConnectionARN); err != nil {
			return nil, err
		}
	}
	in.list = r
	return []policy.Request{r}, nil
}

// listConnections lists the connections of every home region: they are
// global.
func (a *API) listConnections(ctx context.Context, _ call, in *listConnectionsIn) (any, error) {
	filter, err := a.connectionFilter(ctx, in.ProviderTypeFilter, in.HostArnFilter)
	if err != nil {
		return nil, err
	}
	scope := "connections\x00" + filter.ProviderType + "\x00" + filter.HostID
	conns, next, err := listPage(in.MaxResults, in.NextToken, scope, func(p store.Page) ([]store.Connection, error) {
		return a.opts.Store.ListConnections(ctx, filter, p)
	}, func(c store.Connection) string { return c.ID })
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	conns, err = filterVisible(ctx, a, in.list, conns, a.connectionARNOf)
	if err != nil {
		return nil, err
	}
	out := struct {
		Connections []wireConnection
		NextToken   *string `json:",omitempty"`
	}{Connections: []wireConnection{}, NextToken: next}
	hosts := map[string]string{}
	for _, conn := range conns {
		w, err := a.connectionOut(ctx, conn, hosts)
		if err != nil {
			return nil, err
		}
		out.Connections = append(out.Connections, w)
	}
	return out, nil
}

func (a *API) connectionFilter(ctx context.Context, providerType, hostARN *string) (store.ConnectionFilter, error) {
	var f store.ConnectionFilter
	if providerType != nil {
		f.ProviderType = *providerType
	}
	if hostARN != nil {
		host, err := a.lookupHost(ctx, "HostArnFilter", *hostARN)
		if err != nil {
			return f, err
		}
		f.HostID = host.ID
	}
	return f, nil
}

func (a *API) deleteConnection(ctx context.Context, _ call, in *connectionIn) (any, error) {
	conn, err := a.lookupConnection(ctx, "ConnectionArn", *in.ConnectionArn)
	if err != nil {
		return nil, err
	}
	if err := a.inHomeRegion(ctx, "connection "+*in.ConnectionArn, conn.Region); err != nil {
		return nil, err
	}
	if err := a.releaseConnection(ctx, conn, *in.ConnectionArn); err != nil {
		return nil, err
	}
	a.revokeCredentials(ctx, conn, *in.ConnectionArn)
	if err := a.opts.Store.DeleteConnection(ctx, conn.ID); err != nil {
		return nil, onResource("connection "+*in.ConnectionArn, err)
	}
	a.opts.ConnectionChanged(conn.ID)
	return struct{}{}, nil
}
