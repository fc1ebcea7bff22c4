package gitlab

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

func TestVerify(t *testing.T) {
	body := load(t, "push.json")
	current, previous := []byte("s3cr3t-current-token"), []byte("old-token-Ω")
	mac := hmac.New(sha256.New, current)
	mac.Write(body)
	hmacToken := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	tests := []struct {
		name    string
		token   *string // nil: no header
		body    []byte
		secrets [][]byte
		want    error
	}{
		{"right secret", ptr(string(current)), body, [][]byte{current}, nil},
		{"second of two secrets", ptr(string(previous)), body, [][]byte{current, previous}, nil},
		{"wrong secret", ptr("guess"), body, [][]byte{current, previous}, providers.ErrBadSignature},
		{"missing header", nil, body, [][]byte{current}, providers.ErrMissingSignature},
		{"empty header", ptr(""), body, [][]byte{current}, providers.ErrMissingSignature},
		{"hmac instead of token", ptr(hmacToken), body, [][]byte{current}, providers.ErrBadSignature},
		{"hex of the secret", ptr(hex.EncodeToString(current)), body, [][]byte{current}, providers.ErrBadSignature},
		{"prefix of the secret", ptr(string(current[:5])), body, [][]byte{current}, providers.ErrBadSignature},
		{"secret with trailing space", ptr(string(current) + " "), body, [][]byte{current}, providers.ErrBadSignature},
		{"secret in other case", ptr(strings.ToUpper(string(current))), body, [][]byte{current}, providers.ErrBadSignature},
		{"empty secret list", ptr(string(current)), body, nil, providers.ErrBadSignature},
		{"only an empty secret", ptr(string(current)), body, [][]byte{{}}, providers.ErrBadSignature},
		// The token covers no byte of the body: a cut body passes here and
		// is caught by Parse (TestParseErrors).
		{"truncated body", ptr(string(current)), body[:len(body)/2], [][]byte{current}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.token != nil {
				h.Set("X-Gitlab-Token", *tt.token)
			}
			checkVerify(t, Webhooks{}.Verify(h, tt.body, tt.secrets), tt.want, tt.secrets)
		})
	}
}

// checkVerify fails unless err is want (nil or a sentinel it wraps) and
// names none of the secrets.
func checkVerify(t *testing.T, err, want error, secrets [][]byte) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify: %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify: %v, want %v", err, want)
	}
	for _, secret := range secrets {
		if len(secret) > 0 && strings.Contains(err.Error(), string(secret)) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

func TestDeliveryID(t *testing.T) {
	const key, uuid = "8a4b2f0e-3c1d-4e5f-9a6b-7c8d9e0f1a2b", "b7f1c2d3-e4f5-4a6b-8c9d-0e1f2a3b4c5d"
	tests := []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"idempotency key preferred", map[string]string{"Idempotency-Key": key, "X-Gitlab-Event-UUID": uuid}, key},
		{"event uuid on older instances", map[string]string{"X-Gitlab-Event-UUID": uuid}, uuid},
		{"neither", map[string]string{"X-Gitlab-Webhook-UUID": uuid}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			if got := (Webhooks{}).DeliveryID(h); got != tt.want {
				t.Errorf("DeliveryID = %q, want %q", got, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }
