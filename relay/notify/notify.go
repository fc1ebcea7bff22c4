// Package notify holds what every pipeline target (relay/notify/webhook,
// relay/notify/command, relay/notify/nats, relay/notify/amqp) works with:
// the message of one delivery and the result of one attempt. The delivery
// engine (relay/dispatch) declares the Notifier interface it consumes.
package notify

import (
	"encoding/json"
	"time"

	"github.com/forgelink/forgelink/providers"
)

// Message is what a target receives for one delivery of one event to one
// pipeline. Its JSON form (see JSON) is forgelink's own event schema.
type Message struct {
	DeliveryID    string `json:"deliveryId"` // unique: receivers de-duplicate on it
	Attempt       int    `json:"attempt"`    // 1 for the first attempt
	Pipeline      string `json:"pipeline"`
	ConnectionARN string `json:"connectionArn"`
	EventID       string `json:"eventId"`
	// ProviderDeliveryID is the provider's id of the webhook delivery that
	// carried the event (X-GitHub-Delivery; GitLab's Idempotency-Key, or
	// X-Gitlab-Event-UUID before GitLab sent one; Bitbucket's
	// X-Request-UUID): the ids forgelink de-duplicates on, which the
	// provider's redeliveries keep, so receivers can match them.
	ProviderDeliveryID string                 `json:"providerDeliveryId"`
	Provider           string                 `json:"provider"`
	Kind               providers.Kind         `json:"kind"` // push or pull_request
	Repository         providers.Repository   `json:"repository"`
	Push               *providers.Push        `json:"push,omitempty"`        // the ref update that matched
	PullRequest        *providers.PullRequest `json:"pullRequest,omitempty"` // the pull request that matched
	// FilesIncomplete: filePaths were evaluated on a changed-file list the
	// provider truncated, without the full list.
	FilesIncomplete bool      `json:"filesIncomplete"`
	CreatedAt       time.Time `json:"createdAt"` // when the event was recorded
	// Variables are the CodePipeline source variables (CommitId,
	// BranchName, ...), for templates and environments.
	Variables map[string]string `json:"variables"`
}

// JSON encodes the message in forgelink's schema.
func (m *Message) JSON() []byte {
	out, err := json.Marshal(m)
	if err != nil {
		// Every field is a plain value; failing here is a bug.
		panic("notify: encode message: " + err.Error())
	}
	return out
}

// Message headers the queue targets (nats, amqp) set beside their own
// message id (the delivery id, which consumers de-duplicate on).
const (
	HeaderDeliveryID = "forgelink-delivery-id"
	HeaderPipeline   = "forgelink-pipeline"
	HeaderEventKind  = "forgelink-event-kind"
)

// Headers returns the message headers of m.
func (m *Message) Headers() map[string]string {
	return map[string]string{HeaderDeliveryID: m.DeliveryID, HeaderPipeline: m.Pipeline, HeaderEventKind: string(m.Kind)}
}

// Result is the outcome of one attempt.
type Result struct {
	Err error // nil: delivered
	// Retryable: the failure may pass (network error, 5xx, 408, 429, a
	// listed exit status); otherwise the delivery is dead-lettered.
	Retryable  bool
	RetryAfter time.Duration // the receiver's Retry-After, zero if none
	StatusCode int           // HTTP status, 0 if none
	ExitStatus *int          // exec exit status, nil if none
	Output     string        // tail of the response body or program output
}

// Variable names, as CodePipeline's CodeStarSourceConnection action names
// its output variables, plus forgelink's own.
const (
	VarCommitID           = "CommitId"
	VarBranchName         = "BranchName"
	VarFullRepositoryName = "FullRepositoryName"
	VarConnectionArn      = "ConnectionArn"
	VarCommitMessage      = "CommitMessage"
	VarAuthorDate         = "AuthorDate"
	VarEventKind          = "EventKind"
	VarDeliveryID         = "DeliveryId"
	VarPipeline           = "Pipeline"
	VarProviderType       = "ProviderType"
	VarTagName            = "TagName"
	VarPullRequestNumber  = "PullRequestNumber"
	VarSourceBranch       = "SourceBranch"
	VarDestinationBranch  = "DestinationBranch"
	VarCloneURL           = "CloneUrl"
)
