package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerify(t *testing.T) {
	body := readTestdata(t, "push_branch.json")
	current := []byte("It's a Secret to Everybody")
	next := []byte("n3xt-s3cret-after-rotation")
	both := [][]byte{current, next}
	good := sign(current, body)

	tests := []struct {
		name    string
		header  http.Header
		body    []byte
		secrets [][]byte
		want    error
	}{
		{
			// The example GitHub documents for checking an implementation.
			name:    "documented example",
			header:  http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}},
			body:    []byte("Hello, World!"),
			secrets: [][]byte{current},
		},
		{name: "right secret", header: http.Header{"X-Hub-Signature-256": {good}}, body: body, secrets: [][]byte{current}},
		{name: "second secret of two", header: http.Header{"X-Hub-Signature-256": {sign(next, body)}}, body: body, secrets: both},
		{name: "upper-case hex", header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256="))}}, body: body, secrets: both},
		{name: "wrong secret", header: http.Header{"X-Hub-Signature-256": {sign([]byte("guess"), body)}}, body: body, secrets: both, want: providers.ErrBadSignature},
		{name: "missing header", header: http.Header{}, body: body, secrets: both, want: providers.ErrMissingSignature},
		{name: "only SHA-1 header", header: http.Header{"X-Hub-Signature": {"sha1=" + strings.Repeat("ab", 20)}}, body: body, secrets: both, want: providers.ErrMissingSignature},
		{name: "not hex", header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.Repeat("zz", 32)}}, body: body, secrets: both, want: providers.ErrBadSignature},
		{name: "wrong prefix", header: http.Header{"X-Hub-Signature-256": {"sha1=" + strings.TrimPrefix(good, "sha256=")}}, body: body, secrets: both, want: providers.ErrBadSignature},
		{name: "no prefix", header: http.Header{"X-Hub-Signature-256": {strings.TrimPrefix(good, "sha256=")}}, body: body, secrets: both, want: providers.ErrBadSignature},
		{name: "short digest", header: http.Header{"X-Hub-Signature-256": {good[:40]}}, body: body, secrets: both, want: providers.ErrBadSignature},
		{name: "truncated body", header: http.Header{"X-Hub-Signature-256": {good}}, body: body[:len(body)/2], secrets: both, want: providers.ErrBadSignature},
		{name: "empty secrets list", header: http.Header{"X-Hub-Signature-256": {good}}, body: body, want: providers.ErrBadSignature},
		{name: "empty secret", header: http.Header{"X-Hub-Signature-256": {sign(nil, body)}}, body: body, secrets: [][]byte{{}}, want: providers.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Webhooks{}.Verify(tt.header, tt.body, tt.secrets)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
			if err == nil {
				return
			}
			for _, secret := range tt.secrets {
				if len(secret) > 0 && strings.Contains(err.Error(), string(secret)) {
					t.Errorf("error %q reveals a secret", err)
				}
			}
			if sig := tt.header.Get("X-Hub-Signature-256"); len(sig) > 8 && strings.Contains(err.Error(), sig[7:]) {
				t.Errorf("error %q reveals the signature", err)
			}
		})
	}
}

func TestVerifySHA1Message(t *testing.T) {
	h := http.Header{"X-Hub-Signature": {"sha1=" + strings.Repeat("ab", 20)}}
	err := Webhooks{}.Verify(h, []byte("{}"), [][]byte{[]byte("s")})
	if err == nil || !strings.Contains(err.Error(), "SHA-1 signatures are not accepted") {
		t.Errorf("Verify() = %v, want it to say SHA-1 signatures are not accepted", err)
	}
}

func TestDeliveryID(t *testing.T) {
	h := http.Header{}
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if got := (Webhooks{}).DeliveryID(h); got != "72d3162e-cc78-11e3-81ab-4c9367dc0958" {
		t.Errorf("DeliveryID() = %q", got)
	}
	if got := (Webhooks{}).DeliveryID(http.Header{}); got != "" {
		t.Errorf("DeliveryID() without header = %q, want empty", got)
	}
}
