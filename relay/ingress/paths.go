package ingress

import (
	"crypto/subtle"
	"encoding/base64"
)

// Tagger computes keyed tags (relay/keyring.Keyring.Tag).
type Tagger interface {
	Tag(purpose string, data []byte) []byte
}

// tokenPurpose separates the path tokens from every other keyed tag.
const tokenPurpose = "forgelink webhook path token v1"

// tokenBytes: 128 bits cannot be guessed, and keep the URL short.
const tokenBytes = 16

// WebhookToken is the unguessable part of a connection's webhook path:
// HMAC-SHA256 of the connection id under a key derived from the master
// key, truncated to 128 bits, base64url without padding. It needs no
// storage: every replica sharing the master key computes the same one.
func WebhookToken(t Tagger, connID string) string {
	return base64.RawURLEncoding.EncodeToString(t.Tag(tokenPurpose, []byte(connID))[:tokenBytes])
}

// WebhookPath is a connection's webhook path: /webhooks/<id>/<token>. The
// control plane shows it (GetConnectionWebhook) and the hook registry
// registers it at the providers.
func WebhookPath(t Tagger, connID string) string {
	return "/webhooks/" + connID + "/" + WebhookToken(t, connID)
}

// LegacyWebhookPath is the path of connections' hooks before the token
// (/webhooks/<id>): the hook registry recognises hooks registered with it
// and moves them to WebhookPath. The ingress no longer serves it.
func LegacyWebhookPath(connID string) string { return "/webhooks/" + connID }

// validToken compares in constant time, so the answer time tells nothing
// about how much of a guess was right.
func validToken(t Tagger, connID, token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(WebhookToken(t, connID))) == 1
}
