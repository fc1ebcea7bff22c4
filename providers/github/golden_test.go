package github

import (
	"net/http"
	"testing"

	"github.com/forgelink/forgelink/providers/providerstest"
)

// The normalised form of every testdata payload, byte for byte as it was
// when the payloads were decoded with go-github's types.
func TestParseGolden(t *testing.T) {
	files := map[string]http.Header{}
	for file, event := range map[string]string{
		"installation_created.json":            "installation",
		"installation_repositories_added.json": "installation_repositories",
		"installation_suspend.json":            "installation",
		"issues_opened.json":                   "issues",
		"ping.json":                            "ping",
		"pull_request_closed.json":             "pull_request",
		"pull_request_labeled.json":            "pull_request",
		"pull_request_merged.json":             "pull_request",
		"pull_request_opened.json":             "pull_request",
		"pull_request_synchronize.json":        "pull_request",
		"push_branch.json":                     "push",
		"push_create.json":                     "push",
		"push_delete.json":                     "push",
		"push_forced.json":                     "push",
		"push_tag.json":                        "push",
		"sub_issues_added.json":                "sub_issues",
	} {
		files[file] = headers(event)
	}
	providerstest.Golden(t, Webhooks{}.Parse, files)
}
