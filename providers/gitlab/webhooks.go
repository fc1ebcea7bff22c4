// Package gitlab verifies and parses GitLab webhook deliveries (gitlab.com
// and self-managed) into providers.Event.
package gitlab

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/forgelink/forgelink/providers"
)

// Delivery headers.
const (
	headerEvent = "X-Gitlab-Event"
	headerToken = "X-Gitlab-Token"
	// headerIdempotencyKey is generated for each hook execution and kept
	// when GitLab retries it or a user presses "Resend request" (GitLab MR
	// 160952; the webhooks docs: "the same data and the same
	// Idempotency-Key header"), so it is the id to deduplicate on.
	headerIdempotencyKey = "Idempotency-Key"
	// headerEventUUID is the fallback for instances that predate
	// Idempotency-Key. It is GitLab's recursion-detection id of the request
	// that fired the hook, so a resend, fired by another request, carries a
	// new one and may be recorded twice.
	headerEventUUID = "X-Gitlab-Event-UUID"
)

// Webhooks verifies and parses GitLab webhook deliveries. The zero value is
// ready to use.
type Webhooks struct {
	// Now is the clock signature timestamps are checked against; time.Now
	// when nil.
	Now func() time.Time
}

// Verify checks a delivery's webhook-signature (GitLab's signing token,
// see signing.go) when it carries one: then the signature alone decides,
// so a forged body with a leaked secret token is refused. Otherwise it
// checks the X-Gitlab-Token header against each secret, which hooks
// created by hand and GitLab versions without signing tokens send. GitLab
// sends that token itself, not a signature, so it says nothing about the
// body: a cut body passes Verify and fails Parse.
func (w Webhooks) Verify(h http.Header, body []byte, secrets [][]byte) error {
	if sig := h.Get(headerWebhookSignature); sig != "" {
		return w.verifySignature(h, sig, body, secrets)
	}
	token := h.Get(headerToken)
	if token == "" {
		return fmt.Errorf("gitlab token: %w", providers.ErrMissingSignature)
	}
	// Comparing digests keeps the time spent independent of where, and of
	// whether in length, the token differs from a secret.
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, secret := range secrets {
		want := sha256.Sum256(secret)
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match == 0 {
		return fmt.Errorf("gitlab token: %w", providers.ErrBadSignature)
	}
	return nil
}

// DeliveryID returns the Idempotency-Key header, or X-Gitlab-Event-UUID on
// instances too old to send it, or "" when both are absent.
func (Webhooks) DeliveryID(h http.Header) string {
	if id := h.Get(headerIdempotencyKey); id != "" {
		return id
	}
	return h.Get(headerEventUUID)
}
