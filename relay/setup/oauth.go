package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/bitbucket"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/store"
)

// oauthTarget is the OAuth application a connection authorizes, and the
// provider's API its tokens are for.
type oauthTarget struct {
	config *oauth2.Config
	pkce   bool
	client OAuthClient
	webURL string
	apiURL string
}

// oauthSecret is the sealed value of an oauth credential.
type oauthSecret struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh,omitempty"`
}

// oauthTarget returns the OAuth application of conn's provider: the
// configured one for gitlab.com and Bitbucket Cloud, the host's for GitLab
// self-managed.
func (s *Service) oauthTarget(ctx context.Context, conn store.Connection) (oauthTarget, error) {
	redirect := s.url("/setup/callback/oauth")
	cloud := s.opts.Cloud
	switch conn.ProviderType {
	case store.ProviderGitLab:
		if cloud.GitLabApp == nil {
			return oauthTarget{}, inputError("no gitlab.com OAuth application is configured: set providers.gitlabApp "+
				"(redirect URI %s), or complete the connection with a token (`forgelink connections complete`)", redirect)
		}
		if !servesRegion(cloud.GitLabApp.Regions, conn.Region) {
			return oauthTarget{}, noAppIn("providers.gitlabApp", conn.Region)
		}
		return gitlabTarget(cloud.GitLabWebURL, cloud.GitLabAPIURL, *cloud.GitLabApp, redirect), nil
	case store.ProviderBitbucket:
		if cloud.BitbucketConsumer == nil {
			return oauthTarget{}, inputError("no Bitbucket OAuth consumer is configured: set providers.bitbucketConsumer "+
				"(callback URL %s), or complete the connection with a token (`forgelink connections complete`)", redirect)
		}
		c := *cloud.BitbucketConsumer
		if !servesRegion(c.Regions, conn.Region) {
			return oauthTarget{}, noAppIn("providers.bitbucketConsumer", conn.Region)
		}
		return oauthTarget{config: bitbucket.OAuthConfig(cloud.BitbucketWebURL, c.ID, c.Secret, redirect), pkce: bitbucket.SupportsPKCE,
			client: c, webURL: cloud.BitbucketWebURL, apiURL: cloud.BitbucketAPIURL}, nil
	case store.ProviderGitLabSelfManaged:
		return s.hostOAuthTarget(ctx, conn.HostID, redirect)
	}
	return oauthTarget{}, inputError("connections of provider type %s are not set up with OAuth", conn.ProviderType)
}

func gitlabTarget(webURL, apiURL string, c OAuthClient, redirect string) oauthTarget {
	return oauthTarget{config: gitlab.OAuthConfig(webURL, c.ID, c.Secret, redirect), pkce: gitlab.SupportsPKCE,
		client: c, webURL: webURL, apiURL: apiURL}
}

func (s *Service) hostOAuthTarget(ctx context.Context, hostID, redirect string) (oauthTarget, error) {
	host, err := s.opts.Store.GetHost(ctx, hostID)
	if err != nil {
		return oauthTarget{}, err
	}
	endpoint, err := s.hostEndpoint(host)
	if err != nil {
		return oauthTarget{}, err
	}
	rec, err := s.opts.Store.GetProviderApp(ctx, host.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Kind != store.AppGitLabOAuth) {
		return oauthTarget{}, inputError("host %s has no OAuth application yet: set the host up first (`forgelink hosts setup`)", host.Name)
	}
	if err != nil {
		return oauthTarget{}, err
	}
	sec, err := s.openAppSecrets(rec)
	if err != nil {
		return oauthTarget{}, err
	}
	return gitlabTarget(endpoint, endpoint+"/api/v4", OAuthClient{ID: rec.ClientID, Secret: sec.ClientSecret}, redirect), nil
}

// authorizeURL is the provider's authorization page, with the PKCE
// challenge of the verifier sealed in the state.
func (s *Service) authorizeURL(ctx context.Context, conn store.Connection, st state, rawState string) (string, error) {
	t, err := s.oauthTarget(ctx, conn)
	if err != nil {
		return "", err
	}
	var opts []oauth2.AuthCodeOption
	if st.Verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(st.Verifier))
	}
	return t.config.AuthCodeURL(rawState, opts...), nil
}

// oauthCallback exchanges the authorization code and completes the
// connection with the tokens.
func (s *Service) oauthCallback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	st, conn, err := s.callbackConnection(r, false)
	if err != nil {
		return err
	}
	if e := q.Get("error"); e != "" {
		return fail(http.StatusBadRequest, "Authorization refused",
			fmt.Sprintf("the provider did not authorize forgelink (%s: %s)", e, q.Get("error_description")))
	}
	code := q.Get("code")
	if code == "" {
		return fail(http.StatusBadRequest, "The set-up cannot continue", "the provider sent no authorization code")
	}
	if err := s.checkBinding(r, st.Nonce); err != nil {
		return err
	}
	if err := s.authorizeCreator(ctx, st.Creator, conn, 0); err != nil {
		return err
	}
	if err := s.consume(ctx, st); err != nil {
		return err
	}
	t, err := s.oauthTarget(ctx, conn)
	if err != nil {
		return err
	}
	tok, err := s.exchange(ctx, t, code, st.Verifier)
	if err != nil {
		return err
	}
	account, err := s.oauthAccount(ctx, conn.ProviderType, t.apiURL, tok.AccessToken)
	if err != nil {
		return err
	}
	session := &pendingOAuthSession{Secret: oauthSecret{Access: tok.AccessToken, Refresh: tok.RefreshToken}, ExpiresAt: s.expiry(tok)}
	return s.renderConfirm(ctx, w, st, conn, pending{Account: account, OAuth: session},
		"The provider authorized forgelink as "+account+".")
}

// completeOAuth stores a confirmed OAuth set-up's tokens, which makes the
// connection AVAILABLE.
func (s *Service) completeOAuth(ctx context.Context, conn store.Connection, p pending) error {
	cred := store.Credential{Kind: store.CredentialOAuth, Sealed: s.sealJSON(p.OAuth.Secret, conn.ID), Account: p.Account,
		ExpiresAt: p.OAuth.ExpiresAt}
	if err := s.opts.Store.SetConnectionCredential(ctx, conn.ID, cred); err != nil {
		return err
	}
	s.opts.ConnectionChanged(conn.ID)
	s.opts.Log.Info("connection set up with OAuth", zap.String("connection_id", conn.ID), zap.String("account", p.Account))
	return nil
}

// exchange trades the code (and the PKCE verifier) for tokens.
func (s *Service) exchange(ctx context.Context, t oauthTarget, code, verifier string) (*oauth2.Token, error) {
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	tok, err := t.config.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.opts.Client), code, opts...)
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		return nil, fail(http.StatusBadRequest, "Authorization failed",
			fmt.Sprintf("the provider refused the authorization code (%s); start the set-up again", cmp.Or(re.ErrorCode, httpStatus(re.Response))))
	case err != nil:
		return nil, fmt.Errorf("oauth exchange: %w: %w", providers.ErrProviderUnavailable, err)
	case tok.AccessToken == "":
		return nil, fmt.Errorf("oauth exchange: %w: no access token", providers.ErrProviderUnavailable)
	}
	return tok, nil
}

// oauthAccount asks the provider, with the new access token, whose it is.
func (s *Service) oauthAccount(ctx context.Context, providerType, apiURL, token string) (string, error) {
	if providerType == store.ProviderBitbucket {
		return bitbucket.CheckToken(ctx, s.opts.Client, apiURL, token) // no colon: sent as a bearer token
	}
	c, err := gl.NewOAuthClient(token, gl.WithBaseURL(apiURL), gl.WithHTTPClient(s.opts.Client), gl.WithoutRetries())
	if err != nil {
		return "", fmt.Errorf("gitlab client: %w", err)
	}
	user, resp, err := c.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		status := 0
		if resp != nil && resp.Response != nil {
			status = resp.StatusCode
		}
		return "", fmt.Errorf("gitlab current user: %w", providers.TokenCheckError(status, err))
	}
	if user == nil {
		return providers.TokenAccount("")
	}
	return providers.TokenAccount(user.Username)
}

func httpStatus(resp *http.Response) string {
	if resp == nil {
		return "no answer"
	}
	return resp.Status
}

// expiry is when tok expires by the service's clock (oauth2 computes
// Expiry with time.Now); zero when the provider did not say.
func (s *Service) expiry(tok *oauth2.Token) time.Time {
	if tok.ExpiresIn > 0 {
		return s.opts.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return tok.Expiry
}
