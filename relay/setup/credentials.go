package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/store"
)

const (
	// refreshBefore: Token refreshes an OAuth access token this close to
	// its expiry, so that the caller's request does not outlive it.
	refreshBefore = 5 * time.Minute
	// refreshAhead: the refresher (Run) refreshes the tokens expiring
	// within this, every refreshEvery.
	refreshAhead = 10 * time.Minute
	refreshEvery = time.Minute
	// mintedMargin: a cached installation token is used until this close
	// to its expiry (GitHub gives an hour).
	mintedMargin = 5 * time.Minute
	// refreshTimeout bounds one refresh, which runs to completion even
	// when its caller gives up: a rotated refresh token must be stored.
	refreshTimeout = 30 * time.Second
)

// Reasons a connection goes to ERROR.
const (
	reasonRefreshRefused = "token refresh failed: the provider refused the refresh token (invalid_grant); set up the connection again"
	reasonNoRefresh      = "the OAuth access token expired and the provider gave no refresh token; set up the connection again"
	reasonNoInstallation = "the GitHub App installation no longer exists; set up the connection again"
)

// errNoRefresh: an expired OAuth credential without a refresh token.
var errNoRefresh = errors.New("no refresh token")

// mintedToken is a cached GitHub installation token.
type mintedToken struct {
	ref     installationRef
	token   providers.Token
	expires time.Time
	apiURL  string // where it can be revoked
}

// Token returns a usable API token for conn: an access token as stored, an
// OAuth access token refreshed when within 5 minutes of its expiry, or a
// GitHub App installation token (cached until 5 minutes before its expiry).
// No credential: an error wrapping store.ErrNotFound; a refresh the
// provider refuses puts the connection in ERROR and wraps
// providers.ErrTokenRejected.
func (s *Service) Token(ctx context.Context, conn store.Connection) (providers.Token, error) {
	cred, err := s.opts.Store.GetConnectionCredential(ctx, conn.ID)
	if err != nil {
		return providers.Token{}, fmt.Errorf("token of connection %s: %w", conn.ID, err)
	}
	switch cred.Kind {
	case store.CredentialToken:
		plain, err := s.opts.Keyring.Open(cred.Sealed, []byte(conn.ID))
		if err != nil {
			return providers.Token{}, fmt.Errorf("token of connection %s: %w", conn.ID, err)
		}
		return providers.Token{Value: string(plain)}, nil
	case store.CredentialOAuth:
		sec, _, err := s.oauthToken(ctx, conn, refreshBefore)
		return providers.Token{Value: sec.Access, OAuth: true}, err
	case store.CredentialGitHubApp:
		m, err := s.installationToken(ctx, conn, cred)
		return m.token, err
	}
	return providers.Token{}, fmt.Errorf("token of connection %s: unknown credential kind %q", conn.ID, cred.Kind)
}

// API returns the API base URL of conn's provider: the configured one for
// the cloud providers, derived from the host's endpoint (checked again, as
// hostEndpoint does) for self-managed ones.
func (s *Service) API(ctx context.Context, conn store.Connection) (string, error) {
	switch conn.ProviderType {
	case store.ProviderGitHub:
		return s.opts.Cloud.GitHubAPIURL, nil
	case store.ProviderGitLab:
		return s.opts.Cloud.GitLabAPIURL, nil
	case store.ProviderBitbucket:
		return s.opts.Cloud.BitbucketAPIURL, nil
	case store.ProviderGitHubEnterpriseServer:
		return s.hostAPI(ctx, conn, "/api/v3/")
	case store.ProviderGitLabSelfManaged:
		return s.hostAPI(ctx, conn, "/api/v4")
	}
	return "", fmt.Errorf("api of connection %s: unknown provider type %q", conn.ID, conn.ProviderType)
}

// GitOrigin is where git reaches the connection's repositories: the
// scheme and "host[:port]" (as the URL spells it, port absent for the
// scheme's default) of the cloud provider's web URL (github.com,
// gitlab.com, bitbucket.org, or the configured override) or of the
// self-managed host's endpoint, which is checked again as hostEndpoint
// does (plain HTTP only when allowed).
func (s *Service) GitOrigin(ctx context.Context, conn store.Connection) (scheme, hostport string, err error) {
	var web string
	switch conn.ProviderType {
	case store.ProviderGitHub:
		web = s.opts.Cloud.GitHubWebURL
	case store.ProviderGitLab:
		web = s.opts.Cloud.GitLabWebURL
	case store.ProviderBitbucket:
		web = s.opts.Cloud.BitbucketWebURL
	case store.ProviderGitHubEnterpriseServer, store.ProviderGitLabSelfManaged:
		if web, err = s.hostAPI(ctx, conn, ""); err != nil {
			return "", "", err
		}
	default:
		return "", "", fmt.Errorf("git origin of connection %s: unknown provider type %q", conn.ID, conn.ProviderType)
	}
	u, err := url.Parse(web)
	if err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "", fmt.Errorf("git origin of connection %s: no http(s) host in %q", conn.ID, web)
	}
	return u.Scheme, strings.ToLower(u.Host), nil
}

// hostAPI is the API at path on the endpoint of conn's host.
func (s *Service) hostAPI(ctx context.Context, conn store.Connection, path string) (string, error) {
	host, err := s.opts.Store.GetHost(ctx, conn.HostID)
	if err != nil {
		return "", fmt.Errorf("host of connection %s: %w", conn.ID, err)
	}
	endpoint, err := s.hostEndpoint(host)
	if err != nil {
		return "", err
	}
	return endpoint + path, nil
}

// RepositoryToken returns a token for reading one repository over git: a
// GitHub installation token limited to that repository with read access,
// the (refreshed) OAuth access token, or the stored access token, each
// with the username git must send along.
func (s *Service) RepositoryToken(ctx context.Context, conn store.Connection, repository string) (providers.AccessToken, error) {
	cred, err := s.opts.Store.GetConnectionCredential(ctx, conn.ID)
	if err != nil {
		return providers.AccessToken{}, fmt.Errorf("token of connection %s: %w", conn.ID, err)
	}
	switch cred.Kind {
	case store.CredentialGitHubApp:
		return s.repositoryInstallationToken(ctx, conn, cred, repository)
	case store.CredentialOAuth:
		sec, expires, err := s.oauthToken(ctx, conn, refreshBefore)
		if err != nil {
			return providers.AccessToken{}, err
		}
		user := "oauth2"
		if conn.ProviderType == store.ProviderBitbucket {
			user = "x-token-auth"
		}
		return providers.AccessToken{Token: sec.Access, Username: user, ExpiresAt: expires}, nil
	case store.CredentialToken:
		plain, err := s.opts.Keyring.Open(cred.Sealed, []byte(conn.ID))
		if err != nil {
			return providers.AccessToken{}, fmt.Errorf("token of connection %s: %w", conn.ID, err)
		}
		return storedAccessToken(conn.ProviderType, string(plain)), nil
	}
	return providers.AccessToken{}, fmt.Errorf("token of connection %s: unknown credential kind %q", conn.ID, cred.Kind)
}

// storedAccessToken is how git sends a stored token to each provider.
func storedAccessToken(providerType, token string) providers.AccessToken {
	switch providerType {
	case store.ProviderGitHub, store.ProviderGitHubEnterpriseServer:
		return providers.AccessToken{Token: token, Username: "x-access-token"}
	case store.ProviderBitbucket:
		if user, password, ok := strings.Cut(token, ":"); ok {
			return providers.AccessToken{Token: password, Username: user} // app password
		}
		return providers.AccessToken{Token: token, Username: "x-token-auth"}
	}
	return providers.AccessToken{Token: token, Username: "oauth2"}
}

func (s *Service) repositoryInstallationToken(ctx context.Context, conn store.Connection, cred store.Credential, repository string) (providers.AccessToken, error) {
	var ref installationRef
	if err := s.openJSON(cred.Sealed, conn.ID, &ref); err != nil {
		return providers.AccessToken{}, fmt.Errorf("credential of connection %s: %w", conn.ID, err)
	}
	app, err := s.appByID(ctx, conn, ref.AppID)
	if err != nil {
		return providers.AccessToken{}, err
	}
	client, err := s.newAppClient(app)
	if err != nil {
		return providers.AccessToken{}, err
	}
	return client.RepositoryToken(ctx, ref.InstallationID, repository)
}

// oauthToken returns conn's OAuth tokens, refreshed first when the access
// token expires within the given time. One refresh per connection runs at
// a time; the others wait and then read what it stored.
func (s *Service) oauthToken(ctx context.Context, conn store.Connection, within time.Duration) (oauthSecret, time.Time, error) {
	unlock, err := s.flights.lock(ctx, conn.ID)
	if err != nil {
		return oauthSecret{}, time.Time{}, err
	}
	defer unlock()
	cred, err := s.opts.Store.GetConnectionCredential(ctx, conn.ID)
	if err != nil {
		return oauthSecret{}, time.Time{}, fmt.Errorf("token of connection %s: %w", conn.ID, err)
	}
	var sec oauthSecret
	if cred.Kind != store.CredentialOAuth {
		return oauthSecret{}, time.Time{}, fmt.Errorf("token of connection %s: credential is %s, not oauth", conn.ID, cred.Kind)
	}
	if err := s.openJSON(cred.Sealed, conn.ID, &sec); err != nil {
		return oauthSecret{}, time.Time{}, fmt.Errorf("token of connection %s: %w", conn.ID, err)
	}
	now := s.opts.Now()
	if cred.ExpiresAt.IsZero() || now.Add(within).Before(cred.ExpiresAt) {
		return sec, cred.ExpiresAt, nil
	}
	next, expires, err := s.refresh(ctx, conn, cred, sec)
	switch {
	case err == nil:
		return next, expires, nil
	case refusedRefresh(err):
		reason := reasonRefreshRefused
		if errors.Is(err, errNoRefresh) {
			reason = reasonNoRefresh
		}
		s.setError(ctx, conn.ID, reason)
		return oauthSecret{}, time.Time{}, fmt.Errorf("refresh token of connection %s: %w: %w", conn.ID, providers.ErrTokenRejected, err)
	case now.Before(cred.ExpiresAt):
		// The current token serves while it lasts; the next call retries.
		s.opts.Log.Warn("oauth token refresh failed; retrying later", zap.String("connection_id", conn.ID), zap.Error(err))
		return sec, cred.ExpiresAt, nil
	}
	return oauthSecret{}, time.Time{}, fmt.Errorf("refresh token of connection %s: %w: %w", conn.ID, providers.ErrProviderUnavailable, err)
}

// refresh trades the refresh token for new tokens and stores them before
// they are used: GitLab rotates refresh tokens, so the old one is dead
// once the provider has answered.
func (s *Service) refresh(ctx context.Context, conn store.Connection, cred store.Credential, sec oauthSecret) (oauthSecret, time.Time, error) {
	if sec.Refresh == "" {
		return oauthSecret{}, time.Time{}, errNoRefresh
	}
	t, err := s.oauthTarget(ctx, conn)
	if err != nil {
		return oauthSecret{}, time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	tok, err := t.config.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, s.opts.Client),
		&oauth2.Token{RefreshToken: sec.Refresh}).Token()
	if err != nil {
		return oauthSecret{}, time.Time{}, err
	}
	next := oauthSecret{Access: tok.AccessToken, Refresh: cmp.Or(tok.RefreshToken, sec.Refresh)}
	expires := s.expiry(tok)
	if err := s.opts.Store.RotateCredential(ctx, conn.ID, cred.Sealed, s.sealJSON(next, conn.ID), expires); err != nil {
		return oauthSecret{}, time.Time{}, fmt.Errorf("store refreshed token: %w", err)
	}
	s.opts.Log.Info("oauth token refreshed", zap.String("connection_id", conn.ID), zap.Time("expires_at", expires))
	return next, expires, nil
}

// refusedRefresh tells a refresh token the provider refused (it will never
// work again) from a failure to ask.
func refusedRefresh(err error) bool {
	if errors.Is(err, errNoRefresh) {
		return true
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	return re.ErrorCode == "invalid_grant" || (re.Response != nil && re.Response.StatusCode == 401)
}

// installationToken returns a cached installation token, or mints one.
func (s *Service) installationToken(ctx context.Context, conn store.Connection, cred store.Credential) (mintedToken, error) {
	var ref installationRef
	if err := s.openJSON(cred.Sealed, conn.ID, &ref); err != nil {
		return mintedToken{}, fmt.Errorf("credential of connection %s: %w", conn.ID, err)
	}
	unlock, err := s.flights.lock(ctx, conn.ID)
	if err != nil {
		return mintedToken{}, err
	}
	defer unlock()
	s.mu.Lock()
	m, ok := s.minted[conn.ID]
	s.mu.Unlock()
	if ok && m.ref == ref && s.opts.Now().Add(mintedMargin).Before(m.expires) {
		return m, nil
	}
	app, err := s.appByID(ctx, conn, ref.AppID)
	if err != nil {
		return mintedToken{}, err
	}
	client, err := s.newAppClient(app)
	if err != nil {
		return mintedToken{}, err
	}
	tok, expires, err := client.InstallationToken(ctx, ref.InstallationID)
	if errors.Is(err, providers.ErrNotFound) {
		s.setError(ctx, conn.ID, reasonNoInstallation)
	}
	if err != nil {
		return mintedToken{}, fmt.Errorf("installation token of connection %s: %w", conn.ID, err)
	}
	m = mintedToken{ref: ref, token: tok, expires: expires, apiURL: app.apiURL}
	s.mu.Lock()
	s.minted[conn.ID] = m
	s.mu.Unlock()
	return m, nil
}

// forgetMinted drops the connection's cached installation token and
// returns it, if there was one.
func (s *Service) forgetMinted(connID string) (mintedToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.minted[connID]
	delete(s.minted, connID)
	return m, ok
}

// Run refreshes, every minute until ctx ends, the OAuth tokens that expire
// within 10 minutes. A refresh token the provider refuses puts its
// connection in ERROR; other failures are logged and retried.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		s.refreshDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) refreshDue(ctx context.Context) {
	conns, err := s.opts.Store.ExpiringCredentials(ctx, s.opts.Now().Add(refreshAhead))
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Log.Error("find expiring credentials", zap.Error(err))
		}
		return
	}
	for _, conn := range conns {
		if _, _, err := s.oauthToken(ctx, conn, refreshAhead); err != nil && ctx.Err() == nil {
			s.opts.Log.Warn("refresh oauth token", zap.String("connection_id", conn.ID), zap.Error(err))
		}
	}
}

// Rejected puts the connection in ERROR with reason: a caller's request
// with its token was answered 401.
func (s *Service) Rejected(ctx context.Context, connID, reason string) {
	s.setError(ctx, connID, reason)
}

func (s *Service) setError(ctx context.Context, connID, reason string) {
	s.forgetMinted(connID)
	if err := s.opts.Store.SetConnectionStatus(context.WithoutCancel(ctx), connID, store.StatusError, reason); err != nil {
		s.opts.Log.Error("set connection status", zap.String("connection_id", connID), zap.Error(err))
		return
	}
	s.opts.ConnectionChanged(connID)
	s.opts.Log.Warn("connection in ERROR", zap.String("connection_id", connID), zap.String("reason", reason))
}

// Revoke revokes, before conn is deleted, what forgelink was issued for
// it: a GitLab OAuth grant (the access token and its refresh token) and a
// cached GitHub installation token. Nothing else can be revoked: a
// personal or project access token belongs to whoever created it, an App
// installation is its owner's to uninstall, and Bitbucket Cloud offers no
// revocation of OAuth tokens (they expire within two hours).
func (s *Service) Revoke(ctx context.Context, conn store.Connection) error {
	var errs []error
	if m, ok := s.forgetMinted(conn.ID); ok {
		errs = append(errs, github.RevokeInstallationToken(ctx, s.opts.Client, m.apiURL, m.token.Value))
	}
	cred, err := s.opts.Store.GetConnectionCredential(ctx, conn.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errors.Join(errs...)
	}
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if cred.Kind == store.CredentialOAuth && conn.ProviderType != store.ProviderBitbucket {
		errs = append(errs, s.revokeGitLab(ctx, conn, cred))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("revoke credentials of connection %s: %w", conn.ID, err)
	}
	return nil
}

func (s *Service) revokeGitLab(ctx context.Context, conn store.Connection, cred store.Credential) error {
	var sec oauthSecret
	if err := s.openJSON(cred.Sealed, conn.ID, &sec); err != nil {
		return err
	}
	t, err := s.oauthTarget(ctx, conn)
	if err != nil {
		return err
	}
	return gitlab.RevokeToken(ctx, s.opts.Client, t.webURL, t.client.ID, t.client.Secret, sec.Access)
}
