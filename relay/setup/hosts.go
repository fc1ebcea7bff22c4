package setup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
	"github.com/forgelink/forgelink/providers/gitlab"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/store"
)

// appSecrets is the sealed value of a provider app.
type appSecrets struct {
	PrivateKey    []byte `json:"privateKey,omitempty"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
	ClientSecret  string `json:"clientSecret,omitempty"`
}

func (s *Service) openAppSecrets(rec store.ProviderApp) (appSecrets, error) {
	var sec appSecrets
	if err := s.openJSON(rec.Sealed, rec.ID, &sec); err != nil {
		return appSecrets{}, fmt.Errorf("provider app %s: %w", rec.ID, err)
	}
	return sec, nil
}

// Set-up of hosts and of forgelink's github.com App is authorised against
// the access key that made its link, as AWS authorises registering the
// app on an installed host (the API's StartHostSetup checks
// StartAppRegistrationHandshake, which only makes the link).
const (
	ActionRegisterAppCode     = "codeconnections:RegisterAppCode"
	ActionStartGitHubAppSetup = "forgelink:StartGitHubAppSetup"
)

// authorizeHostSetup checks that the key that made a host's set-up link
// may register the app on it: RegisterAppCode on the host, with
// codeconnections:HostArn.
func (s *Service) authorizeHostSetup(ctx context.Context, creator string, host store.Host) error {
	arn := host.ARN(s.opts.AccountID)
	return s.authorizeLink(ctx, creator, policy.Request{Action: ActionRegisterAppCode, Resource: arn,
		Context: policy.Context{policy.KeyHostArn: {arn}}}, store.ResourceRef{Kind: store.KindHost, ID: host.ID})
}

// authorizeGitHubAppSetup checks that the key that made the link may
// still register forgelink's github.com App (an operation on no resource).
func (s *Service) authorizeGitHubAppSetup(ctx context.Context, creator string) error {
	return s.authorizeLink(ctx, creator, policy.Request{Action: ActionStartGitHubAppSetup, Resource: "*"}, store.ResourceRef{})
}

// hostEndpoint is the host's web URL without a trailing slash, checked
// again: a plain-HTTP endpoint allowed when the host was created may no
// longer be, and secrets would cross it in clear text.
func (s *Service) hostEndpoint(h store.Host) (string, error) {
	u, err := url.Parse(h.ProviderEndpoint)
	if err != nil || u.Host == "" {
		return "", inputError("host %s has no usable provider endpoint (%q)", h.Name, h.ProviderEndpoint)
	}
	if u.Scheme == "http" && !s.opts.AllowHTTPEndpoints {
		return "", inputError("host %s has the plain-HTTP endpoint %s: use https, or set allowHTTPProviderEndpoints in the forgelink configuration",
			h.Name, h.ProviderEndpoint)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", inputError("host %s: provider endpoint %s is not http(s)", h.Name, h.ProviderEndpoint)
	}
	return strings.TrimRight(h.ProviderEndpoint, "/"), nil
}

// HostSetupURL returns a set-up link for a host (valid for StateTTL): a
// GitHub Enterprise Server host registers forgelink's GitHub App, a GitLab
// self-managed host is given an OAuth application.
func (s *Service) HostSetupURL(ctx context.Context, hostID string) (string, error) {
	host, err := s.opts.Store.GetHost(ctx, hostID)
	if err != nil {
		return "", err
	}
	if host.ProviderType != store.ProviderGitHubEnterpriseServer && host.ProviderType != store.ProviderGitLabSelfManaged {
		return "", inputError("hosts of provider type %s have no set-up", host.ProviderType)
	}
	if _, err := s.hostEndpoint(host); err != nil {
		return "", err
	}
	return s.newLink(ctx, state{Purpose: purposeHost, Resource: host.ID})
}

// orgPattern is GitHub's spelling of organization logins.
var orgPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// GitHubAppSetupURL returns a set-up link that registers forgelink's own
// GitHub App on github.com (under the organization org, or the user who
// follows the link when org is empty). github.com connections then use it.
// It is refused when the configuration gives a github.com App already.
func (s *Service) GitHubAppSetupURL(ctx context.Context, org string) (string, error) {
	if apps := s.opts.Cloud.GitHubApps; len(apps) > 0 {
		return "", inputError("the forgelink configuration sets up github.com connections with the App %d (githubApps[]); "+
			"remove its slug and privateKeyFile to register another", apps[0].AppID)
	}
	if org != "" && !orgPattern.MatchString(org) {
		return "", inputError("%q is not a GitHub organization name", org)
	}
	id := make([]byte, 8)
	rand.Read(id)
	// Not a number: the App's webhook URL names it before GitHub gives
	// the App its numeric id.
	return s.newLink(ctx, state{Purpose: purposeGitHubApp, Resource: "github-" + hex.EncodeToString(id), Org: org})
}

// renderManifest shows the form that posts forgelink's App manifest to the
// GHES host's new-App page; a script submits it at once.
func (s *Service) renderManifest(w http.ResponseWriter, host store.Host, raw string) error {
	if host.ProviderType != store.ProviderGitHubEnterpriseServer {
		return errForged
	}
	endpoint, err := s.hostEndpoint(host)
	if err != nil {
		return err
	}
	return s.renderManifestForm(w, endpoint, "", host.ID, "the host "+host.Name, raw)
}

func (s *Service) startGitHubApp(w http.ResponseWriter, st state, raw string) error {
	return s.renderManifestForm(w, s.opts.Cloud.GitHubWebURL, st.Org, st.Resource, "github.com", raw)
}

// renderManifestForm shows the manifest form for an App whose webhooks
// arrive at /webhooks/github-app/<key>.
func (s *Service) renderManifestForm(w http.ResponseWriter, webURL, org, key, where, raw string) error {
	manifest, err := github.Manifest(github.ManifestParams{
		Name:        "forgelink-" + strings.ToLower(rand.Text()[:6]),
		URL:         s.opts.PublicURL,
		WebhookURL:  s.url("/webhooks/github-app/" + key),
		RedirectURL: s.url("/setup/callback/manifest"),
		CallbackURL: s.url("/setup/callback/github"),
	})
	if err != nil {
		return err
	}
	action, err := github.NewAppURL(webURL, org, raw)
	if err != nil {
		return err
	}
	s.render(w, http.StatusOK, "manifest", page{
		Title:    "Register forgelink's GitHub App",
		Message:  "Sending you to GitHub to register forgelink's GitHub App on " + where + ". Review it there and create it.",
		Action:   action,
		Manifest: string(manifest),
		Provider: "GitHub",
	})
	return nil
}

// manifestCallback converts the manifest code into the App's credentials
// and stores them: the host becomes AVAILABLE, or github.com gains its App.
func (s *Service) manifestCallback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	st, err := s.openState(q.Get("state"), purposeHost, purposeGitHubApp)
	if err != nil {
		return err
	}
	if err := s.checkBinding(r, st.Nonce); err != nil {
		return err
	}
	rec := store.ProviderApp{ID: st.Resource, Kind: store.AppGitHub}
	apiURL, where := s.opts.Cloud.GitHubAPIURL, "github.com"
	if st.Purpose == purposeHost {
		host, err := s.opts.Store.GetHost(ctx, st.Resource)
		if err != nil {
			return err
		}
		if host.ProviderType != store.ProviderGitHubEnterpriseServer {
			return errForged
		}
		if err := s.authorizeHostSetup(ctx, st.Creator, host); err != nil {
			return err
		}
		endpoint, err := s.hostEndpoint(host)
		if err != nil {
			return err
		}
		rec.HostID, apiURL, where = host.ID, endpoint+"/api/v3/", "the host "+host.Name
	} else if err := s.authorizeGitHubAppSetup(ctx, st.Creator); err != nil {
		return err
	}
	code := q.Get("code")
	if code == "" {
		return fail(http.StatusBadRequest, "The set-up cannot continue", "GitHub sent no manifest code")
	}
	if err := s.consume(ctx, st); err != nil {
		return err
	}
	creds, err := github.ConvertManifest(ctx, s.opts.Client, apiURL, code)
	if errors.Is(err, providers.ErrNotFound) || errors.Is(err, providers.ErrTokenRejected) {
		return fail(http.StatusBadRequest, "Registration failed", "GitHub refused the manifest code (codes expire after an hour); start the set-up again")
	}
	if err != nil {
		return err
	}
	rec.AppID, rec.Slug, rec.Name, rec.ClientID, rec.Owner, rec.HTMLURL = creds.ID, creds.Slug, creds.Name, creds.ClientID, creds.Owner, creds.HTMLURL
	rec.Sealed = s.sealJSON(appSecrets{PrivateKey: creds.PrivateKeyPEM, WebhookSecret: creds.WebhookSecret, ClientSecret: creds.ClientSecret}, rec.ID)
	if err := s.opts.Store.SaveProviderApp(ctx, rec); err != nil {
		return err
	}
	s.opts.Log.Info("github app registered", zap.String("record", rec.ID), zap.String("host_id", rec.HostID),
		zap.Int64("app_id", rec.AppID), zap.String("slug", rec.Slug))
	msg := "forgelink's GitHub App is registered on " + where + "."
	if rec.HostID != "" {
		msg += " The host is AVAILABLE: create connections on it and set them up."
	} else {
		msg += " github.com connections are now set up with it."
	}
	s.renderDone(w, "GitHub App registered", msg, detail{"App", rec.Name}, detail{"App id", strconv.FormatInt(rec.AppID, 10)},
		detail{"Owner", rec.Owner}, detail{"Page", rec.HTMLURL})
	return nil
}

// renderGitLabForm asks for the GitLab self-managed host's OAuth
// application; the state, as a hidden field, doubles as the CSRF token.
func (s *Service) renderGitLabForm(w http.ResponseWriter, status int, host store.Host, raw, clientID, problem string) error {
	if host.ProviderType != store.ProviderGitLabSelfManaged {
		return errForged
	}
	s.render(w, status, "gitlab-host", page{
		Title:       "Set up the GitLab host " + host.Name,
		Action:      s.url("/setup/hosts/gitlab"),
		State:       raw,
		Provider:    host.ProviderEndpoint,
		RedirectURI: s.url("/setup/callback/oauth"),
		ClientID:    clientID,
		Error:       problem,
	})
	return nil
}

// gitlabHostForm checks the posted OAuth application (or creates one with
// the admin token) and makes the host AVAILABLE. Credentials GitLab refuses
// bring the form back with the reason; the link stays usable until then.
func (s *Service) gitlabHostForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return fail(http.StatusBadRequest, "The set-up cannot continue", "the form could not be read")
	}
	raw := stateParam(r)
	st, err := s.openState(raw, purposeHost)
	if err != nil {
		return err
	}
	if err := s.checkBinding(r, st.Nonce); err != nil {
		return err
	}
	host, err := s.opts.Store.GetHost(r.Context(), st.Resource)
	if err != nil {
		return err
	}
	if host.ProviderType != store.ProviderGitLabSelfManaged {
		return errForged
	}
	if err := s.authorizeHostSetup(r.Context(), st.Creator, host); err != nil {
		return err
	}
	in := gitlabAppInput{
		clientID:     strings.TrimSpace(r.PostFormValue("client_id")),
		clientSecret: strings.TrimSpace(r.PostFormValue("client_secret")),
		adminToken:   strings.TrimSpace(r.PostFormValue("admin_token")),
	}
	err = s.configureGitLab(r.Context(), host, in, func(ctx context.Context) error { return s.consume(ctx, st) })
	var input *InputError
	if errors.As(err, &input) {
		return s.renderGitLabForm(w, http.StatusBadRequest, host, raw, in.clientID, input.msg)
	}
	if err != nil {
		return err
	}
	s.renderDone(w, "Host AVAILABLE", "GitLab accepted the OAuth application: the host is AVAILABLE. Create connections on it and set them up.",
		detail{"Host", host.Name}, detail{"Endpoint", host.ProviderEndpoint})
	return nil
}

// ConfigureHostApp is the headless set-up of a GitLab self-managed host:
// the OAuth application's id and secret, checked against the host, or an
// administrator's token with which forgelink creates the application. The
// host becomes AVAILABLE; credentials GitLab refuses change nothing.
func (s *Service) ConfigureHostApp(ctx context.Context, hostID, clientID, clientSecret, adminToken string) error {
	host, err := s.opts.Store.GetHost(ctx, hostID)
	if err != nil {
		return err
	}
	if host.ProviderType != store.ProviderGitLabSelfManaged {
		return inputError("only GitLabSelfManaged hosts take an OAuth application; %s hosts are set up in a browser (`forgelink hosts setup`)", host.ProviderType)
	}
	return s.configureGitLab(ctx, host, gitlabAppInput{clientID: clientID, clientSecret: clientSecret, adminToken: adminToken}, nil)
}

type gitlabAppInput struct {
	clientID, clientSecret, adminToken string
}

// configureGitLab checks or creates the host's OAuth application, then
// runs commit (the form's nonce) and stores the application, making the
// host AVAILABLE.
func (s *Service) configureGitLab(ctx context.Context, host store.Host, in gitlabAppInput, commit func(context.Context) error) error {
	endpoint, err := s.hostEndpoint(host)
	if err != nil {
		return err
	}
	redirect := s.url("/setup/callback/oauth")
	switch {
	case in.adminToken != "" && (in.clientID != "" || in.clientSecret != ""):
		return inputError("give either an application id and secret, or an admin token, not both")
	case in.adminToken != "":
		in.clientID, in.clientSecret, err = gitlab.CreateOAuthApp(ctx, s.opts.Client, endpoint+"/api/v4", in.adminToken,
			"forgelink ("+s.opts.PublicURL+")", redirect)
		if errors.Is(err, providers.ErrTokenRejected) {
			return inputError("GitLab at %s refused the admin token (it must be an administrator's, with the api scope): the host stays %s", endpoint, host.Status)
		}
	case in.clientID != "" && in.clientSecret != "":
		err = gitlab.CheckOAuthApp(ctx, s.opts.Client, endpoint, in.clientID, in.clientSecret, redirect)
		if errors.Is(err, providers.ErrTokenRejected) {
			return inputError("GitLab at %s refused the application id and secret: the host stays %s", endpoint, host.Status)
		}
	default:
		return inputError("give the OAuth application's id and secret, or an admin token")
	}
	if err != nil {
		return err
	}
	if commit != nil {
		if err := commit(ctx); err != nil {
			return err
		}
	}
	rec := store.ProviderApp{ID: host.ID, Kind: store.AppGitLabOAuth, HostID: host.ID, ClientID: in.clientID,
		Sealed: s.sealJSON(appSecrets{ClientSecret: in.clientSecret}, host.ID)}
	if err := s.opts.Store.SaveProviderApp(ctx, rec); err != nil {
		return err
	}
	s.opts.Log.Info("gitlab host set up", zap.String("host_id", host.ID), zap.Bool("created_app", in.adminToken != ""))
	return nil
}
