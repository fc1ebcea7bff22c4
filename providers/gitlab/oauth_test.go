package gitlab

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const (
	clientID     = "0123456789abcdef-app"
	clientSecret = "gloas-s3cretCLIENT"
	redirectURL  = "https://forgelink.example.com/setup/callback"
)

// grant is an authorization code the fake issued.
type grant struct {
	redirectURI, challenge string
}

// oauthFake is GitLab's (Doorkeeper's) token and revocation endpoints for
// one confidential application: client credentials in the form body,
// codes single-use and bound to redirect_uri and the PKCE challenge,
// refresh tokens rotated on use (the old one stops working), an access
// token and its refresh token revoked together.
type oauthFake struct {
	mu      sync.Mutex
	codes   map[string]grant
	refresh map[string]string // refresh token → its access token
	seq     int
	forms   []url.Values // every token request's form
	basic   []bool       // whether it carried Basic auth
}

func newOAuthFake(t *testing.T) (*oauthFake, string) {
	t.Helper()
	f := &oauthFake{codes: map[string]grant{}, refresh: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", f.token)
	mux.HandleFunc("POST /oauth/revoke", f.revoke)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// issue is the user approving the application: a code for the redirect
// URI and the PKCE challenge ("" without PKCE).
func (f *oauthFake) issue(redirectURI, challenge string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	code := fmt.Sprintf("code-%d", f.seq)
	f.codes[code] = grant{redirectURI, challenge}
	return code
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, fmt.Sprintf(`{"error":%q,"error_description":"described by GitLab"}`, code))
}

func (f *oauthFake) clientOK(r *http.Request) bool {
	return r.PostForm.Get("client_id") == clientID && r.PostForm.Get("client_secret") == clientSecret
}

func (f *oauthFake) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, basic := r.BasicAuth()
	f.forms, f.basic = append(f.forms, r.PostForm), append(f.basic, basic)
	if !f.clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		g, ok := f.codes[code]
		delete(f.codes, code)
		if !ok || g.redirectURI != r.PostForm.Get("redirect_uri") || !verifies(g.challenge, r.PostForm.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
	case "refresh_token":
		old := r.PostForm.Get("refresh_token")
		if _, ok := f.refresh[old]; !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(f.refresh, old)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	f.seq++
	access, refresh := fmt.Sprintf("access-%d", f.seq), fmt.Sprintf("refresh-%d", f.seq)
	f.refresh[refresh] = access
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":7200,"refresh_token":%q,"scope":"api read_repository","created_at":%d}`,
		access, refresh, time.Now().Unix()))
}

// verifies checks an RFC 7636 S256 verifier against the challenge.
func verifies(challenge, verifier string) bool {
	if challenge == "" {
		return verifier == ""
	}
	return s256(verifier) == challenge
}

// s256 is the RFC 7636 S256 code challenge of verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (f *oauthFake) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !f.clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := r.PostForm.Get("token")
	for refresh, access := range f.refresh {
		if tok == refresh || tok == access {
			delete(f.refresh, refresh)
		}
	}
	writeJSON(w, http.StatusOK, `{}`)
}

func (f *oauthFake) lastForm() (url.Values, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forms[len(f.forms)-1], f.basic[len(f.basic)-1]
}

func TestOAuthConfigAuthCodeURL(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name string
		opts []oauth2.AuthCodeOption
		want url.Values
	}{
		{"with PKCE", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, url.Values{
			"client_id": {clientID}, "redirect_uri": {redirectURL}, "response_type": {"code"}, "state": {"st4te"},
			"scope": {"api read_repository"}, "code_challenge": {s256(verifier)},
			"code_challenge_method": {"S256"},
		}},
		{"without PKCE", nil, url.Values{
			"client_id": {clientID}, "redirect_uri": {redirectURL}, "response_type": {"code"}, "state": {"st4te"},
			"scope": {"api read_repository"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := OAuthConfig("https://gitlab.example.com/", clientID, clientSecret, redirectURL).AuthCodeURL("st4te", tc.opts...)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if base := u.Scheme + "://" + u.Host + u.Path; base != "https://gitlab.example.com/oauth/authorize" {
				t.Errorf("authorization endpoint %s", base)
			}
			if got := u.Query(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("query %v\nwant  %v", got, tc.want)
			}
			if strings.Contains(raw, clientSecret) {
				t.Error("the authorization URL shows the client secret")
			}
		})
	}
}

func TestOAuthExchange(t *testing.T) {
	f, web := newOAuthFake(t)
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name     string
		secret   string
		approved string // the verifier whose challenge the user approved, "" without PKCE
		sent     string // the verifier the exchange sends
		redirect string
		wantErr  string // the RFC 6749 error code
	}{
		{"PKCE", clientSecret, verifier, verifier, redirectURL, ""},
		{"without PKCE", clientSecret, "", "", redirectURL, ""},
		{"wrong verifier", clientSecret, verifier, oauth2.GenerateVerifier(), redirectURL, "invalid_grant"},
		{"no verifier", clientSecret, verifier, "", redirectURL, "invalid_grant"},
		{"other redirect", clientSecret, "", "", redirectURL + "/x", "invalid_grant"},
		{"wrong secret", "gloas-wrong", "", "", redirectURL, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var challenge string
			if tc.approved != "" {
				challenge = s256(tc.approved)
			}
			code := f.issue(redirectURL, challenge)
			cfg := OAuthConfig(web, clientID, tc.secret, tc.redirect)
			var opts []oauth2.AuthCodeOption
			if tc.sent != "" {
				opts = append(opts, oauth2.VerifierOption(tc.sent))
			}
			tok, err := cfg.Exchange(t.Context(), code, opts...)
			if tc.wantErr != "" {
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != tc.wantErr {
					t.Fatalf("Exchange = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
				t.Errorf("token %+v, want access and refresh token with an expiry", tok)
			}
			form, basic := f.lastForm()
			want := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURL},
				"client_id": {clientID}, "client_secret": {clientSecret}}
			if tc.sent != "" {
				want.Set("code_verifier", tc.sent)
			}
			if fmt.Sprint(form) != fmt.Sprint(want) || basic {
				t.Errorf("token request %v (Basic %v), want %v in the body", form, basic, want)
			}
		})
	}
}

func TestOAuthRefreshRotation(t *testing.T) {
	f, web := newOAuthFake(t)
	cfg := OAuthConfig(web, clientID, clientSecret, redirectURL)
	first, err := cfg.Exchange(t.Context(), f.issue(redirectURL, ""))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(refreshToken string) (*oauth2.Token, error) {
		expired := &oauth2.Token{AccessToken: first.AccessToken, RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Minute)}
		return cfg.TokenSource(t.Context(), expired).Token()
	}
	second, err := refresh(first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken {
		t.Errorf("refresh gave %+v, want new access and refresh tokens", second)
	}
	form, basic := f.lastForm()
	want := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken},
		"client_id": {clientID}, "client_secret": {clientSecret}}
	if fmt.Sprint(form) != fmt.Sprint(want) || basic {
		t.Errorf("refresh request %v (Basic %v), want %v", form, basic, want)
	}
	_, err = refresh(first.RefreshToken)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh with the rotated-out token = %v, want invalid_grant", err)
	}
	if _, err := refresh(second.RefreshToken); err != nil {
		t.Errorf("refresh with the new token: %v", err)
	}
}

func TestCheckOAuthApp(t *testing.T) {
	_, web := newOAuthFake(t)
	tests := []struct {
		name, web, id, secret string
		want                  string // as tokentest.Outcome renders it
	}{
		{"good", web, clientID, clientSecret, ""},
		{"wrong secret", web, clientID, "gloas-wrong", "rejected"},
		{"unknown application", web, "nope", clientSecret, "rejected"},
		{"server error", tokentest.Answer(t, 500, nil, `<h1>500</h1>`), clientID, clientSecret, "unavailable"},
		{"not GitLab", tokentest.Answer(t, 404, nil, `not found`), clientID, clientSecret, "unavailable"},
		{"takes any code", tokentest.Answer(t, 200, http.Header{"Content-Type": {"application/json"}}, `{"access_token":"x","token_type":"Bearer"}`), clientID, clientSecret, "unavailable"},
		{"unreachable", tokentest.Unreachable(), clientID, clientSecret, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOAuthApp(t.Context(), http.DefaultClient, tc.web, tc.id, tc.secret, redirectURL)
			if got := tokentest.Outcome(t, tc.secret, "", err); got != tc.want {
				t.Errorf("CheckOAuthApp = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRevokeToken(t *testing.T) {
	f, web := newOAuthFake(t)
	cfg := OAuthConfig(web, clientID, clientSecret, redirectURL)
	tok, err := cfg.Exchange(t.Context(), f.issue(redirectURL, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, attempt := range []string{"first", "again"} {
		if err := RevokeToken(t.Context(), http.DefaultClient, web, clientID, clientSecret, tok.AccessToken); err != nil {
			t.Fatalf("%s revoke: %v", attempt, err)
		}
	}
	f.mu.Lock()
	left := len(f.refresh)
	f.mu.Unlock()
	if left != 0 {
		t.Errorf("%d grants left after revoking, want the refresh token revoked with its access token", left)
	}
	err = RevokeToken(t.Context(), http.DefaultClient, web, clientID, "gloas-wrong", tok.AccessToken)
	if got := tokentest.Outcome(t, "gloas-wrong", "", err); got != "rejected 401" {
		t.Errorf("revoke with a wrong secret = %v, want rejected 401", err)
	}
	err = RevokeToken(t.Context(), http.DefaultClient, tokentest.Unreachable(), clientID, clientSecret, tok.AccessToken)
	if got := tokentest.Outcome(t, clientSecret, "", err); got != "unavailable" {
		t.Errorf("revoke at an unreachable host = %v, want unavailable", err)
	}
}
