package controlplane

import (
	"regexp"
	"strings"

	"github.com/forgelink/forgelink/store"
)

// namespace is one of the two API namespaces forgelink serves. Both reach
// the same records; ARNs are minted in the namespace of the request.
type namespace struct {
	service string // ARN service and SigV4 signing name
	prefix  string // X-Amz-Target prefix (short form)
	// allowAzure: only the 2023 model lists AzureDevOps.
	allowAzure bool
	// extension marks forgelink's own namespace: operations beyond the
	// CodeConnections model (webhooks, events, deliveries, pipelines), on
	// the same protocol and signed with the signing name "forgelink". ARNs
	// it returns use the codeconnections form.
	extension bool
}

var namespaces = []namespace{
	{service: "codeconnections", prefix: "CodeConnections_20231201", allowAzure: true},
	{service: "codestar-connections", prefix: "CodeStar_connections_20191201"},
	{service: "forgelink", prefix: "Forgelink_20261125", extension: true},
}

// resourceARN is a parsed ARN naming a forgelink resource.
type resourceARN struct {
	partition string
	service   string
	region    string
	account   string
	kind      store.ResourceKind
	id        string
}

// arnPattern is the model's AmazonResourceName pattern, with the parts
// forgelink needs captured.
var arnPattern = regexp.MustCompile(`^arn:(aws(?:-[\w]+)*):([^:]+):([^:]+):([0-9]{12}):(.+)$`)

// parseARN parses any resource ARN. It checks syntax only: whether the
// resource exists, and is in this account, is the caller's question.
func parseARN(s string) (resourceARN, bool) {
	m := arnPattern.FindStringSubmatch(s)
	if m == nil {
		return resourceARN{}, false
	}
	a := resourceARN{partition: m[1], service: m[2], region: m[3], account: m[4]}
	if a.service != "codeconnections" && a.service != "codestar-connections" {
		return resourceARN{}, false
	}
	kind, id, ok := strings.Cut(m[5], "/")
	if !ok || id == "" {
		return resourceARN{}, false
	}
	a.kind, a.id = store.ResourceKind(kind), id
	return a, true
}

func formatARN(ns namespace, region, account string, kind store.ResourceKind, id string) string {
	service := ns.service
	if ns.extension {
		service = namespaces[0].service
	}
	return "arn:aws:" + service + ":" + region + ":" + account + ":" + string(kind) + "/" + id
}
