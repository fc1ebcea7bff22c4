package bitbucket

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/forgelink/forgelink/providers"
)

// SupportsPKCE: Bitbucket Cloud documents no code_challenge for its OAuth
// 2.0 consumers (developer.atlassian.com/cloud/bitbucket/oauth-2 lists the
// code, implicit, client credentials and JWT grants only); PKCE is a
// Bitbucket Data Center feature. The consumer is confidential and
// authenticates with its secret instead.
const SupportsPKCE = false

// DefaultWebBaseURL is Bitbucket Cloud's web host, where its OAuth
// endpoints are.
const DefaultWebBaseURL = "https://bitbucket.org"

// OAuthConfig is the OAuth 2.0 authorization code flow of the Bitbucket
// Cloud consumer key/secret at webBaseURL ("" for DefaultWebBaseURL). The
// consumer authenticates with HTTP Basic. Bitbucket fixes the scopes and
// the callback URL on the consumer, so none are asked for here;
// redirectURL is still sent, and must be the consumer's callback URL.
func OAuthConfig(webBaseURL, key, secret, redirectURL string) *oauth2.Config {
	web := strings.TrimSuffix(cmp.Or(webBaseURL, DefaultWebBaseURL), "/")
	return &oauth2.Config{
		ClientID:     key,
		ClientSecret: secret,
		RedirectURL:  redirectURL,
		Endpoint: oauth2.Endpoint{
			AuthURL:   web + "/site/oauth2/authorize",
			TokenURL:  web + "/site/oauth2/access_token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// CheckOAuthConsumer checks a consumer's key and secret against Bitbucket
// at webBaseURL ("" for DefaultWebBaseURL) without a user: it exchanges a
// random code that Bitbucket never issued. The client is authenticated
// before the grant, so wrong credentials are refused as a client (RFC 6749
// §5.2 "invalid_client"; Bitbucket Cloud answers 400 "unauthorized_client",
// "Invalid OAuth client credentials") and right ones reach the grant,
// "invalid_grant". The first wraps providers.ErrTokenRejected, the second
// is success; any other answer wraps providers.ErrProviderUnavailable.
func CheckOAuthConsumer(ctx context.Context, client *http.Client, webBaseURL, key, secret string) error {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	_, err := OAuthConfig(webBaseURL, key, secret, "").Exchange(ctx, "forgelink-check-"+rand.Text())
	if err == nil {
		return fmt.Errorf("bitbucket oauth consumer: %w: the token endpoint accepted a code it never issued", providers.ErrProviderUnavailable)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("bitbucket oauth consumer: %w: %w", providers.ErrProviderUnavailable, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	switch re.ErrorCode {
	case "invalid_grant":
		return nil
	case "invalid_client", "unauthorized_client":
		return fmt.Errorf("bitbucket oauth consumer: %w: the token endpoint refused the key and secret (HTTP %d %s)", providers.ErrTokenRejected, status, re.ErrorCode)
	}
	return fmt.Errorf("bitbucket oauth consumer: %w: the token endpoint answered HTTP %d", providers.ErrProviderUnavailable, status)
}
