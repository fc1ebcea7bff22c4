package bitbucket

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

func FuzzVerify(f *testing.F) {
	secret := []byte("fuzz-secret")
	for file := range payloads {
		body := readPayload(f, file)
		f.Add(body, sign(secret, body))
	}
	f.Fuzz(func(t *testing.T, body []byte, signature string) {
		h := http.Header{}
		h.Set("X-Hub-Signature", signature)
		err := Webhooks{}.Verify(h, body, [][]byte{secret})
		switch {
		case err == nil:
			// Only the true HMAC may pass; hex digits may be upper-case.
			if !strings.EqualFold(signature, sign(secret, body)) {
				t.Fatalf("accepted signature %q", signature)
			}
		case !errors.Is(err, providers.ErrBadSignature) && !errors.Is(err, providers.ErrMissingSignature):
			t.Fatalf("Verify = %v, want a signature error", err)
		}
	})
}

func FuzzParse(f *testing.F) {
	for file, key := range payloads {
		f.Add(key, readPayload(f, file))
	}
	f.Fuzz(func(t *testing.T, key string, body []byte) {
		h := http.Header{}
		h.Set("X-Event-Key", key)
		ev, err := Webhooks{}.Parse(h, body)
		if err != nil {
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("Parse = %v, want ErrMalformed", err)
			}
			return
		}
		if ev.Provider != Provider || ev.RawKind != h.Get("X-Event-Key") {
			t.Fatalf("envelope = %q %q", ev.Provider, ev.RawKind)
		}
		for _, p := range ev.Pushes {
			if p.Ref != refPrefix(p.RefType)+p.RefName {
				t.Fatalf("ref %q does not match %s %q", p.Ref, p.RefType, p.RefName)
			}
		}
	})
}

func refPrefix(refType string) string {
	if refType == providers.RefTag {
		return "refs/tags/"
	}
	return "refs/heads/"
}
