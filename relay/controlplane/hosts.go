package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

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

func (a *API) hostOut(ns namespace, h store.Host) wireHost {
	return wireHost{
		Name:             h.Name,
		HostArn:          formatARN(ns, h.Region, a.opts.AccountID, store.KindHost, h.ID),
		ProviderType:     h.ProviderType,
		ProviderEndpoint: h.ProviderEndpoint,
		VpcConfiguration: toWireVPC(h.VPC),
		Status:           h.Status,
		StatusMessage:    h.StatusMessage,
	}
}

// lookupHost resolves a host ARN. Hosts are regional: a host ARN of another
// region names nothing here.
func (a *API) lookupHost(ctx context.Context, field, arn string) (store.Host, error) {
	r, err := a.parseResourceARN(field, arn, store.KindHost)
	if err != nil {
		return store.Host{}, err
	}
	h, err := a.opts.Store.GetHost(ctx, r.id)
	if err == nil && (h.Region != r.region || h.Region != a.opts.Region) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Host{}, onResource("host "+arn, err)
	}
	return h, nil
}

func (a *API) createHost(ctx context.Context, c call) (any, error) {
	var in struct {
		Name             *string
		ProviderType     *string
		ProviderEndpoint *string
		VpcConfiguration *wireVPC
		Tags             []wireTag
	}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
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
	if err := checkEndpoint("ProviderEndpoint", *in.ProviderEndpoint, a.opts.Limits.AllowHTTPEndpoints); err != nil {
		return nil, err
	}
	vpc, err := checkVPC("VpcConfiguration", in.VpcConfiguration)
	if err != nil {
		return nil, err
	}
	tags, err := checkTags("Tags", in.Tags)
	if err != nil {
		return nil, err
	}
	h := store.Host{
		ID:               hostID(*in.Name),
		Name:             *in.Name,
		ProviderType:     *in.ProviderType,
		ProviderEndpoint: strings.TrimRight(*in.ProviderEndpoint, "/"),
		Region:           a.opts.Region,
		Status:           store.StatusPending,
		VPC:              vpc,
	}
	switch err := a.opts.Store.CreateHost(ctx, h, tags, a.opts.Limits.Hosts); {
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
	}{formatARN(c.ns, h.Region, a.opts.AccountID, store.KindHost, h.ID), in.Tags}, nil
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

func (a *API) hostARNInput(c call) (string, error) {
	var in struct{ HostArn *string }
	if err := decode(c.body, &in); err != nil {
		return "", err
	}
	if err := required("HostArn", in.HostArn); err != nil {
		return "", err
	}
	return *in.HostArn, checkLength("HostArn", *in.HostArn, 0, maxConnectionARN)
}

func (a *API) getHost(ctx context.Context, c call) (any, error) {
	arn, err := a.hostARNInput(c)
	if err != nil {
		return nil, err
	}
	h, err := a.lookupHost(ctx, "HostArn", arn)
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

func (a *API) listHosts(ctx context.Context, c call) (any, error) {
	var in struct {
		MaxResults *int
		NextToken  *string
	}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	hosts, next, err := listPage(in.MaxResults, in.NextToken, "hosts\x00"+a.opts.Region, func(p store.Page) ([]store.Host, error) {
		return a.opts.Store.ListHosts(ctx, store.HostFilter{Region: a.opts.Region}, p)
	}, func(h store.Host) string { return h.ID })
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	out := struct {
		Hosts     []wireHost
		NextToken *string `json:",omitempty"`
	}{Hosts: []wireHost{}, NextToken: next}
	for _, h := range hosts {
		out.Hosts = append(out.Hosts, a.hostOut(c.ns, h))
	}
	return out, nil
}

func (a *API) updateHost(ctx context.Context, c call) (any, error) {
	var in struct {
		HostArn          *string
		ProviderEndpoint *string
		VpcConfiguration *wireVPC
	}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	if err := required("HostArn", in.HostArn); err != nil {
		return nil, err
	}
	var u store.HostUpdate
	if in.ProviderEndpoint != nil {
		if err := checkEndpoint("ProviderEndpoint", *in.ProviderEndpoint, a.opts.Limits.AllowHTTPEndpoints); err != nil {
			return nil, err
		}
		endpoint := strings.TrimRight(*in.ProviderEndpoint, "/")
		u.ProviderEndpoint = &endpoint
	}
	vpc, err := checkVPC("VpcConfiguration", in.VpcConfiguration)
	if err != nil {
		return nil, err
	}
	u.VPC = vpc
	h, err := a.lookupHost(ctx, "HostArn", *in.HostArn)
	if err != nil {
		return nil, err
	}
	if _, err := a.opts.Store.UpdateHost(ctx, h.ID, u); err != nil {
		return nil, onResource("host "+*in.HostArn, err)
	}
	return struct{}{}, nil
}

func (a *API) deleteHost(ctx context.Context, c call) (any, error) {
	arn, err := a.hostARNInput(c)
	if err != nil {
		return nil, err
	}
	h, err := a.lookupHost(ctx, "HostArn", arn)
	if err != nil {
		return nil, err
	}
	if err := a.opts.Store.DeleteHost(ctx, h.ID); err != nil {
		return nil, onResource("host "+arn, err)
	}
	return struct{}{}, nil
}
