package gitlab

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
)

// The Standard Webhooks specification's published test vector: GitLab's
// signing token follows it.
func TestSignedContentVector(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := base64.StdEncoding.EncodeToString(signedContentMAC(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`)))
	if want := "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestSigningToken(t *testing.T) {
	tok := SigningToken([]byte("s3cr3t"))
	b64, ok := strings.CutPrefix(tok, "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) != 32 {
		t.Fatalf("SigningToken = %q: want whsec_ and the base64 of 32 bytes", tok)
	}
	if SigningToken([]byte("s3cr3t")) != tok || SigningToken([]byte("other")) == tok {
		t.Error("SigningToken is not a function of the secret")
	}
	if strings.Contains(tok, base64.StdEncoding.EncodeToString([]byte("s3cr3t"))) {
		t.Error("SigningToken carries the secret")
	}
}

// signGitLab signs as GitLab does with the signing token of secret.
func signGitLab(secret []byte, id string, at time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(signedContentMAC(signingKey(secret), id, ts, body)))
	return h
}

func TestVerifySigningToken(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	w := Webhooks{Now: func() time.Time { return now }}
	body := load(t, "push.json")
	current, previous := []byte("s3cr3t-current-token"), []byte("old-token-Ω")
	const id = "8a4b2f0e-3c1d-4e5f-9a6b-7c8d9e0f1a2b"
	good := func() http.Header { return signGitLab(current, id, now, body) }
	with := func(change func(h http.Header)) http.Header { h := good(); change(h); return h }
	tests := []struct {
		name    string
		h       http.Header
		body    []byte
		secrets [][]byte
		want    error
	}{
		{"valid", good(), body, [][]byte{current}, nil},
		{"second of two secrets", signGitLab(previous, id, now, body), body, [][]byte{current, previous}, nil},
		{"4m59s old", signGitLab(current, id, now.Add(-4*time.Minute-59*time.Second), body), body, [][]byte{current}, nil},
		{"4m59s ahead", signGitLab(current, id, now.Add(4*time.Minute+59*time.Second), body), body, [][]byte{current}, nil},
		{"one of several signatures", with(func(h http.Header) {
			h.Set("webhook-signature", "v2,abc v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))+" "+h.Get("webhook-signature"))
		}), body, [][]byte{current}, nil},
		{"valid signature beside a wrong secret token", with(func(h http.Header) { h.Set("X-Gitlab-Token", "guess") }), body, [][]byte{current}, nil},
		{"tampered body", good(), append([]byte(nil), body[:len(body)-2]...), [][]byte{current}, providers.ErrBadSignature},
		{"wrong secret", good(), body, [][]byte{previous}, providers.ErrBadSignature},
		{"signed with the secret itself, not the signing key", with(func(h http.Header) {
			h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(signedContentMAC(current, id, h.Get("webhook-timestamp"), body)))
		}), body, [][]byte{current}, providers.ErrBadSignature},
		{"5m01s old", signGitLab(current, id, now.Add(-5*time.Minute-time.Second), body), body, [][]byte{current}, providers.ErrBadSignature},
		{"5m01s ahead", signGitLab(current, id, now.Add(5*time.Minute+time.Second), body), body, [][]byte{current}, providers.ErrBadSignature},
		{"timestamp changed", with(func(h http.Header) { h.Set("webhook-timestamp", strconv.FormatInt(now.Unix()+1, 10)) }), body, [][]byte{current}, providers.ErrBadSignature},
		{"id changed", with(func(h http.Header) { h.Set("webhook-id", id+"x") }), body, [][]byte{current}, providers.ErrBadSignature},
		{"no id", with(func(h http.Header) { h.Del("webhook-id") }), body, [][]byte{current}, providers.ErrBadSignature},
		{"no timestamp", with(func(h http.Header) { h.Del("webhook-timestamp") }), body, [][]byte{current}, providers.ErrBadSignature},
		{"timestamp not a number", with(func(h http.Header) { h.Set("webhook-timestamp", "yesterday") }), body, [][]byte{current}, providers.ErrBadSignature},
		{"only another version", with(func(h http.Header) {
			h.Set("webhook-signature", strings.Replace(h.Get("webhook-signature"), "v1,", "v1a,", 1))
		}), body, [][]byte{current}, providers.ErrBadSignature},
		{"not base64", with(func(h http.Header) { h.Set("webhook-signature", "v1,%%%") }), body, [][]byte{current}, providers.ErrBadSignature},
		// A valid secret token does not rescue a bad signature.
		{"bad signature beside the right secret token", with(func(h http.Header) {
			h.Set("X-Gitlab-Token", string(current))
			h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
		}), body, [][]byte{current}, providers.ErrBadSignature},
		{"only an empty secret", good(), body, [][]byte{{}}, providers.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkVerify(t, w.Verify(tt.h, tt.body, tt.secrets), tt.want, tt.secrets)
		})
	}
}

func TestReplayKey(t *testing.T) {
	h := signGitLab([]byte("s"), "id-1", time.Unix(1700000000, 0), []byte("{}"))
	if key, ttl := (Webhooks{}).ReplayKey(h); key != "id-1.1700000000" || ttl != 2*SignatureTolerance {
		t.Errorf("ReplayKey = %q, %v", key, ttl)
	}
	if key, _ := (Webhooks{}).ReplayKey(http.Header{"X-Gitlab-Token": {"s"}}); key != "" {
		t.Errorf("ReplayKey of an unsigned delivery = %q, want none", key)
	}
}

func FuzzVerifySignature(f *testing.F) {
	body := load(f, "push.json")
	now := time.Unix(1765155600, 0)
	h := signGitLab([]byte("s3cret"), "id-1", now, body)
	f.Add(h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature"), body, []byte("s3cret"))
	f.Add("", "", "v1,", []byte{}, []byte{})
	f.Add("id", "-99999999999999999999", "v1,a v1,b v2,c", []byte("{}"), []byte("k"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body, secret []byte) {
		w := Webhooks{Now: func() time.Time { return now }}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		err := w.Verify(h, body, [][]byte{secret})
		if err != nil && !errors.Is(err, providers.ErrBadSignature) && !errors.Is(err, providers.ErrMissingSignature) {
			t.Fatalf("Verify() error %v wraps neither sentinel", err)
		}
		// A correct signature of the same content passes, also as the
		// second secret and among other entries.
		if len(secret) > 0 && id != "" && !strings.ContainsAny(id+ts, "\r\n") {
			good := signGitLab(secret, id, now, body)
			good.Set("webhook-signature", "v1,AAAA "+good.Get("webhook-signature"))
			if err := w.Verify(good, body, [][]byte{[]byte("other"), secret}); err != nil {
				t.Fatalf("Verify() rejected a correct signature: %v", err)
			}
		}
	})
}
