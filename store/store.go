// Package store defines forgelink's persistent records and the errors every
// store implementation reports. Implementations live in subpackages
// (store/sqlite, later store/postgres); consumers declare the small interface
// they need next to where they use it.
package store

import (
	"errors"
	"time"
)

// Errors returned by store implementations. Callers test them with errors.Is;
// the control plane maps them to wire errors in one place.
var (
	// ErrNotFound: the record does not exist (or was deleted).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique name or id is already taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrLimitExceeded: the write would exceed a quota passed by the caller.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrInUse: the record is referenced by others and cannot be removed.
	ErrInUse = errors.New("in use")
	// ErrUnavailable: a referenced record is not in a state that allows the
	// operation (for example a host that is not AVAILABLE yet).
	ErrUnavailable = errors.New("unavailable")
)

// Provider types, spelled as the CodeConnections API spells them.
const (
	ProviderBitbucket              = "Bitbucket"
	ProviderGitHub                 = "GitHub"
	ProviderGitHubEnterpriseServer = "GitHubEnterpriseServer"
	ProviderGitLab                 = "GitLab"
	ProviderGitLabSelfManaged      = "GitLabSelfManaged"
)

// Connection and host statuses.
const (
	StatusPending   = "PENDING"
	StatusAvailable = "AVAILABLE"
	StatusError     = "ERROR"
)

// ARN service prefixes. A resource keeps the prefix of the API namespace
// that created it, whichever namespace reads it later (AWS's rename notes).
const (
	ServiceCodeConnections     = "codeconnections"
	ServiceCodeStarConnections = "codestar-connections"
)

// Connection is a named link to one provider account. Its ARN is rendered
// from Service, Region, the account and ID, all fixed at creation.
// Connections are global: readable in every region, changed only in Region.
type Connection struct {
	ID           string // UUID, never reused
	Name         string // 1-32 characters, unique among live connections
	ProviderType string
	Region       string // home region: the region the connection was created in
	Service      string // ARN service prefix; empty is written as ServiceCodeConnections
	Status       string
	StatusReason string // why the connection is in ERROR; empty otherwise
	HostID       string // empty unless the provider is self-managed
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// WebhookSecret is the sealed first webhook secret, written together
	// with the connection by CreateConnection. Reads leave it nil: secrets
	// are read with WebhookSecrets.
	WebhookSecret []byte
}

// Host is an installed provider (GitHub Enterprise Server, GitLab
// self-managed) reachable at ProviderEndpoint. Hosts are region-scoped.
type Host struct {
	ID               string // "<name>-<8 hex>", the last ARN segment
	Name             string // 1-64 characters, unique per region
	ProviderType     string
	ProviderEndpoint string
	Region           string // the only region that sees the host
	Service          string // ARN service prefix; empty is written as ServiceCodeConnections
	Status           string
	StatusMessage    string
	VPC              *VPCConfiguration // informational; forgelink provisions no VPC resources
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// ARN is the connection's ARN in the account, as minted at creation.
func (c Connection) ARN(accountID string) string {
	return resourceARN(c.Service, c.Region, accountID, KindConnection, c.ID)
}

// ARN is the host's ARN in the account, as minted at creation.
func (h Host) ARN(accountID string) string {
	return resourceARN(h.Service, h.Region, accountID, KindHost, h.ID)
}

func resourceARN(service, region, accountID string, kind ResourceKind, id string) string {
	if service == "" {
		service = ServiceCodeConnections
	}
	return "arn:aws:" + service + ":" + region + ":" + accountID + ":" + string(kind) + "/" + id
}

// VPCConfiguration is kept so that clients that send it get it back.
type VPCConfiguration struct {
	VPCID            string   `json:"vpcId"`
	SubnetIDs        []string `json:"subnetIds"`
	SecurityGroupIDs []string `json:"securityGroupIds"`
	TLSCertificate   string   `json:"tlsCertificate,omitempty"`
}

// Tag is a key/value pair attached to a resource.
type Tag struct {
	Key   string
	Value string
}

// ResourceKind names the kinds of taggable resources, as they appear in ARNs.
type ResourceKind string

// Taggable resource kinds.
const (
	KindConnection ResourceKind = "connection"
	KindHost       ResourceKind = "host"
)

// ResourceRef identifies a taggable resource.
type ResourceRef struct {
	Kind ResourceKind
	ID   string
}

// ConnectionFilter narrows ListConnections. Zero fields match everything.
type ConnectionFilter struct {
	ProviderType string
	HostID       string
}

// HostFilter narrows ListHosts. Zero fields match everything.
type HostFilter struct {
	Region string
}

// Page asks for at most Limit records whose ID sorts after After.
// Listings are ordered by ID; a caller resumes with the last ID it saw.
// Descending (ListEvents and ListDeliveries only) lists newest first:
// After then means older than, and "" starts at the newest.
type Page struct {
	After      string
	Limit      int
	Descending bool
}

// HostUpdate holds the fields UpdateHost may change; nil means unchanged.
// When ProviderEndpoint changes the store sets the host back to PENDING,
// because the provider app was registered for the old endpoint.
type HostUpdate struct {
	ProviderEndpoint *string
	VPC              *VPCConfiguration
}

// WebhookSecret is one sealed webhook secret of a connection. The current
// secret has a zero ExpiresAt; after a rotation the previous one stays valid
// until its ExpiresAt.
type WebhookSecret struct {
	Sealed    []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Event is a recorded webhook delivery: what arrived, verified, and its
// normalised form. Events are immutable once recorded, except for Held.
type Event struct {
	ID           string // UUID v7: time-ordered
	ConnectionID string
	Provider     string
	DeliveryID   string // the provider's id; unique per connection
	Kind         string
	RawKind      string
	Repository   string
	// Held: recorded while the connection was not AVAILABLE. Routing skips
	// held events; they are released when the connection becomes AVAILABLE.
	Held       bool
	ReceivedAt time.Time
	Headers    []byte // JSON object of the headers that matter (never secrets)
	Body       []byte // raw body, byte for byte as signed
	Normalized []byte // JSON of providers.Event
	// Routed: the event's deliveries were decided. RecordEvent writes
	// Deliveries in the event's own transaction (the outbox); held events
	// are routed when released.
	Routed     bool
	Deliveries []Delivery
}

// EventFilter narrows ListEvents. Zero fields match everything.
type EventFilter struct {
	ConnectionID string
	Repository   string
	Kind         string
	Since        time.Time // received at or after
	Until        time.Time // received before
	// Recovered: only events recovery brought back, synthesised by polling
	// or redelivered at its request (store/recovery.go).
	Recovered bool
}

// GitHubInstallation ties a connection to a GitHub App installation.
type GitHubInstallation struct {
	AppID          int64
	InstallationID int64
	Account        string // the user or organization login
}

// Delivery states.
const (
	DeliveryPending    = "pending"    // waiting for its next attempt
	DeliveryLeased     = "leased"     // an attempt is in flight
	DeliverySucceeded  = "succeeded"  // the target took it
	DeliveryDead       = "dead"       // failed for good: dead-lettered
	DeliverySuperseded = "superseded" // replaced by a newer event (SUPERSEDED mode)
	DeliveryDiscarded  = "discarded"  // dropped by an operator
	// DeliveryFiltered: the provider had truncated the push's changed
	// files; on the complete list, fetched through its compare API, no
	// filter of the pipeline matched. Nothing was sent.
	DeliveryFiltered = "filtered"
)

// Delivery is one event routed to one pipeline's target.
type Delivery struct {
	ID           string // UUID v7: creation order is id order
	EventID      string
	ConnectionID string
	Pipeline     string
	Target       string
	Mode         string // the pipeline's execution mode when routed
	// Branch groups SUPERSEDED deliveries: the pushed branch, or the pull
	// request's source branch.
	Branch          string
	FilesIncomplete bool
	Message         []byte // notify.Message JSON, without the attempt number
	State           string
	Attempts        int
	NextAttemptAt   time.Time
	LeaseOwner      string
	LeaseUntil      time.Time
	LastError       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Attempt is the record of one delivery attempt.
type Attempt struct {
	DeliveryID string
	N          int // 1 for the first attempt
	StartedAt  time.Time
	Duration   time.Duration
	Outcome    string // succeeded, retry, dead, filtered
	StatusCode int
	ExitStatus *int
	Error      string
	Output     string
}

// AttemptResult completes a leased delivery.
type AttemptResult struct {
	Attempt
	LeaseOwner string
	// State is the delivery's next state: succeeded, dead, filtered, or
	// pending (to retry at NextAttemptAt).
	State         string
	NextAttemptAt time.Time
}

// DeliveryFilter narrows ListDeliveries. Zero fields match everything.
type DeliveryFilter struct {
	Pipeline string
	State    string
	EventID  string
}

// ClaimRequest asks for due deliveries.
type ClaimRequest struct {
	Owner string
	Now   time.Time
	// Lease is how long claimed deliveries stay with Owner; Leases
	// overrides it per target (a target's timeout decides its lease).
	Lease  time.Duration
	Leases map[string]time.Duration
	// Limits caps how many deliveries each target may get; targets not
	// listed get none (their breaker is open, or they are at capacity).
	Limits map[string]int
}

// DeliveryStats summarises the queue for metrics.
type DeliveryStats struct {
	Pending       int
	Leased        int
	Dead          int
	OldestPending time.Time // zero when none
}

// CredentialToken is the Kind of an access token or app password checked
// against the provider (the headless completion of a connection).
const CredentialToken = "token"

// Credential kinds of the browser set-up (relay/setup).
const (
	// CredentialGitHubApp: a GitHub App installation; Sealed holds the App
	// and installation ids, tokens are minted from the App's key.
	CredentialGitHubApp = "github-app"
	// CredentialOAuth: OAuth 2.0 access and refresh tokens (GitLab,
	// Bitbucket); ExpiresAt is the access token's expiry.
	CredentialOAuth = "oauth"
)

// Credential is what a connection authenticates to its provider with.
type Credential struct {
	Kind      string
	Sealed    []byte // sealed by the keyring under the connection id
	Account   string // the provider account the credential belongs to
	UpdatedAt time.Time
	// ExpiresAt is when the sealed access token expires; zero when it
	// does not (or forgelink does not track it).
	ExpiresAt time.Time
}
