package controlplane

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/store"
)

// Model limits.
const (
	maxTags          = 200
	maxTagKey        = 128
	maxTagValue      = 256
	maxConnName      = 32
	maxHostName      = 64
	maxEndpoint      = 512
	maxResultsLimit  = 100
	maxNextToken     = 1024
	maxConnectionARN = 256
	maxResourceARN   = 1011
)

// providerTypes lists the ProviderType enum values forgelink accepts.
var providerTypes = []string{
	store.ProviderBitbucket,
	store.ProviderGitHub,
	store.ProviderGitHubEnterpriseServer,
	store.ProviderGitLab,
	store.ProviderGitLabSelfManaged,
}

// azureDevOps is in the 2023 model's enum but has no forgelink provider.
const azureDevOps = "AzureDevOps"

func required(field string, v *string) error {
	if v == nil {
		return validationError("Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	return nil
}

// checkUUID validates a required id member; what names it in the message.
func checkUUID(field string, v *string, what string) error {
	if err := required(field, v); err != nil {
		return err
	}
	if _, err := uuid.Parse(*v); err != nil {
		return validationError("Value '%s' at '%s' failed to satisfy constraint: Member must be %s (a UUID)", *v, field, what)
	}
	return nil
}

func checkLength(field, v string, min, max int) error {
	if n := utf8.RuneCountInString(v); n < min || n > max {
		return validationError("Value at '%s' failed to satisfy constraint: Member must have length between %d and %d, got %d", field, min, max, n)
	}
	return nil
}

// checkProviderType validates a ProviderType value against the namespace's enum.
func checkProviderType(ns namespace, field, v string) error {
	for _, p := range providerTypes {
		if v == p {
			return nil
		}
	}
	if v == azureDevOps && ns.allowAzure {
		return newError(codeUnsupportedProvider, "provider type %s is not supported by forgelink", v)
	}
	allowed := strings.Join(providerTypes, ", ")
	if ns.allowAzure {
		allowed += ", " + azureDevOps
	}
	return validationError("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, field, allowed)
}

func selfManaged(providerType string) bool {
	return providerType == store.ProviderGitHubEnterpriseServer || providerType == store.ProviderGitLabSelfManaged
}

type wireTag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

// checkTags validates a TagList and returns it as store tags.
func checkTags(field string, tags []wireTag) ([]store.Tag, error) {
	if len(tags) > maxTags {
		return nil, validationError("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d, got %d", field, maxTags, len(tags))
	}
	out := make([]store.Tag, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		elem := fmt.Sprintf("%s.%d", field, i+1)
		if err := required(elem+".Key", t.Key); err != nil {
			return nil, err
		}
		if err := required(elem+".Value", t.Value); err != nil {
			return nil, err
		}
		if err := checkTagKey(elem+".Key", *t.Key); err != nil {
			return nil, err
		}
		if err := checkLength(elem+".Value", *t.Value, 0, maxTagValue); err != nil {
			return nil, err
		}
		if seen[*t.Key] {
			return nil, validationError("duplicate tag key %q in '%s'", *t.Key, field)
		}
		seen[*t.Key] = true
		out = append(out, store.Tag{Key: *t.Key, Value: *t.Value})
	}
	return out, nil
}

func checkTagKey(field, key string) error {
	if err := checkLength(field, key, 1, maxTagKey); err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(key), "aws:") {
		return validationError("Value '%s' at '%s' failed to satisfy constraint: the aws: prefix is reserved", key, field)
	}
	return nil
}

func toWireTags(tags []store.Tag) []wireTag {
	out := make([]wireTag, len(tags))
	for i := range tags {
		out[i] = wireTag{Key: &tags[i].Key, Value: &tags[i].Value}
	}
	return out
}

// checkEndpoint validates a host's ProviderEndpoint under the API's limits.
func (a *API) checkEndpoint(field, v string) error {
	if err := checkEndpoint(field, v, a.opts.Limits.AllowHTTPEndpoints); err != nil {
		return err
	}
	u, _ := url.Parse(v)
	return checkEndpointHost(u.Hostname(), a.opts.Limits.AllowPrivateEndpoints)
}

// checkEndpointHost refuses endpoints that would point forgelink's
// requests (which carry provider credentials) at the daemon's own machine
// or its cloud metadata service: loopback, link-local (169.254.169.254),
// unspecified and multicast addresses and localhost; private ranges unless
// allowed. A numeric last label is refused too: no DNS name ends in one,
// and a resolver may read "2130706433" or "0x7f.1" as an address.
// Names are checked as written here; what they resolve to is checked
// when the daemon connects (relay/egress).
func checkEndpointHost(host string, allowPrivate bool) error {
	refuse := func(why string) error {
		return newError(codeInvalidInput, "provider endpoint host %s refused: %s", host, why)
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return refuse("it is this machine")
	}
	addr, err := netip.ParseAddr(name)
	if err != nil {
		last := name[strings.LastIndexByte(name, '.')+1:]
		if last != "" && strings.Trim(last, "0123456789abcdefx") == "" && strings.ContainsAny(last[:1], "0123456789") {
			return refuse("a numeric name is not a DNS name; give the address or a name")
		}
		return nil
	}
	// The ranges are egress's, which refuses the same addresses again
	// when a name resolves to them.
	switch egress.Classify(addr) {
	case egress.Local:
		return refuse("it is this machine")
	case egress.LinkLocal:
		return refuse("link-local and multicast addresses (such as the cloud metadata service) are never provider endpoints")
	case egress.Private:
		if !allowPrivate {
			return refuse("a private address; set allowPrivateProviderEndpoints in the forgelink config to allow it")
		}
	}
	return nil
}

// checkEndpoint validates a host's ProviderEndpoint: an absolute https URL,
// or http when the operator allowed it.
func checkEndpoint(field, v string, allowHTTP bool) error {
	if err := checkLength(field, v, 1, maxEndpoint); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return validationError("Value '%s' at '%s' failed to satisfy constraint: Member must be an absolute URL such as https://git.example.com", v, field)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return newError(codeInvalidInput, "plain-HTTP provider endpoint %s refused: use https, or set allowHTTPProviderEndpoints in the forgelink config", v)
	default:
		return validationError("Value '%s' at '%s' failed to satisfy constraint: Member must use the https scheme", v, field)
	}
	return nil
}

var (
	vpcIDPattern         = regexp.MustCompile(`^vpc-\w{8}(\w{9})?$`)
	subnetIDPattern      = regexp.MustCompile(`^subnet-\w{8}(\w{9})?$`)
	securityGroupPattern = regexp.MustCompile(`^sg-\w{8}(\w{9})?$`)
)

type wireVPC struct {
	VpcID            *string  `json:"VpcId"`
	SubnetIDs        []string `json:"SubnetIds"`
	SecurityGroupIDs []string `json:"SecurityGroupIds"`
	TLSCertificate   *string  `json:"TlsCertificate,omitempty"`
}

// checkVPC validates a VpcConfiguration. forgelink keeps it only so that
// clients get back what they sent; it provisions no VPC resources.
func checkVPC(field string, v *wireVPC) (*store.VPCConfiguration, error) {
	if v == nil {
		return nil, nil
	}
	if err := required(field+".VpcId", v.VpcID); err != nil {
		return nil, err
	}
	if !vpcIDPattern.MatchString(*v.VpcID) {
		return nil, validationError("Value '%s' at '%s.VpcId' failed to satisfy constraint: Member must match vpc-xxxxxxxx", *v.VpcID, field)
	}
	if err := checkIDList(field+".SubnetIds", v.SubnetIDs, subnetIDPattern); err != nil {
		return nil, err
	}
	if err := checkIDList(field+".SecurityGroupIds", v.SecurityGroupIDs, securityGroupPattern); err != nil {
		return nil, err
	}
	out := &store.VPCConfiguration{VPCID: *v.VpcID, SubnetIDs: v.SubnetIDs, SecurityGroupIDs: v.SecurityGroupIDs}
	if v.TLSCertificate != nil {
		if err := checkLength(field+".TlsCertificate", *v.TLSCertificate, 1, 16384); err != nil {
			return nil, err
		}
		// Refused now rather than at the host's first provider call.
		if _, err := egress.ParseCertificates([]byte(*v.TLSCertificate)); err != nil {
			return nil, validationError("Value at '%s.TlsCertificate' failed to satisfy constraint: Member must hold PEM certificates (%v)", field, err)
		}
		out.TLSCertificate = *v.TLSCertificate
	}
	return out, nil
}

func checkIDList(field string, ids []string, pattern *regexp.Regexp) error {
	if len(ids) < 1 || len(ids) > 10 {
		return validationError("Value at '%s' failed to satisfy constraint: Member must have between 1 and 10 items", field)
	}
	for _, id := range ids {
		if !pattern.MatchString(id) {
			return validationError("Value '%s' at '%s' failed to satisfy constraint: Member must match %s", id, field, pattern)
		}
	}
	return nil
}

func toWireVPC(v *store.VPCConfiguration) *wireVPC {
	if v == nil {
		return nil
	}
	out := &wireVPC{VpcID: &v.VPCID, SubnetIDs: v.SubnetIDs, SecurityGroupIDs: v.SecurityGroupIDs}
	if v.TLSCertificate != "" {
		out.TLSCertificate = &v.TLSCertificate
	}
	return out
}
