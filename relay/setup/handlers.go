package setup

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/store"
)

// maxForm bounds the body of the forms forgelink serves.
const maxForm = 64 << 10

// Handler serves the set-up pages under /setup/:
//
//	GET  /setup/start               follow a set-up link: on to the provider, or a form
//	GET  /setup/callback/github     GitHub App installed and authorized (the App's callback URL)
//	GET  /setup/callback/oauth      OAuth authorization granted (GitLab, Bitbucket)
//	GET  /setup/callback/manifest   GitHub App registered (manifest flow)
//	POST /setup/hosts/gitlab        a GitLab self-managed host's OAuth application
//	POST /setup/confirm             the operator confirms the account a connection's set-up verified
//
// Every step after /setup/start needs the binding cookie that it gave the
// browser; the forms are refused when posted from another site.
func (s *Service) Handler() http.Handler {
	// The public origin is trusted as well, for a reverse proxy that
	// rewrites Host.
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(s.opts.PublicURL); err == nil && u.Host != "" {
		_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host) // a malformed origin only trusts nothing more
	}
	mux := http.NewServeMux()
	mux.Handle("POST /setup/confirm", cop.Handler(s.serve(s.confirm)))
	mux.HandleFunc("GET /setup/start", s.serve(s.start))
	mux.HandleFunc("GET /setup/callback/github", s.serve(s.githubCallback))
	mux.HandleFunc("GET /setup/callback/oauth", s.serve(s.oauthCallback))
	mux.HandleFunc("GET /setup/callback/manifest", s.serve(s.manifestCallback))
	mux.Handle("POST /setup/hosts/gitlab", cop.Handler(s.serve(s.gitlabHostForm)))
	return mux
}

// serve turns a step's error into an error page: nothing it did before
// failing was written, so the page says nothing changed.
func (s *Service) serve(step func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := step(w, r)
		if err == nil {
			return
		}
		var (
			f     *failure
			bad   *errState
			input *InputError
		)
		switch {
		case errors.As(err, &f):
		case errors.As(err, &bad):
			f = fail(http.StatusBadRequest, "This set-up link cannot be used", bad.msg)
		case errors.As(err, &input):
			f = fail(http.StatusBadRequest, "The set-up cannot continue", input.msg)
		case errors.Is(err, store.ErrNotFound):
			f = fail(http.StatusBadRequest, "The set-up cannot continue", "the connection or host of this link no longer exists")
		case errors.Is(err, egress.ErrUntrustedCertificate), errors.Is(err, egress.ErrBadCertificate):
			// Waiting will not help: the host's TlsCertificate needs changing.
			f = fail(http.StatusBadGateway, "The provider's certificate is not trusted", redact(err))
		case errors.Is(err, providers.ErrProviderUnavailable):
			f = fail(http.StatusBadGateway, "The provider could not be reached", "the provider did not answer as expected; try again in a moment")
		default:
			f = fail(http.StatusInternalServerError, "Internal error", "the set-up failed; see the forgelink log")
		}
		s.opts.Log.Info("set-up step failed", zap.String("path", r.URL.Path), zap.Int("status", f.status),
			zap.String("error", redact(err)))
		s.renderFailure(w, f)
	}
}

// redact is an error's text without the URLs it quotes: a provider URL
// can carry a one-time code (the manifest conversion's path does).
func redact(err error) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = strings.ReplaceAll(msg, ue.URL, "<url>")
	}
	return msg
}

// start follows a set-up link: the state says what is being set up.
func (s *Service) start(w http.ResponseWriter, r *http.Request) error {
	raw := stateParam(r)
	st, err := s.openState(raw, purposeConnection, purposeHost, purposeGitHubApp)
	if err != nil {
		return err
	}
	s.bind(w, st)
	switch st.Purpose {
	case purposeConnection:
		return s.startConnection(w, r, st, raw)
	case purposeHost:
		return s.startHost(w, r, st, raw)
	}
	return s.startGitHubApp(w, st, raw)
}

// startConnection sends the browser to the provider: the App's
// installation page, or the OAuth authorization page.
func (s *Service) startConnection(w http.ResponseWriter, r *http.Request, st state, raw string) error {
	conn, err := s.opts.Store.GetConnection(r.Context(), st.Resource)
	if err != nil {
		return err
	}
	var to string
	if isGitHub(conn.ProviderType) {
		to, err = s.installURL(r.Context(), conn, raw)
	} else {
		to, err = s.authorizeURL(r.Context(), conn, st, raw)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// startHost shows the host's set-up form: the App manifest (GHES) or the
// OAuth application (GitLab self-managed).
func (s *Service) startHost(w http.ResponseWriter, r *http.Request, st state, raw string) error {
	host, err := s.opts.Store.GetHost(r.Context(), st.Resource)
	if err != nil {
		return err
	}
	if host.ProviderType == store.ProviderGitLabSelfManaged {
		return s.renderGitLabForm(w, http.StatusOK, host, raw, "", "")
	}
	return s.renderManifest(w, host, raw)
}
