package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

type wireHost struct {
	Name             string   `json:"Name"`
	HostArn          string   `json:"HostArn"`
	ProviderType     string   `json:"ProviderType"`
	ProviderEndpoint string   `json:"ProviderEndpoint"`
	VpcConfiguration *wireVPC `json:"VpcConfiguration,omitempty"`
	Status           string   `json:"Status"`
	StatusMessage    string   `json:"StatusMessage,omitempty"`
}

func (a *API) hostOut(h store.Host) wireHost {
	return wireHost{
		Name:             h.Name,
		HostArn:          a.hostARNOf(h),
		ProviderType:     h.ProviderType,
		ProviderEndpoint: h.ProviderEndpoint,
		VpcConfiguration: toWireVPC(h.VPC),
		Status:           h.Status,
		StatusMessage:    h.StatusMessage,
	}
}

// lookupHost resolves a host ARN. Hosts are regional: a host of another
// region than the request's names nothing, as AWS answers for a host that
// does not exist.
func (a *API) lookupHost(ctx context.Context, field, arn string) (store.Host, error) {
	r, err := a.parseResourceARN(field, arn, store.KindHost)
	if err != nil {
		return store.Host{}, err
	}
	h, err := a.opts.Store.GetHost(ctx, r.id)
	if err == nil && (h.Region != r.region || h.Region != a.region(ctx)) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Host{}, onResource("host "+arn, err)
	}
	return h, nil
}

type createHostIn struct {
	Name             *string
	ProviderType     *string
	ProviderEndpoint *string
	VpcConfiguration *wireVPC
	Tags             []wireTag
	host             store.Host
	tags             []store.Tag
}

func (a *API) createHostAccess(ctx context.Context, c call, in *createHostIn) ([]policy.Request, error) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"Name", in.Name}, {"ProviderType", in.ProviderType}, {"ProviderEndpoint", in.ProviderEndpoint}} {
		if err := required(f.name, f.v); err != nil {
			return nil, err
		}
	}
	if err := checkLength("Name", *in.Name, 1, maxHostName); err != nil {
		return nil, err
	}
	if err := checkProviderType(c.ns, "ProviderType", *in.ProviderType); err != nil {
		return nil, err
	}
	if !selfManaged(*in.ProviderType) {
		return nil, newError(codeInvalidInput, "hosts are for installed providers (%s, %s); %s needs no host",
			store.ProviderGitHubEnterpriseServer, store.ProviderGitLabSelfManaged, *in.ProviderType)
	}
	if err := a.checkEndpoint("ProviderEndpoint", *in.ProviderEndpoint); err != nil {
		return nil, err
	}
	vpc, err := checkVPC("VpcConfiguration", in.VpcConfiguration)
	if err != nil {
		return nil, err
	}
	if in.tags, err = checkTags("Tags", in.Tags); err != nil {
		return nil, err
	}
	in.host = store.Host{
		ID:               hostID(*in.Name),
		Name:             *in.Name,
		ProviderType:     *in.ProviderType,
		ProviderEndpoint: strings.TrimRight(*in.ProviderEndpoint, "/"),
		Region:           a.region(ctx),
		Service:          c.ns.service,
		Status:           store.StatusPending,
		VPC:              vpc,
	}
	r := withRequestTags(on(actionPrefix+"CreateHost", "*", policy.KeyProviderType, *in.ProviderType), in.tags)
	return []policy.Request{withVPC(r, vpc)}, nil
}

// withVPC adds codeconnections:VpcId when the request names a VPC.
func withVPC(r policy.Request, vpc *store.VPCConfiguration) policy.Request {
	if vpc == nil {
		return r
	}
	if r.Context == nil {
		r.Context = policy.Context{}
	}
	r.Context[policy.KeyVpcID] = []string{vpc.VPCID}
	return r
}

func (a *API) createHost(ctx context.Context, _ call, in *createHostIn) (any, error) {
	h := in.host
	switch err := a.opts.Store.CreateHost(ctx, h, in.tags, a.opts.Limits.Hosts); {
	case errors.Is(err, store.ErrLimitExceeded):
		return nil, newError(codeLimitExceeded, "the account already has the maximum of %d hosts", a.opts.Limits.Hosts)
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, onResource(fmt.Sprintf("host named %q in %s", h.Name, h.Region), err)
	case err != nil:
		return nil, fmt.Errorf("create host: %w", err)
	}
	return struct {
		HostArn string
		Tags    []wireTag `json:",omitempty"`
	}{a.hostARNOf(h), in.Tags}, nil
}

// hostID builds "<name>-<8 hex>" as AWS does. Host names may hold any
// character; those that do not belong in an ARN segment become '-'.
func hostID(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	return b.String() + "-" + hex.EncodeToString(suffix[:])
}

// hostIn is the input of the operations on one host.
type hostIn struct{ HostArn *string }

// onHost is the access of an operation on the host its HostArn names,
// authorised on the host's own ARN; the set-up actions also carry
// codeconnections:HostArn.
func (a *API) onHost(action string, withKey bool) func(context.Context, call, *hostIn) ([]policy.Request, error) {
	return func(ctx context.Context, _ call, in *hostIn) ([]policy.Request, error) {
		arn, err := a.resolveARN(ctx, "HostArn", in.HostArn, store.KindHost)
		if err != nil {
			return nil, err
		}
		if withKey {
			return []policy.Request{on(action, arn, policy.KeyHostArn, arn)}, nil
		}
		return []policy.Request{on(action, arn)}, nil
	}
}

func (a *API) getHost(ctx context.Context, _ call, in *hostIn) (any, error) {
	h, err := a.lookupHost(ctx, "HostArn", *in.HostArn)
	if err != nil {
		return nil, err
	}
	// GetHost's output has neither HostArn nor StatusMessage in the model.
	return struct {
		Name             string
		Status           string
		ProviderType     string
		ProviderEndpoint string
		VpcConfiguration *wireVPC `json:",omitempty"`
	}{h.Name, h.Status, h.ProviderType, h.ProviderEndpoint, toWireVPC(h.VPC)}, nil
}

// listIn is the input of a paginated listing without filters.
type listIn struct {
	MaxResults *int
	NextToken  *string
	list       policy.Request
}

// listing is the access of a listing: action on "*".
func listing[In any](action string, list func(*In) *policy.Request) func(context.Context, call, *In) ([]policy.Request, error) {
	return func(_ context.Context, _ call, in *In) ([]policy.Request, error) {
		*list(in) = on(action, "*")
		return []policy.Request{*list(in)}, nil
	}
}

func listOf(in *listIn) *policy.Request { return &in.list }

// listHosts lists the hosts of the request's region only: hosts are
// regional.
func (a *API) listHosts(ctx context.Context, _ call, in *listIn) (any, error) {
	region := a.region(ctx)
	hosts, next, err := listPage(in.MaxResults, in.NextToken, "hosts\x00"+region, func(p store.Page) ([]store.Host, error) {
		return a.opts.Store.ListHosts(ctx, store.HostFilter{Region: region}, p)
	}, func(h store.Host) string { return h.ID })
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	hosts, err = filterVisible(ctx, a, in.list, hosts, a.hostARNOf)
	if err != nil {
		return nil, err
	}
	out := struct {
		Hosts     []wireHost
		NextToken *string `json:",omitempty"`
	}{Hosts: []wireHost{}, NextToken: next}
	for _, h := range hosts {
		out.Hosts = append(out.Hosts, a.hostOut(h))
	}
	return out, nil
}

type updateHostIn struct {
	HostArn          *string
	ProviderEndpoint *string
	VpcConfiguration *wireVPC
	update           store.HostUpdate
}

func (a *API) updateHostAccess(ctx context.Context, _ call, in *updateHostIn) ([]policy.Request, error) {
	arn, err := a.resolveARN(ctx, "HostArn", in.HostArn, store.KindHost)
	if err != nil {
		return nil, err
	}
	if in.ProviderEndpoint != nil {
		if err := a.checkEndpoint("ProviderEndpoint", *in.ProviderEndpoint); err != nil {
			return nil, err
		}
		endpoint := strings.TrimRight(*in.ProviderEndpoint, "/")
		in.update.ProviderEndpoint = &endpoint
	}
	if in.update.VPC, err = checkVPC("VpcConfiguration", in.VpcConfiguration); err != nil {
		return nil, err
	}
	return []policy.Request{withVPC(on(actionPrefix+"UpdateHost", arn), in.update.VPC)}, nil
}

func (a *API) updateHost(ctx context.Context, _ call, in *updateHostIn) (any, error) {
	h, err := a.lookupHost(ctx, "HostArn", *in.HostArn)
	if err != nil {
		return nil, err
	}
	if _, err := a.opts.Store.UpdateHost(ctx, h.ID, in.update); err != nil {
		return nil, onResource("host "+*in.HostArn, err)
	}
	return struct{}{}, nil
}

func (a *API) deleteHost(ctx context.Context, _ call, in *hostIn) (any, error) {
	h, err := a.lookupHost(ctx, "HostArn", *in.HostArn)
	if err != nil {
		return nil, err
	}
	if err := a.opts.Store.DeleteHost(ctx, h.ID); err != nil {
		return nil, onResource("host "+*in.HostArn, err)
	}
	return struct{}{}, nil
}
