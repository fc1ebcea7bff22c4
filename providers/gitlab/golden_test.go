package gitlab

import (
	"net/http"
	"testing"

	"github.com/forgelink/forgelink/providers/providerstest"
)

// The normalised form of every testdata payload, byte for byte as it was
// when the payloads were decoded with the client library's types.
func TestParseGolden(t *testing.T) {
	files := map[string]http.Header{}
	for file, event := range map[string]string{
		"issue.json":               "Issue Hook",
		"mr_approved.json":         "Merge Request Hook",
		"mr_close.json":            "Merge Request Hook",
		"mr_merge.json":            "Merge Request Hook",
		"mr_open.json":             "Merge Request Hook",
		"mr_reopen_odd.json":       "Merge Request Hook",
		"mr_update_commits.json":   "Merge Request Hook",
		"mr_update_title.json":     "Merge Request Hook",
		"push.json":                "Push Hook",
		"push_create.json":         "Push Hook",
		"push_delete.json":         "Push Hook",
		"push_force.json":          "Push Hook",
		"push_odd_timestamps.json": "Push Hook",
		"push_truncated.json":      "Push Hook",
		"system_hook.json":         "System Hook",
		"tag_push.json":            "Tag Push Hook",
	} {
		files[file] = headers(event)
	}
	providerstest.Golden(t, Webhooks{}.Parse, files)
}
