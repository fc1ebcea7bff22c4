package controlplane

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// HookRegistry keeps the provider-side webhooks of the repositories
// connections are linked to (relay/hookreg).
type HookRegistry interface {
	// Sync asks for a prompt reconcile of the connection's hooks.
	Sync(connID string)
	// RemoveAll deletes every hook forgelink registered for conn.
	RemoveAll(ctx context.Context, conn store.Connection) error
}

// Repository-link model limits.
const (
	maxOwnerID        = 255
	maxRepositoryName = 128
	maxKMSKeyARN      = 1024
)

// kmsKeyPattern is the model's KmsKeyArn pattern.
var kmsKeyPattern = regexp.MustCompile(`^arn:aws(-[\w]+)*:kms:[a-z\-0-9]+:\d{12}:key/[a-zA-Z0-9\-]+$`)

// pathSegment is one segment of a repository path as the providers allow
// it (GitHub, GitLab and Bitbucket names are narrower still). It keeps
// anything that would change the meaning of a provider API URL out.
var pathSegment = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

type wireLink struct {
	ConnectionArn     string
	EncryptionKeyArn  *string `json:",omitempty"`
	OwnerId           string
	ProviderType      string
	RepositoryLinkArn string
	RepositoryLinkId  string
	RepositoryName    string
}

// linkOut renders a link: its connection's own ARN, and its own in its
// connection's home region.
func (a *API) linkOut(l store.RepositoryLink) struct{ RepositoryLinkInfo wireLink } {
	out := wireLink{
		ConnectionArn:     a.connectionARN(l.ConnectionID),
		OwnerId:           l.OwnerID,
		ProviderType:      l.ProviderType,
		RepositoryLinkArn: a.linkARNOf(l),
		RepositoryLinkId:  l.ID,
		RepositoryName:    l.RepositoryName,
	}
	if l.EncryptionKeyARN != "" {
		out.EncryptionKeyArn = &l.EncryptionKeyARN
	}
	return struct{ RepositoryLinkInfo wireLink }{out}
}

type createLinkIn struct {
	ConnectionArn, OwnerId, RepositoryName, EncryptionKeyArn *string
	Tags                                                     []wireTag
	tags                                                     []store.Tag
	id                                                       string
}

// createLinkAccess: CreateRepositoryLink, PassConnection and UseConnection
// (with the repository's keys) on the connection, as IAM's reference has
// it, and TagResource on the new link when tags are given.
func (a *API) createLinkAccess(ctx context.Context, _ call, in *createLinkIn) ([]policy.Request, error) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"OwnerId", in.OwnerId}, {"RepositoryName", in.RepositoryName}} {
		if err := required(f.name, f.v); err != nil {
			return nil, err
		}
	}
	conn, err := a.resolveARN(ctx, "ConnectionArn", in.ConnectionArn, store.KindConnection)
	if err != nil {
		return nil, err
	}
	if err := checkEncryptionKey(in.EncryptionKeyArn); err != nil {
		return nil, err
	}
	if in.tags, err = checkTags("Tags", in.Tags); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new repository link id: %w", err)
	}
	in.id = id.String()
	owner, name := *in.OwnerId, *in.RepositoryName
	reqs := []policy.Request{
		withRequestTags(on(actionPrefix+"CreateRepositoryLink", conn), in.tags),
		on(actionPassConnection, conn),
		on(actionUseConnection, conn, policy.KeyFullRepositoryID, owner+"/"+name, policy.KeyOwnerID, owner, policy.KeyRepositoryName, name),
	}
	if len(in.tags) > 0 {
		// The new link lives in its connection's home region.
		r, _ := parseARN(conn)
		link := a.arnOf(store.ServiceCodeConnections, r.region, store.KindRepositoryLink, in.id)
		reqs = append(reqs, withRequestTags(on(actionPrefix+"TagResource", link), in.tags))
	}
	return reqs, nil
}

// linkResource is the ARN an operation on the link id is authorised on:
// the link's own, or, for a link that does not exist, one in the
// request's region.
func (a *API) linkResource(ctx context.Context, id string) (string, error) {
	l, err := a.opts.Store.GetRepositoryLink(ctx, id)
	switch {
	case err == nil:
		return a.linkARNOf(l), nil
	case errors.Is(err, store.ErrNotFound):
		return a.arnOf(store.ServiceCodeConnections, a.region(ctx), store.KindRepositoryLink, id), nil
	}
	return "", fmt.Errorf("repository link %s: %w", id, err)
}

// createRepositoryLink accepts a connection in any status: its hook is
// registered once the connection is AVAILABLE. EncryptionKeyArn is kept and
// echoed only; forgelink seals its secrets with its own keyring.
func (a *API) createRepositoryLink(ctx context.Context, _ call, in *createLinkIn) (any, error) {
	conn, err := a.linkConnection(ctx, *in.ConnectionArn)
	if err != nil {
		return nil, err
	}
	if err := a.inHomeRegion(ctx, "connection "+*in.ConnectionArn, conn.Region); err != nil {
		return nil, err
	}
	if err := checkRepository(conn.ProviderType, *in.OwnerId, *in.RepositoryName); err != nil {
		return nil, err
	}
	l := store.RepositoryLink{ID: in.id, ConnectionID: conn.ID, ProviderType: conn.ProviderType,
		OwnerID: *in.OwnerId, RepositoryName: *in.RepositoryName, Region: conn.Region}
	if in.EncryptionKeyArn != nil {
		l.EncryptionKeyARN = *in.EncryptionKeyArn
	}
	err = a.opts.Store.CreateRepositoryLink(ctx, l, in.tags, a.opts.Limits.RepositoryLinks)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, newError(codeAlreadyExists, "repository %s is already linked to connection %s", l.Repository(), *in.ConnectionArn)
	case errors.Is(err, store.ErrLimitExceeded):
		return nil, newError(codeLimitExceeded, "the account already has the maximum of %d repository links", a.opts.Limits.RepositoryLinks)
	case errors.Is(err, store.ErrNotFound):
		return nil, newError(codeInvalidInput, "connection %s does not exist", *in.ConnectionArn)
	case err != nil:
		return nil, fmt.Errorf("create repository link: %w", err)
	}
	a.syncHooks(conn.ID)
	return a.linkOut(l), nil
}

// linkConnection resolves the connection a link is to use. The link
// operations model no ResourceNotFound for it: a connection that does not
// exist is invalid input.
func (a *API) linkConnection(ctx context.Context, arn string) (store.Connection, error) {
	if err := checkLength("ConnectionArn", arn, 0, maxConnectionARN); err != nil {
		return store.Connection{}, err
	}
	conn, err := a.lookupConnection(ctx, "ConnectionArn", arn)
	if errors.Is(err, store.ErrNotFound) {
		return store.Connection{}, newError(codeInvalidInput, "connection %s does not exist", arn)
	}
	return conn, err
}

func checkEncryptionKey(arn *string) error {
	if arn == nil {
		return nil
	}
	if err := checkLength("EncryptionKeyArn", *arn, 1, maxKMSKeyARN); err != nil {
		return err
	}
	if !kmsKeyPattern.MatchString(*arn) {
		return validationError("Value '%s' at 'EncryptionKeyArn' failed to satisfy constraint: Member must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", *arn)
	}
	return nil
}

// checkRepository validates OwnerId and RepositoryName, which together
// make the repository path "owner/name". Only GitLab nests namespaces, so
// only a GitLab OwnerId (the group path) may contain '/'.
func checkRepository(providerType, owner, name string) error {
	if err := checkLength("OwnerId", owner, 1, maxOwnerID); err != nil {
		return err
	}
	if err := checkLength("RepositoryName", name, 1, maxRepositoryName); err != nil {
		return err
	}
	if !validSegment(name) {
		return newError(codeInvalidInput, "RepositoryName %q is not a repository name: letters, digits, '.', '-' and '_' only", name)
	}
	nested := providerType == store.ProviderGitLab || providerType == store.ProviderGitLabSelfManaged
	segments := strings.Split(owner, "/")
	if len(segments) > 1 && !nested {
		return newError(codeInvalidInput, "OwnerId %q: a %s owner is one name; only GitLab group paths contain '/'", owner, providerType)
	}
	for _, s := range segments {
		if !validSegment(s) {
			return newError(codeInvalidInput, "OwnerId %q is not an owner path: names of letters, digits, '.', '-' and '_', separated by '/' for GitLab subgroups", owner)
		}
	}
	return nil
}

func validSegment(s string) bool {
	return pathSegment.MatchString(s) && s != "." && s != ".."
}

// linkIn is the input of the operations on one repository link.
type linkIn struct{ RepositoryLinkId *string }

// onLink is the access of an operation on the link its RepositoryLinkId
// names (as a repository-link ARN).
func (a *API) onLink(action string) func(context.Context, call, *linkIn) ([]policy.Request, error) {
	return func(ctx context.Context, _ call, in *linkIn) ([]policy.Request, error) {
		if err := checkUUID("RepositoryLinkId", in.RepositoryLinkId, "a repository link id"); err != nil {
			return nil, err
		}
		arn, err := a.linkResource(ctx, *in.RepositoryLinkId)
		if err != nil {
			return nil, err
		}
		return []policy.Request{on(action, arn)}, nil
	}
}

// getRepositoryLink answers in every region: a link follows its
// connection, which is global.
func (a *API) getRepositoryLink(ctx context.Context, _ call, in *linkIn) (any, error) {
	l, err := a.opts.Store.GetRepositoryLink(ctx, *in.RepositoryLinkId)
	if err != nil {
		return nil, onResource("repository link "+*in.RepositoryLinkId, err)
	}
	return a.linkOut(l), nil
}

func (a *API) listRepositoryLinks(ctx context.Context, _ call, in *listIn) (any, error) {
	links, next, err := listPage(in.MaxResults, in.NextToken, "repository-links", func(p store.Page) ([]store.RepositoryLink, error) {
		return a.opts.Store.ListRepositoryLinks(ctx, store.RepositoryLinkFilter{}, p)
	}, func(l store.RepositoryLink) string { return l.ID })
	if err != nil {
		return nil, fmt.Errorf("list repository links: %w", err)
	}
	links, err = filterVisible(ctx, a, in.list, links, a.linkARNOf)
	if err != nil {
		return nil, err
	}
	out := struct {
		RepositoryLinks []wireLink
		NextToken       *string `json:",omitempty"`
	}{RepositoryLinks: []wireLink{}, NextToken: next}
	for _, l := range links {
		out.RepositoryLinks = append(out.RepositoryLinks, a.linkOut(l).RepositoryLinkInfo)
	}
	return out, nil
}

type updateLinkIn struct{ RepositoryLinkId, ConnectionArn, EncryptionKeyArn *string }

// updateLinkAccess: the link, and when it moves, the destination
// connection (UpdateRepositoryLink and PassConnection on it).
func (a *API) updateLinkAccess(ctx context.Context, _ call, in *updateLinkIn) ([]policy.Request, error) {
	if err := checkUUID("RepositoryLinkId", in.RepositoryLinkId, "a repository link id"); err != nil {
		return nil, err
	}
	if err := checkEncryptionKey(in.EncryptionKeyArn); err != nil {
		return nil, err
	}
	action := actionPrefix + "UpdateRepositoryLink"
	link, err := a.linkResource(ctx, *in.RepositoryLinkId)
	if err != nil {
		return nil, err
	}
	reqs := []policy.Request{on(action, link)}
	if in.ConnectionArn != nil {
		conn, err := a.resolveARN(ctx, "ConnectionArn", in.ConnectionArn, store.KindConnection)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, on(action, conn), on(actionPassConnection, conn))
	}
	return reqs, nil
}

// updateRepositoryLink may move a link to another connection of the same
// provider type and region, and change its EncryptionKeyArn. A link
// changed since this request read it is not overwritten:
// ConditionalCheckFailedException, the model's error for it here.
func (a *API) updateRepositoryLink(ctx context.Context, _ call, in *updateLinkIn) (any, error) {
	id := *in.RepositoryLinkId
	old, err := a.opts.Store.GetRepositoryLink(ctx, id)
	if err != nil {
		return nil, onResource("repository link "+id, err)
	}
	if err := a.inHomeRegion(ctx, "repository link "+id, old.Region); err != nil {
		return nil, err
	}
	// The update is based on old: a link changed since is not overwritten.
	u := store.RepositoryLinkUpdate{EncryptionKeyARN: in.EncryptionKeyArn, IfUpdatedAt: old.UpdatedAt}
	if in.ConnectionArn != nil {
		conn, err := a.linkConnection(ctx, *in.ConnectionArn)
		if err != nil {
			return nil, err
		}
		if err := checkMove(old, conn, *in.ConnectionArn); err != nil {
			return nil, err
		}
		u.ConnectionID = &conn.ID
	}
	l, err := a.opts.Store.UpdateRepositoryLink(ctx, id, u)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, newError(codeInvalidInput, "connection %s already links repository %s", *in.ConnectionArn, old.Repository())
	case errors.Is(err, store.ErrConflict):
		return nil, newError(codeConditionalCheckFailed, "repository link %s was changed by another request since this one read it; read it again and retry", id)
	case err != nil:
		return nil, onResource("repository link "+id, err)
	}
	a.syncHooks(old.ConnectionID)
	a.syncHooks(l.ConnectionID)
	return a.linkOut(l), nil
}

// checkMove allows a link onto conn only if conn has the link's provider
// type (the model's rule) and region (a link lives in its connection's).
func checkMove(l store.RepositoryLink, conn store.Connection, arn string) error {
	if conn.ProviderType != l.ProviderType {
		return newError(codeInvalidInput, "connection %s is a %s connection; repository link %s needs a %s connection",
			arn, conn.ProviderType, l.ID, l.ProviderType)
	}
	if conn.Region != l.Region {
		return newError(codeInvalidInput, "connection %s is in region %s; repository link %s is in %s", arn, conn.Region, l.ID, l.Region)
	}
	return nil
}

// deleteRepositoryLink removes the link; the reconciler then removes its
// repository's hook unless a pipeline or another link still wants it.
// forgelink has no sync configurations, so none can be in the way. A link
// changed since this request read it (and checked its region) stays:
// ConcurrentModificationException, as the model lists.
func (a *API) deleteRepositoryLink(ctx context.Context, _ call, in *linkIn) (any, error) {
	id := *in.RepositoryLinkId
	l, err := a.opts.Store.GetRepositoryLink(ctx, id)
	if err == nil {
		err = a.inHomeRegion(ctx, "repository link "+id, l.Region)
	}
	if err == nil {
		err = a.opts.Store.DeleteRepositoryLinkIf(ctx, id, l.UpdatedAt)
	}
	if err != nil {
		return nil, onResource("repository link "+id, err)
	}
	a.syncHooks(l.ConnectionID)
	return struct{}{}, nil
}

// releaseConnection runs before a connection is deleted. A connection that
// repository links use is not deleted (like a host with connections):
// the links must go first. The webhooks forgelink registered for it are
// removed as far as the provider lets; a provider that cannot be reached
// or refuses the token does not keep the connection alive.
func (a *API) releaseConnection(ctx context.Context, conn store.Connection, arn string) error {
	links, err := a.opts.Store.ListRepositoryLinks(ctx, store.RepositoryLinkFilter{ConnectionID: conn.ID}, store.Page{Limit: 1})
	if err != nil {
		return fmt.Errorf("links of connection %s: %w", conn.ID, err)
	}
	if len(links) > 0 {
		return newError(codeUnavailable, "connection %s is used by repository links (such as %s); delete them first", arn, links[0].ID)
	}
	if a.opts.Hooks == nil {
		return nil
	}
	if err := a.opts.Hooks.RemoveAll(ctx, conn); err != nil {
		a.opts.Log.Warn("webhooks of a deleted connection may remain at the provider",
			zap.String("connection", arn), zap.Error(err))
	}
	return nil
}

func (a *API) syncHooks(connID string) {
	if a.opts.Hooks != nil {
		a.opts.Hooks.Sync(connID)
	}
}
