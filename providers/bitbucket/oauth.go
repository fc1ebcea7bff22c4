package bitbucket

import (
	"cmp"
	"context"
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
// at webBaseURL ("" for DefaultWebBaseURL) without a user
// (providers.CheckClient). Bitbucket Cloud answers wrong ones 400
// "unauthorized_client" ("Invalid OAuth client credentials") rather than
// the RFC's "invalid_client"; both wrap providers.ErrTokenRejected.
func CheckOAuthConsumer(ctx context.Context, client *http.Client, webBaseURL, key, secret string) error {
	err := providers.CheckClient(ctx, client, OAuthConfig(webBaseURL, key, secret, ""), "invalid_client", "unauthorized_client")
	if err != nil {
		return fmt.Errorf("bitbucket oauth consumer: %w", err)
	}
	return nil
}
