package ingress

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers/bitbucket"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/store"
)

// example is one documented provider payload with the headers its
// provider sends it with, but the signature.
type example struct {
	provider, name string
	header         http.Header
	body           []byte
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readExample(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// documentedExamples returns the providers' documented payloads of every
// event kind (the providers' testdata/examples).
func documentedExamples(t *testing.T) []example {
	t.Helper()
	const root = "../../providers"
	var out []example
	files, _ := filepath.Glob(filepath.Join(root, "github", "testdata", "examples", "*.json"))
	for i, f := range files {
		event, _, _ := strings.Cut(filepath.Base(f), ".")
		h := http.Header{"X-Github-Event": {event}, "X-Github-Delivery": {fmt.Sprintf("gh-%d", i)}}
		out = append(out, example{store.ProviderGitHub, filepath.Base(f), h, readExample(t, f)})
	}
	dir := filepath.Join(root, "gitlab", "testdata", "examples")
	var gl map[string]string
	readJSONFile(t, filepath.Join(dir, "events.json"), &gl)
	for file, event := range gl {
		h := http.Header{"X-Gitlab-Event": {event}, "X-Gitlab-Event-Uuid": {"gl-" + file}}
		out = append(out, example{store.ProviderGitLab, file, h, readExample(t, filepath.Join(dir, file))})
	}
	dir = filepath.Join(root, "bitbucket", "testdata", "examples")
	var bb map[string]string
	readJSONFile(t, filepath.Join(dir, "event_keys.json"), &bb)
	for file, key := range bb {
		h := http.Header{"X-Event-Key": {key}, "X-Request-Uuid": {"bb-" + file}}
		out = append(out, example{store.ProviderBitbucket, file, h, readExample(t, filepath.Join(dir, file))})
	}
	if len(out) < 230 {
		t.Fatalf("only %d documented examples found", len(out))
	}
	return out
}

// signExample signs as each provider does.
func signExample(e example, secret []byte) http.Header {
	h := e.header.Clone()
	switch e.provider {
	case store.ProviderGitHub:
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sign(secret, e.body)))
	case store.ProviderGitLab:
		h.Set("X-Gitlab-Token", string(secret))
	case store.ProviderBitbucket:
		h.Set("X-Hub-Signature", "sha256="+hex.EncodeToString(sign(secret, e.body)))
	}
	return h
}

// Every payload the providers document, signed, is accepted and recorded
// once with its raw body, whatever the shape of members forgelink does not
// read; its redelivery is a duplicate.
func TestDocumentedExamplesAccepted(t *testing.T) {
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) {
		o.MaxBody = DefaultMaxBody
		o.Providers = map[string]Provider{
			store.ProviderGitHub:    github.Webhooks{},
			store.ProviderGitLab:    gitlab.Webhooks{},
			store.ProviderBitbucket: bitbucket.Webhooks{},
		}
	})
	conns := map[string]store.Connection{
		store.ProviderGitHub:    f.conn,
		store.ProviderGitLab:    f.createConnectionOf(t, store.StatusAvailable, store.ProviderGitLab),
		store.ProviderBitbucket: f.createConnectionOf(t, store.StatusAvailable, store.ProviderBitbucket),
	}
	examples := documentedExamples(t)
	post := func(e example) (int, map[string]string) {
		return f.send(t, testDelivery{conn: conns[e.provider].ID, body: e.body, header: signExample(e, f.secret)})
	}
	ids := map[string]example{}
	for _, e := range examples {
		t.Run(e.provider+"/"+e.name, func(t *testing.T) {
			status, out := post(e)
			if status != http.StatusAccepted || out["status"] != outcomeAccepted {
				t.Fatalf("first delivery: %d %v", status, out)
			}
			ids[out["eventId"]] = e
			if status, out := post(e); status != http.StatusOK || out["status"] != outcomeDuplicate {
				t.Fatalf("redelivery: %d %v", status, out)
			}
		})
	}
	for _, ev := range f.events(t) {
		e, ok := ids[ev.ID]
		if !ok {
			t.Errorf("event %s (%s) recorded but not answered", ev.ID, ev.RawKind)
			continue
		}
		delete(ids, ev.ID)
		full, err := f.store.GetEvent(t.Context(), ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(full.Body, e.body) || full.Provider != e.provider {
			t.Errorf("%s/%s: recorded body or provider differs", e.provider, e.name)
		}
	}
	if len(ids) != 0 {
		t.Errorf("%d accepted events not recorded", len(ids))
	}
}
