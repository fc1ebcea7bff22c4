// Package providers holds what every provider integration (providers/github,
// providers/gitlab, providers/bitbucket) produces: one normalised event model
// and the errors of webhook verification and parsing.
package providers

import (
	"errors"
	"time"
)

// Errors of webhook verification and parsing. Provider packages wrap them
// with detail; the ingress maps them to HTTP statuses.
var (
	// ErrMissingSignature: the delivery carries no signature or token header
	// that this provider requires (a GitHub delivery with only the SHA-1
	// header is one of these).
	ErrMissingSignature = errors.New("missing signature")
	// ErrBadSignature: the signature or token matches none of the secrets.
	ErrBadSignature = errors.New("bad signature")
	// ErrMalformed: the body or a required header cannot be understood.
	ErrMalformed = errors.New("malformed delivery")
)

// Kind is the normalised kind of an event.
type Kind string

// Event kinds. Only push and pull_request events carry routing fields.
const (
	KindPush         Kind = "push"
	KindPullRequest  Kind = "pull_request"
	KindPing         Kind = "ping"
	KindInstallation Kind = "installation"
	KindOther        Kind = "other"
)

// Event is a provider webhook delivery in forgelink's own terms.
type Event struct {
	Provider   string     `json:"provider"` // store.Provider* (GitHub, GitLab, Bitbucket)
	DeliveryID string     `json:"deliveryId"`
	Kind       Kind       `json:"kind"`
	RawKind    string     `json:"rawKind"` // the provider's event name: "push", "Push Hook", "repo:push"
	Repository Repository `json:"repository"`
	// Pushes holds one entry per updated ref: GitHub and GitLab send one,
	// a Bitbucket repo:push may carry several.
	Pushes       []Push        `json:"pushes,omitempty"`
	PullRequest  *PullRequest  `json:"pullRequest,omitempty"`
	Installation *Installation `json:"installation,omitempty"`
}

// Repository identifies the repository an event is about.
type Repository struct {
	FullName      string `json:"fullName"` // owner/repo; for GitLab the full namespace path
	CloneURLHTTP  string `json:"cloneUrlHttp,omitempty"`
	CloneURLSSH   string `json:"cloneUrlSsh,omitempty"`
	HTMLURL       string `json:"htmlUrl,omitempty"`
	DefaultBranch string `json:"defaultBranch,omitempty"`
}

// Ref types.
const (
	RefBranch = "branch"
	RefTag    = "tag"
)

// Push is one ref update.
type Push struct {
	Ref        string  `json:"ref"`     // full ref: refs/heads/main, refs/tags/v1
	RefType    string  `json:"refType"` // RefBranch or RefTag
	RefName    string  `json:"refName"` // main, v1
	Before     string  `json:"before,omitempty"`
	After      string  `json:"after,omitempty"`
	Created    bool    `json:"created"`
	Deleted    bool    `json:"deleted"`
	Forced     bool    `json:"forced"`
	HeadCommit *Commit `json:"headCommit,omitempty"`
	// Commits are oldest first, whatever order the provider sent them in.
	Commits []Commit `json:"commits,omitempty"`
	// TotalCommits is the provider's count of pushed commits when it gives
	// one (GitLab's total_commits_count); otherwise len(Commits).
	TotalCommits int `json:"totalCommits"`
	// CommitsTruncated: the payload carries fewer commits than were pushed.
	CommitsTruncated bool `json:"commitsTruncated"`
	// Files is the union of the per-commit file lists in the payload.
	Files ChangedFiles `json:"files"`
	// FilesIncomplete: Files may miss changed paths, either because commits
	// were truncated or because the provider sends no file lists at all
	// (Bitbucket Cloud). A filePaths filter must then consult the
	// provider's compare API.
	FilesIncomplete bool `json:"filesIncomplete"`
}

// Commit is one commit of a push.
type Commit struct {
	ID          string    `json:"id"`
	Message     string    `json:"message"`
	AuthorName  string    `json:"authorName,omitempty"`
	AuthorEmail string    `json:"authorEmail,omitempty"`
	Timestamp   time.Time `json:"timestamp,omitzero"`
	URL         string    `json:"url,omitempty"`
	Added       []string  `json:"added,omitempty"`
	Modified    []string  `json:"modified,omitempty"`
	Removed     []string  `json:"removed,omitempty"`
}

// ChangedFiles lists paths by change, each sorted and without duplicates.
type ChangedFiles struct {
	Added    []string `json:"added,omitempty"`
	Modified []string `json:"modified,omitempty"`
	Removed  []string `json:"removed,omitempty"`
}

// Pull request actions, normalised across providers.
const (
	PROpened  = "opened"  // opened or reopened
	PRUpdated = "updated" // new commits on the source branch
	PRClosed  = "closed"  // closed without merging (declined)
	PRMerged  = "merged"
	PROther   = "other" // labelled, edited, approved, ...: recorded, not routed
)

// PullRequest is a pull or merge request event.
type PullRequest struct {
	Action            string `json:"action"`    // PROpened, PRUpdated, ...
	RawAction         string `json:"rawAction"` // the provider's own action word
	Number            int    `json:"number"`    // GitLab's iid, the number users see
	Title             string `json:"title,omitempty"`
	URL               string `json:"url,omitempty"`
	SourceBranch      string `json:"sourceBranch"`
	DestinationBranch string `json:"destinationBranch"`
	HeadSHA           string `json:"headSha"`
	SourceRepository  string `json:"sourceRepository,omitempty"` // full name, when it differs (forks)
	// Files is the complete list of files the pull request changes, when
	// the delivery engine fetched it through the provider's API (webhooks
	// carry none); nil otherwise.
	Files *ChangedFiles `json:"files,omitempty"`
}

// Installation lifecycle actions the connection lifecycle acts on.
const (
	InstallCreated     = "created"
	InstallDeleted     = "deleted"
	InstallSuspended   = "suspended"
	InstallUnsuspended = "unsuspended"
)

// Installation is a GitHub App installation event.
type Installation struct {
	ID      int64  `json:"id"`
	Action  string `json:"action"`
	Account string `json:"account,omitempty"`
}
