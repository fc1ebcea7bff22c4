package gitlab

import (
	"context"
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
// GitLab instance at webBaseURL without a user (providers.CheckClient):
// GitLab (Doorkeeper) answers wrong ones "invalid_client" (401), which wraps
// providers.ErrTokenRejected.
func CheckOAuthApp(ctx context.Context, client *http.Client, webBaseURL, clientID, clientSecret, redirectURL string) error {
	err := providers.CheckClient(ctx, client, OAuthConfig(webBaseURL, clientID, clientSecret, redirectURL), "invalid_client")
	if err != nil {
		return fmt.Errorf("gitlab oauth app: %w", err)
	}
	return nil
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
