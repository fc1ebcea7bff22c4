package gitlab

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/forgelink/forgelink/providers"
)

// SupportsPKCE: GitLab's authorization endpoint takes code_challenge with
// code_challenge_method=S256, and its token endpoint checks code_verifier,
// for confidential applications too.
const SupportsPKCE = true

// OAuthConfig is the OAuth 2.0 authorization code flow against the GitLab
// instance at webBaseURL (https://gitlab.com or a self-managed host's web
// URL, without /api/v4). It asks for "api" (project hooks, compare) and
// "read_repository" (clone). GitLab takes the client credentials in the
// form body.
func OAuthConfig(webBaseURL, clientID, clientSecret, redirectURL string) *oauth2.Config {
	web := strings.TrimSuffix(webBaseURL, "/")
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURL:  redirectURL,
		Scopes:       []string{"api", "read_repository"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   web + "/oauth/authorize",
			TokenURL:  web + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// CheckOAuthApp checks an OAuth application's id and secret against the
// GitLab instance at webBaseURL without a user: it exchanges a random code
// that GitLab never issued. GitLab (Doorkeeper) authenticates the client
// before it looks at the grant, so by RFC 6749 §5.2 a wrong id or secret
// answers "invalid_client" (401) and right ones "invalid_grant" (400, the
// code is unknown). The first wraps providers.ErrTokenRejected, the second
// is success; any other answer wraps providers.ErrProviderUnavailable.
func CheckOAuthApp(ctx context.Context, client *http.Client, webBaseURL, clientID, clientSecret, redirectURL string) error {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	_, err := OAuthConfig(webBaseURL, clientID, clientSecret, redirectURL).Exchange(ctx, "forgelink-check-"+rand.Text())
	if err == nil {
		return fmt.Errorf("gitlab oauth app: %w: the token endpoint accepted a code it never issued", providers.ErrProviderUnavailable)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("gitlab oauth app: %w: %w", providers.ErrProviderUnavailable, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	// The provider's error_description is dropped: only the RFC's error
	// code and the status are reported.
	switch re.ErrorCode {
	case "invalid_grant":
		return nil
	case "invalid_client":
		return fmt.Errorf("gitlab oauth app: %w: the token endpoint refused the client id and secret (HTTP %d invalid_client)", providers.ErrTokenRejected, status)
	}
	return fmt.Errorf("gitlab oauth app: %w: the token endpoint answered HTTP %d", providers.ErrProviderUnavailable, status)
}

// RevokeToken revokes an OAuth access or refresh token issued to the
// application (RFC 7009, POST {web}/oauth/revoke). GitLab keeps an access
// token and its refresh token as one grant, so revoking either ends both.
// GitLab answers 200 for a token it does not know, as RFC 7009 asks, so
// revoking twice succeeds. A refused client wraps
// providers.ErrTokenRejected; no answer or another status,
// providers.ErrProviderUnavailable.
func RevokeToken(ctx context.Context, client *http.Client, webBaseURL, clientID, clientSecret, token string) error {
	form := url.Values{"client_id": {clientID}, "client_secret": {clientSecret}, "token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(webBaseURL, "/")+"/oauth/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("gitlab revoke token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("gitlab revoke token: %w: %w", providers.ErrProviderUnavailable, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("gitlab revoke token: %w", &providers.StatusError{StatusCode: resp.StatusCode})
	}
	return nil
}
