// Package providerstest holds test helpers the provider packages share.
package providerstest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

// UpdateEnv, set to 1, makes Golden write the golden files instead of
// comparing with them (once, from code known to be right).
const UpdateEnv = "FORGELINK_UPDATE_GOLDEN"

// Parser is a provider's Parse.
type Parser func(h http.Header, body []byte) (providers.Event, error)

// Golden parses each testdata file under its headers and compares the
// event's JSON, byte for byte, with testdata/golden/<file>: the normalised
// form the ingress stores and routes on must not change by accident.
func Golden(t *testing.T, parse Parser, files map[string]http.Header) {
	t.Helper()
	for file, h := range files {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := parse(h, body)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", file)
			if os.Getenv(UpdateEnv) == "1" {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(got, '\n'), want) {
				t.Errorf("Parse() =\n%s\nwant (%s)\n%s", got, golden, want)
			}
		})
	}
}
