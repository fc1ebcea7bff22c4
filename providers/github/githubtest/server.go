// Package githubtest is a fake GitHub for tests: an httptest server that
// implements, as GitHub documents them, the endpoints forgelink's GitHub
// App set-up and repository webhooks use.
//
// REST API (under Options.APIPrefix, "" as on api.github.com or "/api/v3"
// as on GitHub Enterprise Server):
//
//   - POST /app-manifests/{code}/conversions: unauthenticated, 201 with the
//     App and its secrets; a code works once and for an hour, else 404.
//   - GET /app/installations/{id} and POST
//     /app/installations/{id}/access_tokens: authenticated with an App JWT
//     that the server verifies (RS256 against the App's public key, iss the
//     App id or client id, iat/exp sane, exp-iat at most 11 minutes), 401
//     otherwise. Tokens can be narrowed to repositories (by name, within
//     the installation's account: 422 for one it does not cover) and
//     permissions; a suspended installation gets 403.
//   - DELETE /installation/token: revokes the token that authenticates it.
//   - GET /user: Options.User, for a personal token added with AddToken
//     (how forgelink checks the token of a connection completed with one),
//     or the user of a user access token.
//   - GET /user/installations: with a user access token only (401 for one
//     it does not accept, 403 for other tokens), the installations of the
//     token's App that its user may access ({"total_count",
//     "installations"}), paginated with Link headers.
//   - DELETE /applications/{client_id}/token: revokes a user access token,
//     with the App's client credentials in basic authentication (404
//     otherwise), 422 for a token that is not the App's.
//   - GET, POST /repos/{owner}/{repo}/hooks and PATCH, DELETE
//     /repos/{owner}/{repo}/hooks/{id}: bearer (or "token") authentication,
//     401 for an unknown token, 404 for an unknown repository, 403 for a
//     token without admin access; listings paginated with Link headers;
//     a second hook with the same URL is refused with 422 as GitHub does
//     (unless Options.AllowDuplicateHooks); PATCH replaces the config
//     whole, so a config sent without its secret loses it, as on GitHub.
//
// Web pages, for browser-driven set-up tests:
//
//   - POST /settings/apps/new and /organizations/{org}/settings/apps/new:
//     the manifest form (field manifest; state in the URL's query, as
//     GitHub reads it) registers the App and redirects to its redirect_url
//     with code and that state.
//   - GET /apps/{slug}/installations/new (github.com's path) and
//     /github-apps/{slug}/installations/new (GHES's): installs the App on
//     Options.InstallAccount with all its repositories, gives Options.User
//     access to it, and redirects to its setup_url with installation_id,
//     setup_action and state; an App that requests user authorization on
//     install (request_oauth_on_install) goes to its first callback URL
//     instead, with a user authorization code as well.
//   - POST /login/oauth/access_token: exchanges such a code (single use,
//     ten minutes, for its own App) for a user access token given the App's
//     client id and secret; refusals are HTTP 200 with GitHub's
//     {"error": "bad_verification_code" | "incorrect_client_credentials",
//     "error_description", "error_uri"}; JSON with an Accept header asking
//     for it, form encoding otherwise.
//
// Every request is logged (method, path, query; never bodies or headers)
// for tests to assert what was, or was not, sent. The server is safe for
// concurrent use.
//
// Typical use: srv := githubtest.New(t, githubtest.Options{APIPrefix:
// "/api/v3"}) stands for a GHES host whose ProviderEndpoint is srv.URL and
// whose API is srv.APIURL; AddRepo, AddToken, AddApp, AddInstallation and
// AddHook seed it; App, Installation, Tokens, Hooks and Requests show what
// the code under test did to it.
package githubtest

import (
	"cmp"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Server. The zero value is a github.com-like fake.
type Options struct {
	// APIPrefix is the REST API's path: "" (github.com) or "/api/v3" (GHES).
	APIPrefix string
	// MaxPerPage caps per_page in listings; 0 means GitHub's 100. Lower it
	// to test pagination with few records.
	MaxPerPage int
	// AllowDuplicateHooks creates a second hook with a URL another hook of
	// the repository has, which GitHub refuses; it stands for the races
	// and legacy duplicates that get past GitHub's check.
	AllowDuplicateHooks bool
	// User is the login that owns Apps registered without an organization;
	// default "octocat".
	User string
	// InstallAccount and InstallAccountType are where the installation page
	// installs Apps; default "octo-org", "Organization".
	InstallAccount, InstallAccountType string
	// Now is the server's clock; default time.Now.
	Now func() time.Time
	// Git, when set, serves git's smart HTTP (paths under
	// /{owner}/{repo}.git/) on the web origin, as github.com does.
	Git http.Handler
	// TLS, when set, serves HTTPS with it, as a GHES host behind a private
	// CA (tlstest.CA.ServerConfig); URL and APIURL are then https.
	TLS *tls.Config
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string // the URL path, API prefix included
	Query  string // the raw query
}

// Server is a running fake GitHub. URL is its web root (a GHES host's
// ProviderEndpoint); APIURL its REST API base, ending in "/".
type Server struct {
	URL    string
	APIURL string

	opts Options

	mu            sync.Mutex
	nextID        int64
	apps          map[int64]*App
	codes         map[string]manifestCode
	installations map[int64]*Installation
	tokens        map[string]*Token
	userCodes     map[string]userCode
	userTokens    []*Token
	minted        []*Token              // installation tokens, in minting order
	repos         map[string]*repoState // by lower-case full name
	requests      []Request
	rec           recoveryState // deliveries.go
}

// New starts a Server that tb's cleanup stops.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.MaxPerPage <= 0 || opts.MaxPerPage > 100 {
		opts.MaxPerPage = 100
	}
	if opts.User == "" {
		opts.User = "octocat"
	}
	if opts.InstallAccount == "" {
		opts.InstallAccount, opts.InstallAccountType = "octo-org", "Organization"
	}
	if opts.InstallAccountType == "" {
		opts.InstallAccountType = "Organization"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:          opts,
		nextID:        100,
		apps:          map[int64]*App{},
		codes:         map[string]manifestCode{},
		installations: map[int64]*Installation{},
		tokens:        map[string]*Token{},
		userCodes:     map[string]userCode{},
		repos:         map[string]*repoState{},
	}
	srv := httptest.NewUnstartedServer(s.routes())
	if opts.TLS != nil {
		srv.TLS = opts.TLS
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	s.APIURL = srv.URL + opts.APIPrefix + "/"
	return s
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+s.opts.APIPrefix+path, h)
	}
	api("POST /app-manifests/{code}/conversions", s.convertManifest)
	api("GET /app/installations/{id}", s.getInstallation)
	api("POST /app/installations/{id}/access_tokens", s.createAccessToken)
	api("DELETE /installation/token", s.revokeToken)
	api("GET /user", s.user)
	api("GET /user/installations", s.userInstallations)
	api("DELETE /applications/{client_id}/token", s.revokeUserToken)
	api("GET /repos/{owner}/{repo}/hooks", s.listHooks)
	api("POST /repos/{owner}/{repo}/hooks", s.createHook)
	api("PATCH /repos/{owner}/{repo}/hooks/{id}", s.editHook)
	api("DELETE /repos/{owner}/{repo}/hooks/{id}", s.deleteHook)
	s.recoveryRoutes(api)
	mux.HandleFunc("POST /login/oauth/access_token", s.accessToken)
	mux.HandleFunc("POST /settings/apps/new", s.newAppPage)
	mux.HandleFunc("POST /organizations/{org}/settings/apps/new", s.newAppPage)
	mux.HandleFunc("GET /apps/{slug}/installations/new", s.installPage)
	mux.HandleFunc("GET /github-apps/{slug}/installations/new", s.installPage)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery})
		s.mu.Unlock()
		if s.opts.Git != nil && strings.Contains(r.URL.Path, ".git/") {
			s.opts.Git.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// id returns a fresh id; s.mu must be held.
func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers status with GitHub's error body.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"message": message, "documentation_url": "https://docs.github.com/rest"})
}

// writeValidation answers 422 as GitHub does for a resource it refuses.
func writeValidation(w http.ResponseWriter, resource, message string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []map[string]string{{"resource": resource, "code": "custom", "message": message}},
		"documentation_url": "https://docs.github.com/rest",
	})
}

// credential returns the token of an "Authorization: Bearer" or "token"
// header.
func credential(r *http.Request) string {
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token") {
		return strings.TrimSpace(cred)
	}
	return ""
}

// pathID parses the path value name as a positive id.
func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

// user answers GET /user for a personal token (its owner is Options.User)
// or a user access token (its user).
func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	tok := s.liveToken(r)
	s.mu.Unlock()
	if tok == nil || tok.InstallationID != 0 {
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"login": cmp.Or(tok.User, s.opts.User), "id": 1, "type": "User"})
}
