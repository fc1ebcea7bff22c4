// Package github verifies and parses GitHub webhook deliveries, from
// github.com and GitHub Enterprise Server alike: both send the same headers
// and payloads.
package github

import (
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v60/github"

	"github.com/forgelink/forgelink/providers"
)

// Provider is the provider name Parse puts on events. The ingress replaces
// it with "GitHubEnterpriseServer" for GHES connections.
const Provider = "GitHub"

// Webhooks verifies and parses GitHub webhook deliveries. The zero value is
// ready to use.
type Webhooks struct{}

// Verify checks the X-Hub-Signature-256 header, an HMAC-SHA256 of the raw
// body, against each secret; any match succeeds, so secrets can overlap
// during rotation. A delivery signed only with the legacy SHA-1 header is
// refused.
func (Webhooks) Verify(h http.Header, body []byte, secrets [][]byte) error {
	header := h.Get(gh.SHA256SignatureHeader)
	if header == "" {
		if h.Get(gh.SHA1SignatureHeader) != "" {
			return fmt.Errorf("%w: only %s present; SHA-1 signatures are not accepted",
				providers.ErrMissingSignature, gh.SHA1SignatureHeader)
		}
	}
	return providers.VerifySHA256(gh.SHA256SignatureHeader, header, body, secrets)
}

// DeliveryID returns the X-GitHub-Delivery GUID, "" when absent. GitHub
// documents it as unique per event, not per delivery: redeliveries keep it,
// and every webhook subscribed to the same event receives the same GUID, so
// it identifies a delivery only together with the receiving connection.
func (Webhooks) DeliveryID(h http.Header) string {
	return h.Get(gh.DeliveryIDHeader)
}
