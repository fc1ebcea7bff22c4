package bitbucket

import (
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
	consumerKey    = "Xk3yCONSUMER"
	consumerSecret = "s3cretCONSUMERsecret"
	callbackURL    = "https://forgelink.example.com/setup/callback"
)

// oauthFake is Bitbucket Cloud's /site/oauth2/access_token for one
// consumer: the consumer authenticates with HTTP Basic (anything else is
// 400 "unauthorized_client", "Invalid OAuth client credentials"); codes are
// single-use; refresh tokens are long-lived and not rotated.
type oauthFake struct {
	mu      sync.Mutex
	codes   map[string]bool
	refresh map[string]bool
	seq     int
	forms   []url.Values
	basic   []string // the Basic credentials, "key:secret"
}

func newOAuthFake(t *testing.T) (*oauthFake, string) {
	t.Helper()
	f := &oauthFake{codes: map[string]bool{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /site/oauth2/access_token", f.token)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *oauthFake) issue() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	code := fmt.Sprintf("code%d", f.seq)
	f.codes[code] = true
	return code
}

func oauthError(w http.ResponseWriter, code, description string) {
	writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error_description":%q,"error":%q}`, description, code))
}

func (f *oauthFake) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "bad form")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// RFC 6749 §2.3.1: the client id and secret are form-encoded before
	// they go into Basic.
	user, password, _ := r.BasicAuth()
	user, _ = url.QueryUnescape(user)
	password, _ = url.QueryUnescape(password)
	f.forms, f.basic = append(f.forms, r.PostForm), append(f.basic, user+":"+password)
	if user != consumerKey || password != consumerSecret {
		oauthError(w, "unauthorized_client", "Invalid OAuth client credentials")
		return
	}
	var refresh string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		if !f.codes[code] {
			oauthError(w, "invalid_grant", "The specified code is not valid.")
			return
		}
		delete(f.codes, code)
		f.seq++
		refresh = fmt.Sprintf("refresh%d", f.seq)
		f.refresh[refresh] = true
	case "refresh_token":
		refresh = r.PostForm.Get("refresh_token")
		if !f.refresh[refresh] {
			oauthError(w, "invalid_grant", "Invalid refresh_token")
			return
		}
	default:
		oauthError(w, "unsupported_grant_type", "Unsupported grant type")
		return
	}
	f.seq++
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":"access%d","scopes":"repository webhook","token_type":"bearer","expires_in":7200,"state":"authorization_code","refresh_token":%q}`,
		f.seq, refresh))
}

func (f *oauthFake) last() (url.Values, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forms[len(f.forms)-1], f.basic[len(f.basic)-1]
}

func TestOAuthConfigAuthCodeURL(t *testing.T) {
	tests := []struct {
		name, web, wantEndpoint string
	}{
		{"Bitbucket Cloud", "", "https://bitbucket.org/site/oauth2/authorize"},
		{"other web URL", "https://bitbucket.example.com/", "https://bitbucket.example.com/site/oauth2/authorize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := OAuthConfig(tc.web, consumerKey, consumerSecret, callbackURL).AuthCodeURL("st4te")
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if base := u.Scheme + "://" + u.Host + u.Path; base != tc.wantEndpoint {
				t.Errorf("authorization endpoint %s, want %s", base, tc.wantEndpoint)
			}
			want := url.Values{"client_id": {consumerKey}, "redirect_uri": {callbackURL}, "response_type": {"code"}, "state": {"st4te"}}
			if got := u.Query(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("query %v\nwant  %v", got, want)
			}
			if strings.Contains(raw, consumerSecret) {
				t.Error("the authorization URL shows the consumer secret")
			}
		})
	}
}

func TestOAuthExchangeAndRefresh(t *testing.T) {
	f, web := newOAuthFake(t)
	tests := []struct {
		name, secret string
		code         func() string
		wantErr      string // the token endpoint's error code
	}{
		{"good", consumerSecret, f.issue, ""},
		{"unknown code", consumerSecret, func() string { return "nope" }, "invalid_grant"},
		{"wrong secret", "wrong", f.issue, "unauthorized_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := OAuthConfig(web, consumerKey, tc.secret, callbackURL)
			code := tc.code()
			tok, err := cfg.Exchange(t.Context(), code)
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
			form, basic := f.last()
			want := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callbackURL}}
			if fmt.Sprint(form) != fmt.Sprint(want) || basic != consumerKey+":"+consumerSecret {
				t.Errorf("token request %v with Basic %q, want %v with the consumer in Basic", form, basic, want)
			}
			expired := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			fresh, err := cfg.TokenSource(t.Context(), expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken {
				t.Errorf("refresh gave %+v, want a new access token and the same refresh token", fresh)
			}
			form, basic = f.last()
			want = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			if fmt.Sprint(form) != fmt.Sprint(want) || basic != consumerKey+":"+consumerSecret {
				t.Errorf("refresh request %v with Basic %q, want %v with the consumer in Basic", form, basic, want)
			}
		})
	}
}

func TestCheckOAuthConsumer(t *testing.T) {
	_, web := newOAuthFake(t)
	tests := []struct {
		name, web, key, secret string
		want                   string // as tokentest.Outcome renders it
	}{
		{"good", web, consumerKey, consumerSecret, ""},
		{"wrong secret", web, consumerKey, "wrong-secret", "rejected"},
		{"unknown key", web, "nope", consumerSecret, "rejected"},
		{"RFC invalid_client", tokentest.Answer(t, 401, http.Header{"Content-Type": {"application/json"}}, `{"error":"invalid_client"}`), consumerKey, consumerSecret, "rejected"},
		{"server error", tokentest.Answer(t, 500, nil, `<h1>500</h1>`), consumerKey, consumerSecret, "unavailable"},
		{"takes any code", tokentest.Answer(t, 200, http.Header{"Content-Type": {"application/json"}}, `{"access_token":"x","token_type":"bearer"}`), consumerKey, consumerSecret, "unavailable"},
		{"unreachable", tokentest.Unreachable(), consumerKey, consumerSecret, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOAuthConsumer(t.Context(), http.DefaultClient, tc.web, tc.key, tc.secret)
			if got := tokentest.Outcome(t, tc.secret, "", err); got != tc.want {
				t.Errorf("CheckOAuthConsumer = %v, want %q", err, tc.want)
			}
		})
	}
}
