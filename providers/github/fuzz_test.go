package github

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

// fuzzSeeds leaves out the 23 KB pull_request payloads, on which the
// fuzzer spends its time minimising; testdata/fuzz/FuzzParse holds a small
// pull_request.
var fuzzSeeds = []struct{ event, file string }{
	{"push", "push_branch.json"},
	{"push", "push_delete.json"},
	{"ping", "ping.json"},
	{"installation", "installation_suspend.json"},
	{"installation_repositories", "installation_repositories_added.json"},
	{"sub_issues", "sub_issues_added.json"},
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds {
		body := readTestdata(f, s.file)
		f.Add(sign([]byte("s3cret"), body), body, []byte("s3cret"))
	}
	f.Add("sha256=", []byte{}, []byte{})
	f.Add("sha1=0123", []byte("{}"), []byte("k"))
	f.Fuzz(func(t *testing.T, signature string, body, secret []byte) {
		h := http.Header{}
		h.Set("X-Hub-Signature-256", signature)
		err := Webhooks{}.Verify(h, body, [][]byte{secret})
		if err != nil && !errors.Is(err, providers.ErrMissingSignature) && !errors.Is(err, providers.ErrBadSignature) {
			t.Fatalf("Verify() error %v wraps neither sentinel", err)
		}
		// A correct signature passes whatever the body, also as second secret.
		if len(secret) > 0 {
			h.Set("X-Hub-Signature-256", sign(secret, body))
			if err := (Webhooks{}).Verify(h, body, [][]byte{[]byte("other"), secret}); err != nil {
				t.Fatalf("Verify() rejected a correct signature: %v", err)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.event, readTestdata(f, s.file))
	}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		h := headers(event)
		orig := bytes.Clone(body)
		if _, err := (Webhooks{}).Parse(h, body); err != nil && !errors.Is(err, providers.ErrMalformed) {
			t.Fatalf("Parse() error %v does not wrap ErrMalformed", err)
		}
		if !bytes.Equal(body, orig) {
			t.Fatal("Parse() modified the body")
		}
		if _, err := InstallationID(body); err != nil && !errors.Is(err, providers.ErrMalformed) {
			t.Fatalf("InstallationID() error %v does not wrap ErrMalformed", err)
		}
	})
}
