package setup

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// oauthFake is a provider's OAuth 2.0 endpoints and the API call that
// names a token's user, as GitLab (Doorkeeper) and Bitbucket Cloud
// document them:
//
//   - the authorization page approves at once (the user clicks
//     Authorize) and redirects to redirect_uri with a code and the state;
//   - the token endpoint authenticates the client first (GitLab: id and
//     secret in the form; Bitbucket: HTTP Basic), then the grant: codes are
//     single use, bound to redirect_uri and the PKCE challenge, refresh
//     tokens rotate on use (GitLab) or stay (Bitbucket);
//   - GET {api}/user answers the bearer token's user;
//   - POST /oauth/revoke (GitLab) ends a grant;
//   - POST {api}/applications (GitLab) creates an OAuth application with
//     an admin's PRIVATE-TOKEN.
type oauthFake struct {
	t         *testing.T
	bitbucket bool
	srv       *httptest.Server
	adminTok  string

	mu       sync.Mutex
	clients  map[string]string // client id → secret
	codes    map[string]grant
	access   map[string]string // access token → user
	refresh  map[string]string // live refresh token → user
	seq      int
	user     string
	verified []string // code verifiers received
	refreshN int
	// refreshFails answers refresh grants with this OAuth error code
	// (HTTP 400), or 500 when "unavailable".
	refreshFails string
	revoked      []string
}

type grant struct {
	client, redirect, challenge string
}

func newGitLabFake(t *testing.T) *oauthFake    { return newOAuthFake(t, false) }
func newBitbucketFake(t *testing.T) *oauthFake { return newOAuthFake(t, true) }

func newOAuthFake(t *testing.T, bitbucket bool) *oauthFake {
	f := &oauthFake{t: t, bitbucket: bitbucket, user: "jdoe", adminTok: "glpat-ADMIN",
		clients: map[string]string{"app-id": "app-secret"},
		codes:   map[string]grant{}, access: map[string]string{}, refresh: map[string]string{}}
	mux := http.NewServeMux()
	if bitbucket {
		mux.HandleFunc("GET /site/oauth2/authorize", f.authorize)
		mux.HandleFunc("POST /site/oauth2/access_token", f.token)
		mux.HandleFunc("GET /2.0/user", f.currentUser)
	} else {
		mux.HandleFunc("GET /oauth/authorize", f.authorize)
		mux.HandleFunc("POST /oauth/token", f.token)
		mux.HandleFunc("POST /oauth/revoke", f.revoke)
		mux.HandleFunc("GET /api/v4/user", f.currentUser)
		mux.HandleFunc("POST /api/v4/applications", f.createApplication)
	}
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *oauthFake) apiURL() string {
	if f.bitbucket {
		return f.srv.URL + "/2.0"
	}
	return f.srv.URL + "/api/v4"
}

func (f *oauthFake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[q.Get("client_id")]; !ok || q.Get("response_type") != "code" {
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	}
	if m := q.Get("code_challenge_method"); q.Get("code_challenge") != "" && m != "S256" {
		http.Error(w, "want S256", http.StatusBadRequest)
		return
	}
	f.seq++
	code := fmt.Sprintf("code-%d", f.seq)
	f.codes[code] = grant{client: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
	to, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || to.Host == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	to.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"error_description":"described by the provider"}`, code)
}

// client authenticates the token request's client.
func (f *oauthFake) client(r *http.Request) (string, bool) {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if f.bitbucket {
		var ok bool
		if id, secret, ok = r.BasicAuth(); !ok {
			return "", false
		}
	}
	want, ok := f.clients[id]
	return id, ok && want == secret
}

func (f *oauthFake) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	client, ok := f.client(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		f.exchange(w, r, client)
	case "refresh_token":
		f.refreshGrant(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

func (f *oauthFake) exchange(w http.ResponseWriter, r *http.Request, client string) {
	code := r.PostForm.Get("code")
	g, ok := f.codes[code]
	delete(f.codes, code) // single use, even when refused
	verifier := r.PostForm.Get("code_verifier")
	f.verified = append(f.verified, verifier)
	if !ok || g.client != client || (!f.bitbucket && g.redirect != r.PostForm.Get("redirect_uri")) {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	if g.challenge != "" {
		sum := sha256.Sum256([]byte(verifier))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
	}
	f.issueTokens(w, f.user)
}

func (f *oauthFake) refreshGrant(w http.ResponseWriter, r *http.Request) {
	f.refreshN++
	switch f.refreshFails {
	case "unavailable":
		http.Error(w, "unavailable", http.StatusInternalServerError)
		return
	case "":
	default:
		oauthError(w, http.StatusBadRequest, f.refreshFails)
		return
	}
	old := r.PostForm.Get("refresh_token")
	user, ok := f.refresh[old]
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	if !f.bitbucket {
		delete(f.refresh, old) // GitLab rotates refresh tokens
	}
	f.issueTokens(w, user)
}

// issueTokens answers a new access token (two hours) and refresh token;
// f.mu must be held.
func (f *oauthFake) issueTokens(w http.ResponseWriter, user string) {
	f.seq++
	access, refresh := fmt.Sprintf("access-%d", f.seq), fmt.Sprintf("refresh-%d", f.seq)
	f.access[access] = user
	f.refresh[refresh] = user
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": 7200, "refresh_token": refresh, "scope": "api read_repository",
	})
}

func (f *oauthFake) currentUser(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	user, ok := f.access[bearer(r)]
	f.mu.Unlock()
	if !ok {
		http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":1,"type":"user","username":%q}`, user)
}

func (f *oauthFake) revoke(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.client(r); !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	tok := r.PostForm.Get("token")
	f.revoked = append(f.revoked, tok)
	delete(f.access, tok)
	w.Write([]byte("{}"))
}

func (f *oauthFake) createApplication(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("PRIVATE-TOKEN") != f.adminTok {
		http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
		return
	}
	var in struct {
		Name        string `json:"name"`
		RedirectURI string `json:"redirect_uri"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	f.seq++
	id, secret := fmt.Sprintf("created-%d", f.seq), fmt.Sprintf("created-secret-%d", f.seq)
	f.clients[id] = secret
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":5,"application_id":%q,"application_name":%q,"secret":%q,"confidential":true}`, id, in.Name, secret)
}

func bearer(r *http.Request) string {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(prefix) && h[:len(prefix)] == prefix {
		return h[len(prefix):]
	}
	return ""
}

func (f *oauthFake) counts() (refreshes int, revoked []string, verifiers []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshN, append([]string(nil), f.revoked...), append([]string(nil), f.verified...)
}

func (f *oauthFake) liveRefresh(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.refresh[tok]
	return ok
}

func (f *oauthFake) setRefreshFails(code string) {
	f.mu.Lock()
	f.refreshFails = code
	f.mu.Unlock()
}
