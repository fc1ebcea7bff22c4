package setup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/store"
)

func isGitHub(providerType string) bool {
	return providerType == store.ProviderGitHub || providerType == store.ProviderGitHubEnterpriseServer
}

// ghApp is a GitHub App forgelink can act as, and where its GitHub is.
type ghApp struct {
	id     int64
	slug   string
	key    []byte             // private key, PEM
	oauth  github.OAuthClient // exchanges the user authorization of an installation
	webURL string             // https://github.com, or the GHES host's endpoint
	apiURL string
}

// installationRef is the sealed value of a github-app credential: which
// App installation completed the connection. Tokens are minted from it.
type installationRef struct {
	AppID          int64 `json:"appId"`
	InstallationID int64 `json:"installationId"`
}

// installApp returns the App that sets up conn now: its host's App (GHES),
// the first configured github.com App, or the newest one registered on
// github.com through the manifest flow.
func (s *Service) installApp(ctx context.Context, conn store.Connection) (ghApp, error) {
	app, err := s.pickInstallApp(ctx, conn)
	if err == nil && (app.oauth.ID == "" || app.oauth.Secret == "") {
		return ghApp{}, inputError("the GitHub App %s has no OAuth client id and secret in forgelink: set clientId and clientSecretFile "+
			"in its githubApps[] entry (set-up proves the installation with the App's user authorization)", app.slug)
	}
	return app, err
}

func (s *Service) pickInstallApp(ctx context.Context, conn store.Connection) (ghApp, error) {
	if conn.ProviderType == store.ProviderGitHubEnterpriseServer {
		return s.hostGitHubApp(ctx, conn.HostID, 0, true)
	}
	if apps := s.opts.Cloud.GitHubApps; len(apps) > 0 {
		for _, a := range apps {
			if servesRegion(a.Regions, conn.Region) {
				return s.configuredApp(a), nil
			}
		}
		return ghApp{}, noAppIn("githubApps[] (no entry's regions)", conn.Region)
	}
	recs, err := s.cloudAppRecords(ctx)
	if err != nil {
		return ghApp{}, err
	}
	if len(recs) == 0 {
		return ghApp{}, inputError("no GitHub App is set up for github.com: give a githubApps[] entry of the forgelink " +
			"configuration a slug and privateKeyFile, or register one with `forgelink hosts setup --github-app`")
	}
	return s.openCloudApp(recs[len(recs)-1])
}

// appByID returns the App appID that completed conn.
func (s *Service) appByID(ctx context.Context, conn store.Connection, appID int64) (ghApp, error) {
	if conn.ProviderType == store.ProviderGitHubEnterpriseServer {
		return s.hostGitHubApp(ctx, conn.HostID, appID, false)
	}
	for _, a := range s.opts.Cloud.GitHubApps {
		if a.AppID == appID {
			return s.configuredApp(a), nil
		}
	}
	recs, err := s.cloudAppRecords(ctx)
	if err != nil {
		return ghApp{}, err
	}
	for _, rec := range recs {
		if rec.AppID == appID {
			return s.openCloudApp(rec)
		}
	}
	return ghApp{}, fmt.Errorf("github app %d of connection %s: no longer configured or registered: %w", appID, conn.ID, store.ErrNotFound)
}

func (s *Service) cloudApp(id int64, slug string, key []byte, oauth github.OAuthClient) ghApp {
	return ghApp{id: id, slug: slug, key: key, oauth: oauth, webURL: s.opts.Cloud.GitHubWebURL, apiURL: s.opts.Cloud.GitHubAPIURL}
}

func (s *Service) configuredApp(a GitHubAppKey) ghApp {
	return s.cloudApp(a.AppID, a.Slug, a.PrivateKey, github.OAuthClient{ID: a.ClientID, Secret: a.ClientSecret})
}

// cloudAppRecords lists the github.com Apps registered through the
// manifest flow, oldest first.
func (s *Service) cloudAppRecords(ctx context.Context) ([]store.ProviderApp, error) {
	all, err := s.opts.Store.ListProviderApps(ctx)
	if err != nil {
		return nil, err
	}
	var recs []store.ProviderApp
	for _, a := range all {
		if a.Kind == store.AppGitHub && a.HostID == "" {
			recs = append(recs, a)
		}
	}
	return recs, nil
}

func (s *Service) openCloudApp(rec store.ProviderApp) (ghApp, error) {
	sec, err := s.openAppSecrets(rec)
	if err != nil {
		return ghApp{}, err
	}
	return s.cloudApp(rec.AppID, rec.Slug, sec.PrivateKey, github.OAuthClient{ID: rec.ClientID, Secret: sec.ClientSecret}), nil
}

// hostGitHubApp returns the App registered on a GHES host. Setting up a
// connection needs the host AVAILABLE: a host sent back to PENDING has an
// App registered for its old endpoint.
func (s *Service) hostGitHubApp(ctx context.Context, hostID string, appID int64, mustBeAvailable bool) (ghApp, error) {
	host, err := s.opts.Store.GetHost(ctx, hostID)
	if err != nil {
		return ghApp{}, err
	}
	endpoint, err := s.hostEndpoint(host)
	if err != nil {
		return ghApp{}, err
	}
	if mustBeAvailable && host.Status != store.StatusAvailable {
		return ghApp{}, inputError("host %s is %s: set the host up first (`forgelink hosts setup`)", host.Name, host.Status)
	}
	rec, err := s.opts.Store.GetProviderApp(ctx, host.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Kind != store.AppGitHub) {
		return ghApp{}, inputError("host %s has no GitHub App yet: set the host up first (`forgelink hosts setup`)", host.Name)
	}
	if err != nil {
		return ghApp{}, err
	}
	if appID != 0 && rec.AppID != appID {
		return ghApp{}, fmt.Errorf("github app %d of host %s was replaced by app %d: %w", appID, host.ID, rec.AppID, store.ErrNotFound)
	}
	sec, err := s.openAppSecrets(rec)
	if err != nil {
		return ghApp{}, err
	}
	return ghApp{id: rec.AppID, slug: rec.Slug, key: sec.PrivateKey, oauth: github.OAuthClient{ID: rec.ClientID, Secret: sec.ClientSecret},
		webURL: endpoint, apiURL: endpoint + "/api/v3/"}, nil
}

func (s *Service) newAppClient(app ghApp) (*github.App, error) {
	return github.NewApp(s.opts.Client, app.apiURL, app.id, app.key)
}

// installURL is the App's installation page; GitHub brings the browser
// back to the App's callback URL (/setup/callback/github) with the state
// and a user authorization code.
func (s *Service) installURL(ctx context.Context, conn store.Connection, rawState string) (string, error) {
	app, err := s.installApp(ctx, conn)
	if err != nil {
		return "", err
	}
	return github.InstallURL(app.webURL, app.slug, rawState)
}

// callbackConnection opens the state of a connection's callback and
// returns the connection it names, which must be of the callback's kind:
// GitHub (App installation) or not (OAuth). Only a forgery pairs a
// callback with another provider's connection.
func (s *Service) callbackConnection(r *http.Request, github bool) (state, store.Connection, error) {
	st, err := s.openState(r.URL.Query().Get("state"), purposeConnection)
	if err != nil {
		return state{}, store.Connection{}, err
	}
	conn, err := s.opts.Store.GetConnection(r.Context(), st.Resource)
	if err != nil {
		return state{}, store.Connection{}, err
	}
	if isGitHub(conn.ProviderType) != github {
		return state{}, store.Connection{}, errForged
	}
	return st, conn, nil
}

// githubCallback proves and confirms the installation GitHub names, then
// shows the account for the operator to confirm. GitHub sends the browser
// here after the installation with the user authorization the App
// requests on install: the code proves, through GET /user/installations,
// that the person in the browser can access the installation; the
// installation_id alone could be anyone's.
func (s *Service) githubCallback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	st, conn, err := s.callbackConnection(r, true)
	if err != nil {
		return err
	}
	if err := s.checkBinding(r, st.Nonce); err != nil {
		return err
	}
	if q.Get("setup_action") == "request" {
		s.renderDone(w, "Installation requested",
			"GitHub sent the installation request to an owner of the organization. Once an owner approves it, "+
				"follow a new set-up link for the connection: it stays "+conn.Status+" until then.",
			detail{"Connection", conn.Name})
		return nil
	}
	installationID, err := strconv.ParseInt(q.Get("installation_id"), 10, 64)
	if err != nil || installationID <= 0 {
		return fail(http.StatusBadRequest, "The set-up cannot continue", "GitHub sent no valid installation_id")
	}
	if q.Get("code") == "" {
		return fail(http.StatusBadRequest, "The installation is not proven",
			"GitHub sent no user authorization code: the App must have \"Request user authorization (OAuth) during installation\" on, "+
				"with the callback URL "+s.url("/setup/callback/github"))
	}
	if err := s.authorizeCreator(ctx, st.Creator, conn, installationID); err != nil {
		return err
	}
	app, err := s.installApp(ctx, conn)
	if err != nil {
		return err
	}
	if err := s.consume(ctx, st); err != nil {
		return err
	}
	if err := s.proveInstallation(ctx, app, q.Get("code"), installationID); err != nil {
		return err
	}
	inst, err := s.confirmInstallation(ctx, app, installationID)
	if err != nil {
		return err
	}
	ref := installationRef{AppID: app.id, InstallationID: inst.ID}
	if err := s.checkUnshared(ctx, conn, ref); err != nil {
		return err
	}
	return s.renderConfirm(ctx, w, st, conn, pending{Account: inst.Account, GitHub: &ref},
		fmt.Sprintf("GitHub confirmed that you can access the installation of the App %s on %s.", app.slug, inst.Account))
}

// proveInstallation exchanges the user authorization code and checks that
// its user can access installation id. The user token is revoked once
// asked, and never stored.
func (s *Service) proveInstallation(ctx context.Context, app ghApp, code string, id int64) error {
	token, err := github.ExchangeUserCode(ctx, s.opts.Client, app.webURL, app.oauth, code)
	var refused *github.ErrCodeRefused
	switch {
	case errors.As(err, &refused) && refused.Code == "incorrect_client_credentials":
		return fail(http.StatusBadGateway, "GitHub refused the App's client credentials",
			fmt.Sprintf("GitHub refused the client id or secret of the App %s: check the configuration", app.slug))
	case errors.As(err, &refused):
		return fail(http.StatusBadRequest, "Authorization failed",
			fmt.Sprintf("GitHub refused the authorization code (%s); start the set-up again", refused.Code))
	case err != nil:
		return err
	}
	defer func() {
		if err := github.RevokeUserToken(context.WithoutCancel(ctx), s.opts.Client, app.apiURL, app.oauth, token); err != nil {
			s.opts.Log.Warn("revoke the user token of a set-up", zap.String("app", app.slug), zap.Error(err))
		}
	}()
	ok, err := github.UserCanAccessInstallation(ctx, s.opts.Client, app.apiURL, token, id)
	switch {
	case errors.Is(err, providers.ErrTokenRejected):
		// A token GitHub has just issued: GitHub, not the operator, is amiss.
		return fmt.Errorf("prove installation %d: %w: %w", id, providers.ErrProviderUnavailable, err)
	case err != nil:
		return err
	case !ok:
		return fail(http.StatusForbidden, "Installation not yours",
			fmt.Sprintf("the GitHub account that authorized forgelink cannot access installation %d of the App %s", id, app.slug))
	}
	return nil
}

// confirmInstallation asks GitHub, as the App, about the installation: the
// callback's installation_id alone proves nothing.
func (s *Service) confirmInstallation(ctx context.Context, app ghApp, id int64) (github.Installation, error) {
	client, err := s.newAppClient(app)
	if err != nil {
		return github.Installation{}, err
	}
	inst, err := client.Installation(ctx, id)
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return inst, fail(http.StatusBadRequest, "Installation not found",
			fmt.Sprintf("GitHub does not know installation %d of the App %s", id, app.slug))
	case errors.Is(err, providers.ErrTokenRejected):
		return inst, fail(http.StatusBadGateway, "GitHub refused the App",
			fmt.Sprintf("GitHub refused the JWT of the App %s: its private key may have been revoked", app.slug))
	case err != nil:
		return inst, err
	case inst.Suspended:
		return inst, fail(http.StatusBadRequest, "Installation suspended",
			fmt.Sprintf("the installation of the App %s on %s is suspended: unsuspend it on GitHub, then set the connection up again", app.slug, inst.Account))
	}
	return inst, nil
}

// completeInstallation records the installation and makes the connection
// AVAILABLE (releasing its held events).
func (s *Service) completeInstallation(ctx context.Context, conn store.Connection, ref installationRef, account string) error {
	if err := s.opts.Store.SetGitHubInstallation(ctx, conn.ID,
		store.GitHubInstallation{AppID: ref.AppID, InstallationID: ref.InstallationID, Account: account}); err != nil {
		return err
	}
	cred := store.Credential{Kind: store.CredentialGitHubApp, Sealed: s.sealJSON(ref, conn.ID), Account: account}
	if err := s.opts.Store.SetConnectionCredential(ctx, conn.ID, cred); err != nil {
		return err
	}
	s.forgetMinted(conn.ID)
	s.opts.ConnectionChanged(conn.ID)
	s.opts.Log.Info("connection set up with a GitHub App installation", zap.String("connection_id", conn.ID),
		zap.Int64("app_id", ref.AppID), zap.Int64("installation_id", ref.InstallationID), zap.String("account", account))
	return nil
}

// GitHubAppSecret finds a GitHub App forgelink registered by the key its
// webhook URL names (the ingress's lookup): its id, host ("" for
// github.com) and webhook secret. store.ErrNotFound when key names none.
func (s *Service) GitHubAppSecret(ctx context.Context, key string) (int64, string, []byte, error) {
	rec, err := s.opts.Store.GetProviderApp(ctx, key)
	if err == nil && rec.Kind != store.AppGitHub {
		err = store.ErrNotFound
	}
	if err != nil {
		return 0, "", nil, err
	}
	sec, err := s.openAppSecrets(rec)
	if err != nil {
		return 0, "", nil, err
	}
	if sec.WebhookSecret == "" {
		return 0, "", nil, fmt.Errorf("github app %s has no webhook secret: %w", rec.ID, store.ErrNotFound)
	}
	return rec.AppID, rec.HostID, []byte(sec.WebhookSecret), nil
}
