package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks 1.0 (standard-webhooks/standard-webhooks,
// spec/standard-webhooks.md, "Signature scheme" and "Webhook headers"):
// the symmetric signature is HMAC-SHA256 over "{msg_id}.{timestamp}.{payload}"
// with the base64-decoded secret (presented as "whsec_" + base64, 24 to 64
// bytes), sent as "v1,<base64>" in webhook-signature, a space-delimited
// list; webhook-id stays the same across retries (receivers de-duplicate
// on it) and webhook-timestamp is the attempt's time in Unix seconds,
// checked against a tolerance to stop replays.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"

	secretPrefix = "whsec_"
	minKeyBytes  = 24
	maxKeyBytes  = 64
)

// Errors of Verify.
var (
	ErrMissingSignature = errors.New("missing or malformed webhook-id, webhook-timestamp or webhook-signature")
	ErrBadSignature     = errors.New("no webhook-signature matches")
	ErrStaleTimestamp   = errors.New("webhook-timestamp outside the tolerance")
)

// Verify checks a delivery's Standard Webhooks signature, as a receiver
// does: secret is the target's ("whsec_" and base64, or the base64 alone),
// body the raw request body, and the timestamp must be within tolerance
// of now either way.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := parseSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || sigs == "" || err != nil {
		return ErrMissingSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleTimestamp
	}
	want := []byte(sign(key, id, ts, body))
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrBadSignature
}

// sign returns the "v1," signature of one attempt.
func sign(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseSecret decodes a secret into the HMAC key. Errors never quote it.
func parseSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return nil, errors.New("secret: want whsec_ and base64")
	}
	if len(key) < minKeyBytes || len(key) > maxKeyBytes {
		return nil, fmt.Errorf("secret: want %d to %d bytes, got %d", minKeyBytes, maxKeyBytes, len(key))
	}
	return key, nil
}
