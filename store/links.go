package store

import (
	"errors"
	"strings"
	"time"
)

// KindRepositoryLink is the ARN resource type of repository links.
const KindRepositoryLink ResourceKind = "repository-link"

// ErrLeaseLost: the caller no longer holds the lease it writes under
// (another owner claimed the row after the lease ran out, or the row went).
var ErrLeaseLost = errors.New("lease lost")

// RepositoryLink ties a connection to one repository at its provider.
// Its ARN is rendered like a connection's, from ID and Region.
type RepositoryLink struct {
	ID             string // UUID v7, never reused
	ConnectionID   string
	ProviderType   string // the connection's, filled in on reads
	OwnerID        string // user, organisation, workspace, or GitLab group path (may contain '/')
	RepositoryName string
	// EncryptionKeyARN is stored and echoed only: forgelink seals its
	// secrets with its own keyring, never with a KMS key.
	EncryptionKeyARN string
	Region           string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Repository is the link's "owner/name" path, as pipelines spell it.
func (l RepositoryLink) Repository() string {
	return l.OwnerID + "/" + l.RepositoryName
}

// RepositoryKey is how repositories are compared: the providers treat
// owner and repository names case-insensitively, so "Org/App" and
// "org/app" are one repository with one webhook.
func RepositoryKey(repository string) string {
	return strings.ToLower(repository)
}

// RepositoryLinkFilter narrows ListRepositoryLinks. Zero fields match
// everything.
type RepositoryLinkFilter struct {
	ConnectionID string
}

// RepositoryLinkUpdate holds what UpdateRepositoryLink may change; nil
// means unchanged. The caller checks that a new connection has the same
// provider type.
type RepositoryLinkUpdate struct {
	ConnectionID     *string
	EncryptionKeyARN *string
	// IfUpdatedAt, when set, is the UpdatedAt of the read the update is
	// based on: a link changed since is not updated (ErrConflict).
	IfUpdatedAt time.Time
}

// States of a registered hook.
const (
	HookPending = "pending" // claimed, never ensured yet
	HookOK      = "ok"      // the provider has the hook as forgelink wants it
	HookError   = "error"   // the last attempt failed; LastError says why
)

// RegisteredHook is forgelink's record of the webhook it keeps on one
// repository of a connection. The provider holds the hook; this row says
// which one is forgelink's, which webhook secret it was given, and who is
// working on it now (the lease), so that two daemons sharing one database
// never ensure the same hook at once.
type RegisteredHook struct {
	ConnectionID string
	Repository   string // RepositoryKey form
	HookID       string // the provider's id; empty until created
	URL          string
	// SecretCreatedAt names the webhook secret version the hook carries
	// (WebhookSecret.CreatedAt); zero when none is known to be set.
	SecretCreatedAt time.Time
	State           string
	LastError       string // never contains a secret or token
	Failures        int    // consecutive failed attempts, for backoff
	CheckedAt       time.Time
	LeaseOwner      string
	LeaseUntil      time.Time
}
