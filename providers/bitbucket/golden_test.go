package bitbucket

import (
	"net/http"
	"testing"

	"github.com/forgelink/forgelink/providers/providerstest"
)

// The normalised form of every testdata payload, byte for byte.
func TestParseGolden(t *testing.T) {
	files := map[string]http.Header{}
	for file, key := range payloads {
		files[file] = eventHeader(key)
	}
	providerstest.Golden(t, Webhooks{}.Parse, files)
}
