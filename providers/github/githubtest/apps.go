package githubtest

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// manifestCodeTTL is how long GitHub honours a manifest code.
const manifestCodeTTL = time.Hour

// installationTokenTTL is how long GitHub's installation tokens live.
const installationTokenTTL = time.Hour

// App is a GitHub App the server knows.
type App struct {
	ID            int64
	Slug          string
	Name          string
	Owner         string
	ClientID      string
	ClientSecret  string
	WebhookSecret string
	Key           *rsa.PrivateKey
	// From the manifest.
	WebhookURL  string
	RedirectURL string
	SetupURL    string
	// CallbackURLs and RequestOAuthOnInstall: with the latter set, the
	// installation page asks the user to authorize the App and sends them
	// to the first callback URL with a user authorization code (GitHub
	// then ignores SetupURL).
	CallbackURLs          []string
	RequestOAuthOnInstall bool
	Events                []string
	Permissions           map[string]string // e.g. "contents": "read"
}

// PrivateKeyPEM returns the App's key as GitHub hands it out (PKCS#1 PEM).
func (a App) PrivateKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(a.Key)})
}

// Installation is an installation of an App on an account.
type Installation struct {
	ID          int64
	AppID       int64
	Account     string
	AccountType string // "Organization" (default) or "User"
	Suspended   bool
	// Repositories are the full names of the repositories the installation
	// covers; nil covers all of the account's repositories.
	Repositories []string
	// Users are the logins that may access the installation (GET
	// /user/installations lists it for them); the installation page adds
	// the user who installs.
	Users []string
}

// Access is what a token may do with repository hooks.
type Access int

const (
	// Read can see repositories but not their hooks (403).
	Read Access = iota + 1
	// Admin can manage hooks.
	Admin
)

// Token is an access token the server accepts.
type Token struct {
	Value  string
	Access Access
	// Installation tokens: the installation, the repository names and
	// permissions asked for (nil: all), and the expiry.
	InstallationID int64
	Repositories   []string
	Permissions    map[string]string
	ExpiresAt      time.Time
	Revoked        bool
	// User access tokens: the App and the user they act for.
	AppID int64
	User  string
}

type manifestCode struct {
	appID  int64
	issued time.Time
}

type repoState struct {
	id       int64
	fullName string
	hooks    map[int64]*Hook
}

var defaultPermissions = map[string]string{"contents": "read", "metadata": "read", "pull_requests": "read"}

// AddApp registers a, filling what it lacks: id, slug (from the name),
// owner, client id, secrets, a 2048-bit key, and the default events and
// permissions of forgelink's manifest. It returns the complete App.
func (s *Server) AddApp(a App) App {
	if a.Key == nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(fmt.Sprintf("githubtest: generate key: %v", err))
		}
		a.Key = key
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addApp(a)
}

func (s *Server) addApp(a App) *App {
	if a.ID == 0 {
		a.ID = s.id()
	}
	a.Name = cmp.Or(a.Name, "app-"+strconv.FormatInt(a.ID, 10))
	a.Slug = cmp.Or(a.Slug, slugify(a.Name))
	a.Owner = cmp.Or(a.Owner, s.opts.User)
	a.ClientID = cmp.Or(a.ClientID, "Iv1."+randomHex(8))
	a.ClientSecret = cmp.Or(a.ClientSecret, randomHex(20))
	a.WebhookSecret = cmp.Or(a.WebhookSecret, randomHex(20))
	if a.Events == nil {
		a.Events = []string{"push", "pull_request"}
	}
	if a.Permissions == nil {
		a.Permissions = maps.Clone(defaultPermissions)
	}
	s.apps[a.ID] = &a
	return &a
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slugify turns an App name into its URL name as GitHub does, roughly.
func slugify(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// App returns App id as the server has it.
func (s *Server) App(id int64) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[id]
	if !ok {
		return App{}, false
	}
	return *a, true
}

// AppBySlug returns the App whose slug is slug.
func (s *Server) AppBySlug(slug string) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.appBySlug(slug); a != nil {
		return *a, true
	}
	return App{}, false
}

func (s *Server) appBySlug(slug string) *App {
	for _, a := range s.apps {
		if strings.EqualFold(a.Slug, slug) {
			return a
		}
	}
	return nil
}

// ManifestCode issues a conversion code for App appID, as GitHub does when
// the manifest form is submitted.
func (s *Server) ManifestCode(appID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := randomHex(10)
	s.codes[code] = manifestCode{appID: appID, issued: s.opts.Now()}
	return code
}

// AddInstallation records in, giving it an id if it has none, and returns
// it.
func (s *Server) AddInstallation(in Installation) Installation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addInstallation(in)
}

func (s *Server) addInstallation(in Installation) *Installation {
	if in.ID == 0 {
		in.ID = s.id()
	}
	if in.AccountType == "" {
		in.AccountType = "Organization"
	}
	in.Repositories, in.Users = slices.Clone(in.Repositories), slices.Clone(in.Users)
	s.installations[in.ID] = &in
	return &in
}

// Installation returns installation id.
func (s *Server) Installation(id int64) (Installation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.installations[id]
	if !ok {
		return Installation{}, false
	}
	return *in, true
}

// SetSuspended suspends or unsuspends installation id.
func (s *Server) SetSuspended(id int64, suspended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.installations[id]; ok {
		in.Suspended = suspended
	}
}

// DeleteInstallation removes installation id, as uninstalling the App does.
func (s *Server) DeleteInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.installations, id)
}

// AddRepo creates repository fullName ("owner/name") if it does not exist.
func (s *Server) AddRepo(fullName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(fullName, true)
}

// repo returns repository fullName, creating it if create; s.mu must be
// held.
func (s *Server) repo(fullName string, create bool) *repoState {
	key := strings.ToLower(fullName)
	r, ok := s.repos[key]
	if !ok && create {
		r = &repoState{id: s.id(), fullName: fullName, hooks: map[int64]*Hook{}}
		s.repos[key] = r
	}
	return r
}

// AddToken makes the server accept token with access.
func (s *Server) AddToken(token string, access Access) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = &Token{Value: token, Access: access}
}

// Tokens returns the installation tokens the server minted, oldest first.
func (s *Server) Tokens() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Token
	for _, t := range s.minted {
		c := *t
		c.Repositories, c.Permissions = slices.Clone(t.Repositories), maps.Clone(t.Permissions)
		out = append(out, c)
	}
	return out
}

// appFromJWT returns the App whose JWT authenticates r, or why there is
// none; s.mu must be held.
func (s *Server) appFromJWT(r *http.Request) (*App, error) {
	raw := credential(r)
	if raw == "" {
		return nil, errors.New("A JSON web token could not be decoded")
	}
	claims := &jwt.RegisteredClaims{}
	var app *App
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		for _, a := range s.apps {
			if claims.Issuer == strconv.FormatInt(a.ID, 10) || claims.Issuer == a.ClientID {
				app = a
				return &a.Key.PublicKey, nil
			}
		}
		return nil, errors.New("unknown issuer")
	})
	if err != nil {
		return nil, errors.New("A JSON web token could not be decoded")
	}
	return app, checkJWTTimes(claims, s.opts.Now())
}

// checkJWTTimes applies GitHub's rules: iat and exp present, iat not in
// the future (60 s of drift allowed), exp in the future but at most 10
// minutes (plus the drift), and at most 11 minutes after iat.
func checkJWTTimes(c *jwt.RegisteredClaims, now time.Time) error {
	const drift = time.Minute
	switch {
	case c.IssuedAt == nil || c.ExpiresAt == nil:
		return errors.New("'Issued at' and 'Expiration time' claims are required")
	case c.IssuedAt.After(now.Add(drift)):
		return errors.New("'Issued at' claim ('iat') must be an Integer representing a time in the past")
	case !c.ExpiresAt.After(now):
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case c.ExpiresAt.After(now.Add(10*time.Minute+drift)) || c.ExpiresAt.Sub(c.IssuedAt.Time) > 11*time.Minute:
		return errors.New("'Expiration time' claim ('exp') is too far in the future")
	}
	return nil
}

func (s *Server) convertManifest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code, ok := s.codes[r.PathValue("code")]
	delete(s.codes, r.PathValue("code"))
	a := s.apps[code.appID]
	if !ok || a == nil || s.opts.Now().Sub(code.issued) > manifestCodeTTL {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": a.ID, "slug": a.Slug, "node_id": "A_" + strconv.FormatInt(a.ID, 10), "name": a.Name,
		"owner":          map[string]any{"login": a.Owner, "id": 1, "type": "User"},
		"html_url":       s.URL + "/apps/" + a.Slug,
		"external_url":   "",
		"client_id":      a.ClientID,
		"client_secret":  a.ClientSecret,
		"webhook_secret": a.WebhookSecret,
		"pem":            string(a.PrivateKeyPEM()),
		"events":         a.Events,
		"permissions":    a.Permissions,
		"created_at":     s.opts.Now().UTC(), "updated_at": s.opts.Now().UTC(),
	})
}

// jwtInstallation authenticates r as an App and returns the installation
// of the path's id if it is that App's; otherwise it answers r.
func (s *Server) jwtInstallation(w http.ResponseWriter, r *http.Request) (*App, *Installation, bool) {
	app, err := s.appFromJWT(r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return nil, nil, false
	}
	id, _ := pathID(r, "id")
	in, ok := s.installations[id]
	if !ok || in.AppID != app.ID {
		writeError(w, http.StatusNotFound, "Not Found")
		return nil, nil, false
	}
	return app, in, true
}

func (s *Server) getInstallation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, in, ok := s.jwtInstallation(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.installationJSON(app, in))
}

// installationJSON renders in as GitHub's installation object.
func (s *Server) installationJSON(app *App, in *Installation) map[string]any {
	selection := "all"
	if in.Repositories != nil {
		selection = "selected"
	}
	var suspendedAt any
	if in.Suspended {
		suspendedAt = s.opts.Now().UTC()
	}
	return map[string]any{
		"id": in.ID, "app_id": app.ID, "app_slug": app.Slug,
		"account":              map[string]any{"login": in.Account, "id": 2, "type": in.AccountType},
		"target_type":          in.AccountType,
		"repository_selection": selection,
		"access_tokens_url":    fmt.Sprintf("%sapp/installations/%d/access_tokens", s.APIURL, in.ID),
		"permissions":          app.Permissions,
		"events":               app.Events,
		"suspended_at":         suspendedAt,
	}
}

// tokenRequest is the body of an access token request.
type tokenRequest struct {
	Repositories  []string          `json:"repositories"`
	RepositoryIDs []int64           `json:"repository_ids"`
	Permissions   map[string]string `json:"permissions"`
}

func (s *Server) createAccessToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, in, ok := s.jwtInstallation(w, r)
	if !ok {
		return
	}
	if in.Suspended {
		writeError(w, http.StatusForbidden, "This installation has been suspended")
		return
	}
	var req tokenRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "Problems parsing JSON")
			return
		}
	}
	repos, ok := s.coveredRepos(in, req)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
		return
	}
	if !granted(app.Permissions, req.Permissions) {
		writeError(w, http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.")
		return
	}
	tok := &Token{
		Value: "ghs_" + randomHex(18), Access: Read, InstallationID: in.ID,
		Repositories: slices.Clone(req.Repositories), Permissions: maps.Clone(req.Permissions),
		ExpiresAt: s.opts.Now().Add(installationTokenTTL).UTC().Truncate(time.Second),
	}
	s.tokens[tok.Value] = tok
	s.minted = append(s.minted, tok)
	body := map[string]any{
		"token": tok.Value, "expires_at": tok.ExpiresAt,
		"permissions":          orDefault(req.Permissions, app.Permissions),
		"repository_selection": "selected",
	}
	if repos == nil && in.Repositories == nil {
		body["repository_selection"] = "all"
	} else {
		body["repositories"] = s.repoJSON(repos, in)
	}
	writeJSON(w, http.StatusCreated, body)
}

// coveredRepos resolves the repositories a token request names within
// in's account; false when one is not covered. nil: none named.
func (s *Server) coveredRepos(in *Installation, req tokenRequest) ([]*repoState, bool) {
	var out []*repoState
	for _, name := range req.Repositories {
		r := s.repo(in.Account+"/"+name, false)
		if r == nil || !covers(in, r.fullName) {
			return nil, false
		}
		out = append(out, r)
	}
	for _, id := range req.RepositoryIDs {
		r := s.repoByID(id)
		if r == nil || !covers(in, r.fullName) {
			return nil, false
		}
		out = append(out, r)
	}
	return out, true
}

func (s *Server) repoByID(id int64) *repoState {
	for _, r := range s.repos {
		if r.id == id {
			return r
		}
	}
	return nil
}

func covers(in *Installation, fullName string) bool {
	owner, _, _ := strings.Cut(fullName, "/")
	if !strings.EqualFold(owner, in.Account) {
		return false
	}
	return in.Repositories == nil || slices.ContainsFunc(in.Repositories, func(n string) bool { return strings.EqualFold(n, fullName) })
}

// repoJSON lists repos, or when none were asked for, all that in covers.
func (s *Server) repoJSON(repos []*repoState, in *Installation) []map[string]any {
	if repos == nil {
		for _, r := range s.repos {
			if covers(in, r.fullName) {
				repos = append(repos, r)
			}
		}
	}
	var out []map[string]any
	for _, r := range repos {
		_, name, _ := strings.Cut(r.fullName, "/")
		out = append(out, map[string]any{"id": r.id, "name": name, "full_name": r.fullName, "private": true})
	}
	return out
}

// granted reports whether every permission asked is within have ("read"
// below "write" below "admin").
func granted(have, asked map[string]string) bool {
	level := map[string]int{"read": 1, "write": 2, "admin": 3}
	for p, l := range asked {
		if level[l] == 0 || level[have[p]] < level[l] {
			return false
		}
	}
	return true
}

func orDefault(m, fallback map[string]string) map[string]string {
	if len(m) > 0 {
		return m
	}
	return fallback
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.liveToken(r)
	if tok == nil || tok.InstallationID == 0 {
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	tok.Revoked = true
	w.WriteHeader(http.StatusNoContent)
}

// liveToken returns r's token if the server accepts it now; s.mu must be
// held.
func (s *Server) liveToken(r *http.Request) *Token {
	tok, ok := s.tokens[credential(r)]
	if !ok || tok.Revoked || (!tok.ExpiresAt.IsZero() && !s.opts.Now().Before(tok.ExpiresAt)) {
		return nil
	}
	return tok
}

// manifestForm is the part of a submitted manifest the server uses.
type manifestForm struct {
	Name           string `json:"name"`
	URL            string `json:"url"`
	HookAttributes struct {
		URL string `json:"url"`
	} `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url"`
	SetupURL           string            `json:"setup_url"`
	CallbackURLs       []string          `json:"callback_urls"`
	RequestOAuth       bool              `json:"request_oauth_on_install"`
	DefaultEvents      []string          `json:"default_events"`
	DefaultPermissions map[string]string `json:"default_permissions"`
}

// newAppPage registers the App a submitted manifest describes, as the
// operator clicking "Create GitHub App" does, and sends them to its
// redirect_url with a conversion code.
func (s *Server) newAppPage(w http.ResponseWriter, r *http.Request) {
	var m manifestForm
	if err := json.Unmarshal([]byte(r.FormValue("manifest")), &m); err != nil {
		http.Error(w, "invalid manifest: "+err.Error(), http.StatusBadRequest)
		return
	}
	if m.Name == "" || len([]rune(m.Name)) > 34 || m.URL == "" || m.RedirectURL == "" {
		http.Error(w, "manifest needs a name of at most 34 characters, a url and a redirect_url", http.StatusUnprocessableEntity)
		return
	}
	if m.RequestOAuth && (len(m.CallbackURLs) == 0 || m.SetupURL != "") {
		http.Error(w, "request_oauth_on_install needs callback_urls and no setup_url", http.StatusUnprocessableEntity)
		return
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	owner := cmp.Or(r.PathValue("org"), s.opts.User)
	s.mu.Lock()
	if s.appBySlug(slugify(m.Name)) != nil {
		s.mu.Unlock()
		http.Error(w, "Name is already in use", http.StatusUnprocessableEntity)
		return
	}
	a := s.addApp(App{
		Name: m.Name, Owner: owner, Key: key, WebhookURL: m.HookAttributes.URL,
		RedirectURL: m.RedirectURL, SetupURL: m.SetupURL,
		CallbackURLs: slices.Clone(m.CallbackURLs), RequestOAuthOnInstall: m.RequestOAuth,
		Events: slices.Clone(m.DefaultEvents), Permissions: maps.Clone(m.DefaultPermissions),
	})
	s.mu.Unlock()
	code := s.ManifestCode(a.ID)
	// GitHub hands back the state of the page's URL, not of the form.
	redirect(w, r, a.RedirectURL, url.Values{"code": {code}, "state": {r.URL.Query().Get("state")}})
}

// installPage installs the App on Options.InstallAccount with all of its
// repositories (or finds that installation), gives Options.User access
// to it, and sends the operator on: with RequestOAuthOnInstall to the
// App's first callback URL with a user authorization code (code,
// installation_id, setup_action, state), else to its setup_url.
func (s *Server) installPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.appBySlug(r.PathValue("slug"))
	if a == nil {
		s.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	action, in := "update", s.installationOn(a.ID, s.opts.InstallAccount)
	if in == nil {
		action = "install"
		in = s.addInstallation(Installation{AppID: a.ID, Account: s.opts.InstallAccount, AccountType: s.opts.InstallAccountType})
	}
	if !slices.Contains(in.Users, s.opts.User) {
		in.Users = append(in.Users, s.opts.User)
	}
	query := url.Values{"installation_id": {strconv.FormatInt(in.ID, 10)}, "setup_action": {action}, "state": {r.URL.Query().Get("state")}}
	target := a.SetupURL
	if a.RequestOAuthOnInstall && len(a.CallbackURLs) > 0 {
		target = a.CallbackURLs[0]
		query.Set("code", s.userCode(a.ID, s.opts.User))
	}
	id := in.ID
	s.mu.Unlock()
	if target == "" {
		fmt.Fprintf(w, "installed: %d\n", id)
		return
	}
	redirect(w, r, target, query)
}

func (s *Server) installationOn(appID int64, account string) *Installation {
	for _, in := range s.installations {
		if in.AppID == appID && strings.EqualFold(in.Account, account) {
			return in
		}
	}
	return nil
}

// redirect sends a 302 to target with query added; an empty state is
// left out, as GitHub leaves it.
func redirect(w http.ResponseWriter, r *http.Request, target string, query url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, "bad redirect url", http.StatusUnprocessableEntity)
		return
	}
	q := u.Query()
	for k, v := range query {
		if v[0] != "" {
			q.Set(k, v[0])
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}
