package gitlab

import (
	"encoding/json"

	"github.com/forgelink/forgelink/providers"
)

// The lean payload types: exactly the members forgelink reads of the hooks
// it routes, in GitLab's spelling. encoding/json skips every other member
// without looking at its type, so one odd value in a member forgelink
// never reads (a commit date, merge_params, a Rails-style timestamp) no
// longer rejects a genuine delivery, and a push costs a fraction of the
// library's types.

// project is the project object, which has these members in every hook.
type project struct {
	PathWithNamespace string `json:"path_with_namespace"`
	GitHTTPURL        string `json:"git_http_url"`
	GitSSHURL         string `json:"git_ssh_url"`
	WebURL            string `json:"web_url"`
	DefaultBranch     string `json:"default_branch"`
}

// pushPayload is a Push Hook or Tag Push Hook body; both have these
// members.
type pushPayload struct {
	Before            string                 `json:"before"`
	After             string                 `json:"after"`
	Ref               string                 `json:"ref"`
	CheckoutSHA       string                 `json:"checkout_sha"`
	TotalCommitsCount int64                  `json:"total_commits_count"`
	Project           project                `json:"project"`
	Commits           []providers.PushCommit `json:"commits"`
}

// mergePayload is a Merge Request Hook body.
type mergePayload struct {
	Project          project         `json:"project"`
	ObjectAttributes mergeAttributes `json:"object_attributes"`
}

type mergeAttributes struct {
	IID             int    `json:"iid"`
	Action          string `json:"action"`
	OldRev          string `json:"oldrev"`
	Title           string `json:"title"`
	URL             string `json:"url"`
	SourceBranch    string `json:"source_branch"`
	TargetBranch    string `json:"target_branch"`
	SourceProjectID int    `json:"source_project_id"`
	TargetProjectID int    `json:"target_project_id"`
	Source          *struct {
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"source"`
	LastCommit struct {
		ID string `json:"id"`
	} `json:"last_commit"`
}

// otherPayload is what forgelink reads of any other hook.
type otherPayload struct {
	Project project `json:"project"`
}

// generic is what a System Hook or Service Hook body says of its kind:
// object_kind, or event_name in system hooks that have none (push and
// tag_push system hooks carry only event_name).
type generic struct {
	ObjectKind string `json:"object_kind"`
	EventName  string `json:"event_name"`
}

// decode unmarshals body into v, with errors that do not quote the body
// (providers.JSONError).
func decode(body []byte, v any) error {
	return providers.DescribeJSON(json.Unmarshal(body, v))
}
