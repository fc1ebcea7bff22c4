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
	key    []byte // private key, PEM
	webURL string // https://github.com, or the GHES host's endpoint
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
	if conn.ProviderType == store.ProviderGitHubEnterpriseServer {
		return s.hostGitHubApp(ctx, conn.HostID, 0, true)
	}
	if apps := s.opts.Cloud.GitHubApps; len(apps) > 0 {
		return s.cloudApp(apps[0].AppID, apps[0].Slug, apps[0].PrivateKey), nil
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
			return s.cloudApp(a.AppID, a.Slug, a.PrivateKey), nil
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

func (s *Service) cloudApp(id int64, slug string, key []byte) ghApp {
	return ghApp{id: id, slug: slug, key: key, webURL: s.opts.Cloud.GitHubWebURL, apiURL: s.opts.Cloud.GitHubAPIURL}
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
	return s.cloudApp(rec.AppID, rec.Slug, sec.PrivateKey), nil
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
	return ghApp{id: rec.AppID, slug: rec.Slug, key: sec.PrivateKey, webURL: endpoint, apiURL: endpoint + "/api/v3/"}, nil
}

func (s *Service) newAppClient(app ghApp) (*github.App, error) {
	return github.NewApp(s.opts.Client, app.apiURL, app.id, app.key)
}

// installURL is the App's installation page; GitHub brings the browser
// back to the App's Setup URL (/setup/callback/github) with the state.
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

// githubCallback completes a connection with the installation GitHub
// names, once the App's own JWT has confirmed it.
func (s *Service) githubCallback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	st, conn, err := s.callbackConnection(r, true)
	if err != nil {
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
	if err := s.consume(ctx, st); err != nil {
		return err
	}
	app, err := s.installApp(ctx, conn)
	if err != nil {
		return err
	}
	inst, err := s.confirmInstallation(ctx, app, installationID)
	if err != nil {
		return err
	}
	if err := s.completeInstallation(ctx, conn, app, inst); err != nil {
		return err
	}
	s.renderDone(w, "Connection AVAILABLE",
		"The GitHub App installation was confirmed: the connection is AVAILABLE and its held events are released.",
		detail{"Connection", conn.Name}, detail{"Account", inst.Account}, detail{"App", app.slug},
		detail{"Installation", strconv.FormatInt(inst.ID, 10)})
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
func (s *Service) completeInstallation(ctx context.Context, conn store.Connection, app ghApp, inst github.Installation) error {
	if err := s.opts.Store.SetGitHubInstallation(ctx, conn.ID,
		store.GitHubInstallation{AppID: app.id, InstallationID: inst.ID, Account: inst.Account}); err != nil {
		return err
	}
	cred := store.Credential{
		Kind:    store.CredentialGitHubApp,
		Sealed:  s.sealJSON(installationRef{AppID: app.id, InstallationID: inst.ID}, conn.ID),
		Account: inst.Account,
	}
	if err := s.opts.Store.SetConnectionCredential(ctx, conn.ID, cred); err != nil {
		return err
	}
	s.forgetMinted(conn.ID)
	s.opts.ConnectionChanged(conn.ID)
	s.opts.Log.Info("connection set up with a GitHub App installation", zap.String("connection_id", conn.ID),
		zap.Int64("app_id", app.id), zap.Int64("installation_id", inst.ID), zap.String("account", inst.Account))
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
