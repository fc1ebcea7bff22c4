package gitlab

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/forgelink/forgelink/providers"
)

// GitLab's signing token (webhooks API signing_token, behind the
// webhook_signing_token feature flag) follows the Standard Webhooks
// specification: GitLab sends webhook-id (the Idempotency-Key),
// webhook-timestamp (Unix seconds) and webhook-signature, "v1,<base64
// HMAC-SHA256 of id.timestamp.body>", keyed with the token's 32 bytes; the
// token is "whsec_" and their base64. The API accepts it on create and
// update and never shows it back.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
	signingTokenPrefix     = "whsec_"
	// SignatureTolerance is how far a signature's timestamp may be from
	// the receiver's clock, either way, as Standard Webhooks advises.
	SignatureTolerance = 5 * time.Minute
	// maxSignatures bounds the space-separated signatures checked, so a
	// long header cannot make one delivery cost many HMACs per secret.
	maxSignatures = 8
)

// signingKeyLabel separates the signing key from other uses of a secret.
const signingKeyLabel = "forgelink gitlab signing token v1"

// SigningToken returns the signing token forgelink registers beside the
// secret token on its hooks: "whsec_" and the base64 of a 32-byte key
// derived from the connection's webhook secret, so it rotates with the
// secret and needs no storage of its own.
func SigningToken(secret []byte) string {
	return signingTokenPrefix + base64.StdEncoding.EncodeToString(signingKey(secret))
}

func signingKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signingKeyLabel))
	return m.Sum(nil)
}

// verifySignature checks a delivery that carries webhook-signature against
// each secret's signing key, in constant time, and its timestamp against
// the clock.
func (w Webhooks) verifySignature(h http.Header, header string, body []byte, secrets [][]byte) error {
	id, ts := h.Get(headerWebhookID), h.Get(headerWebhookTimestamp)
	if id == "" || ts == "" {
		return fmt.Errorf("gitlab signature: %w: webhook-id or webhook-timestamp missing", providers.ErrBadSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("gitlab signature: %w: webhook-timestamp is not Unix seconds", providers.ErrBadSignature)
	}
	now := w.now()
	if at := time.Unix(sec, 0); at.Before(now.Add(-SignatureTolerance)) || at.After(now.Add(SignatureTolerance)) {
		return fmt.Errorf("gitlab signature: %w: timestamp outside %v of now", providers.ErrBadSignature, SignatureTolerance)
	}
	sigs := signatures(header)
	if len(sigs) == 0 {
		return fmt.Errorf("gitlab signature: %w: no v1 signature", providers.ErrBadSignature)
	}
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue // anyone can compute an HMAC with an empty secret
		}
		want := signedContentMAC(signingKey(secret), id, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("gitlab signature: %w: matches none of %d secrets", providers.ErrBadSignature, len(secrets))
}

// signatures returns the decoded v1 signatures of a webhook-signature
// value; entries of other versions or shapes are skipped, as the
// specification asks.
func signatures(header string) [][]byte {
	var out [][]byte
	for _, entry := range strings.Fields(header) {
		if len(out) == maxSignatures {
			break
		}
		version, b64, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if sig, err := base64.StdEncoding.DecodeString(b64); err == nil && len(sig) == sha256.Size {
			out = append(out, sig)
		}
	}
	return out
}

// signedContentMAC is the HMAC-SHA256 of "id.timestamp.body".
func signedContentMAC(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// ReplayKey returns what identifies one signed attempt of a delivery
// (webhook-id and webhook-timestamp), for the receiver to refuse it a
// second time while its timestamp is valid, and how long to remember it;
// "" for deliveries without a signature. GitLab re-signs a resent delivery
// with a new timestamp, so a resend is not a replay: it is de-duplicated
// by its delivery id instead.
func (Webhooks) ReplayKey(h http.Header) (string, time.Duration) {
	if h.Get(headerWebhookSignature) == "" {
		return "", 0
	}
	return h.Get(headerWebhookID) + "." + h.Get(headerWebhookTimestamp), 2 * SignatureTolerance
}

func (w Webhooks) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}
