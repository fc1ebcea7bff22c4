package store

import "time"

// Provider app kinds.
const (
	// AppGitHub: a GitHub App forgelink registered through the manifest
	// flow, on a GitHub Enterprise Server host or on github.com.
	AppGitHub = "github-app"
	// AppGitLabOAuth: the OAuth application of a GitLab self-managed host.
	AppGitLabOAuth = "gitlab-oauth"
)

// ProviderApp is an application forgelink authenticates to a provider
// with: the GitHub App of a host (or of github.com) or the OAuth
// application of a GitLab self-managed host. Its secrets (private key,
// webhook secret, client secret) are in Sealed, sealed by the keyring with
// ID as the associated data.
type ProviderApp struct {
	// ID is the host's id for a host's app; for a github.com App, a key
	// that is not a number (it names the App's webhook URL,
	// /webhooks/github-app/<ID>, before GitHub has given the App an id).
	ID       string
	Kind     string
	HostID   string // empty for github.com
	AppID    int64  // the GitHub App id; 0 for OAuth applications
	Slug     string // GitHub: the App's URL name
	Name     string
	ClientID string
	Owner    string // GitHub: the account that owns the App
	HTMLURL  string // GitHub: the App's page
	Sealed   []byte
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}
