package controlplane

import (
	"context"
	"errors"
	"fmt"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// taggableARN validates a tagging ARN (syntax and kind) and returns the
// ARN to authorise: the resource's own.
func (a *API) taggableARN(ctx context.Context, arn *string) (string, error) {
	if err := required("ResourceArn", arn); err != nil {
		return "", err
	}
	if err := checkLength("ResourceArn", *arn, 1, maxResourceARN); err != nil {
		return "", err
	}
	r, ok := parseARN(*arn)
	if !ok || (r.kind != store.KindConnection && r.kind != store.KindHost && r.kind != store.KindRepositoryLink) {
		return "", validationError("Value '%s' at 'ResourceArn' failed to satisfy constraint: Member must be a connection, host or repository link ARN", *arn)
	}
	return a.ownARN(ctx, *arn)
}

// taggable resolves a tagging ARN to a resource reference, checking that
// the resource exists in this account and is visible in the request's
// region. A change (change) to a connection's or link's tags is a change
// to its data, accepted only in its home region.
func (a *API) taggable(ctx context.Context, arn string, change bool) (store.ResourceRef, error) {
	res, err := a.lookupResource(ctx, arn)
	if err == nil && change {
		err = a.inHomeRegion(ctx, string(res.ref.Kind)+" "+arn, res.home)
	}
	return res.ref, err
}

type tagResourceIn struct {
	ResourceArn *string
	Tags        []wireTag
	tags        []store.Tag
}

func (a *API) tagResourceAccess(ctx context.Context, _ call, in *tagResourceIn) ([]policy.Request, error) {
	if in.Tags == nil {
		return nil, validationError("Value null at 'Tags' failed to satisfy constraint: Member must not be null")
	}
	tags, err := checkTags("Tags", in.Tags)
	if err != nil {
		return nil, err
	}
	in.tags = tags
	arn, err := a.taggableARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return []policy.Request{withRequestTags(on(actionPrefix+"TagResource", arn), tags)}, nil
}

func (a *API) tagResource(ctx context.Context, _ call, in *tagResourceIn) (any, error) {
	ref, err := a.taggable(ctx, *in.ResourceArn, true)
	if err != nil {
		return nil, err
	}
	switch err := a.opts.Store.TagResource(ctx, ref, in.tags, maxTags); {
	case errors.Is(err, store.ErrLimitExceeded):
		return nil, newError(codeLimitExceeded, "resource %s would have more than %d tags", *in.ResourceArn, maxTags)
	case err != nil:
		return nil, onResource("resource "+*in.ResourceArn, err)
	}
	return struct{}{}, nil
}

type untagResourceIn struct {
	ResourceArn *string
	TagKeys     []string
}

func (a *API) untagResourceAccess(ctx context.Context, _ call, in *untagResourceIn) ([]policy.Request, error) {
	if in.TagKeys == nil {
		return nil, validationError("Value null at 'TagKeys' failed to satisfy constraint: Member must not be null")
	}
	if len(in.TagKeys) > maxTags {
		return nil, validationError("Value at 'TagKeys' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags)
	}
	for i, k := range in.TagKeys {
		if err := checkLength(fmt.Sprintf("TagKeys.%d", i+1), k, 1, maxTagKey); err != nil {
			return nil, err
		}
	}
	arn, err := a.taggableARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	r := on(actionPrefix+"UntagResource", arn)
	if len(in.TagKeys) > 0 {
		r.Context = policy.Context{policy.KeyTagKeys: in.TagKeys}
	}
	return []policy.Request{r}, nil
}

func (a *API) untagResource(ctx context.Context, _ call, in *untagResourceIn) (any, error) {
	ref, err := a.taggable(ctx, *in.ResourceArn, true)
	if err != nil {
		return nil, err
	}
	if err := a.opts.Store.UntagResource(ctx, ref, in.TagKeys); err != nil {
		return nil, onResource("resource "+*in.ResourceArn, err)
	}
	return struct{}{}, nil
}

type resourceIn struct{ ResourceArn *string }

func (a *API) listTagsAccess(ctx context.Context, _ call, in *resourceIn) ([]policy.Request, error) {
	arn, err := a.taggableARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return []policy.Request{on(actionPrefix+"ListTagsForResource", arn)}, nil
}

func (a *API) listTagsForResource(ctx context.Context, _ call, in *resourceIn) (any, error) {
	ref, err := a.taggable(ctx, *in.ResourceArn, false)
	if err != nil {
		return nil, err
	}
	tags, err := a.opts.Store.ListTags(ctx, ref)
	if err != nil {
		return nil, onResource("resource "+*in.ResourceArn, err)
	}
	return struct{ Tags []wireTag }{toWireTags(tags)}, nil
}

// lookupLink resolves a repository link ARN. Links follow their
// connection: visible from every region, their ARN in its home region.
func (a *API) lookupLink(ctx context.Context, field, arn string) (store.RepositoryLink, error) {
	r, err := a.parseResourceARN(field, arn, store.KindRepositoryLink)
	if err != nil {
		return store.RepositoryLink{}, err
	}
	l, err := a.opts.Store.GetRepositoryLink(ctx, r.id)
	if err == nil && l.Region != r.region {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.RepositoryLink{}, onResource("repository link "+arn, err)
	}
	return l, nil
}
