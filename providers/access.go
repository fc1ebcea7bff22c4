package providers

import (
	"errors"
	"slices"
	"time"
)

// ErrNotFound: the provider has no such resource, or does not show it to
// the credential (GitHub answers 404 for a private repository the token
// cannot read).
var ErrNotFound = errors.New("not found at the provider")

// Token is a credential forgelink holds for a connection, as the provider
// packages need it to call the provider's API on the connection's behalf.
type Token struct {
	Value string
	// OAuth: an OAuth 2.0 access token, sent as a bearer token (GitLab's
	// client-go OAuth client, Bitbucket's bearer). Otherwise the
	// provider's personal form: a GitHub token (bearer), a GitLab
	// personal/project token (PRIVATE-TOKEN), a Bitbucket
	// "user:app_password" (Basic) or access token (bearer).
	OAuth bool
}

// AccessToken is a short-lived token vended for reading one repository
// over git (see `forgelink git-credential`).
type AccessToken struct {
	Token string
	// Username is what git sends with the token: x-access-token (GitHub),
	// oauth2 (GitLab), x-token-auth (Bitbucket).
	Username  string
	ExpiresAt time.Time // zero when the provider gives no expiry
}

// HookSpec is the webhook forgelink wants on one repository: the
// connection's URL, secret and events. A hook is forgelink's when its URL
// is URL; URLs are unique per connection.
type HookSpec struct {
	URL    string
	Secret string
	// SecretCurrent: forgelink recorded that the hook already carries
	// Secret. Providers never show a hook's secret back, so drift of the
	// secret cannot be read; false makes Ensure write it.
	SecretCurrent bool
	// FormerURLs are URLs the connection's hooks were registered with
	// before (an older form of forgelink's URL): a hook carrying one is
	// forgelink's too, and Ensure moves it to URL rather than adding one.
	FormerURLs []string
}

// Owns reports whether a hook with hookURL is forgelink's hook of spec.
func (s HookSpec) Owns(hookURL string) bool {
	return hookURL == s.URL || slices.Contains(s.FormerURLs, hookURL)
}

// Hook is forgelink's webhook on one repository, as Ensure left it.
type Hook struct {
	ID      string
	Created bool // Ensure created it
	Updated bool // Ensure repaired it: URL, events, secret, or disabled
	Removed int  // duplicates of it that Ensure deleted
}
