package githubtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// userCodeTTL is how long GitHub honours a user authorization code.
const userCodeTTL = 10 * time.Minute

// userTokenTTL is the lifetime of an expiring user access token.
const userTokenTTL = 8 * time.Hour

// userCode is a user authorization code the installation page issued.
type userCode struct {
	appID  int64
	user   string
	issued time.Time
}

// UserToken returns a user access token of App appID for login, as the
// code exchange issues one.
func (s *Server) UserToken(appID int64, login string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userToken(appID, login)
}

func (s *Server) userToken(appID int64, login string) string {
	tok := &Token{Value: "ghu_" + randomHex(18), Access: Read, AppID: appID, User: login,
		ExpiresAt: s.opts.Now().Add(userTokenTTL).UTC().Truncate(time.Second)}
	s.tokens[tok.Value] = tok
	s.userTokens = append(s.userTokens, tok)
	return tok.Value
}

// UserTokens returns the user access tokens the server issued, oldest
// first.
func (s *Server) UserTokens() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Token
	for _, t := range s.userTokens {
		out = append(out, *t)
	}
	return out
}

// UserCode issues a user authorization code of App appID for login, as
// the installation page does when the App requests user authorization.
func (s *Server) UserCode(appID int64, login string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userCode(appID, login)
}

func (s *Server) userCode(appID int64, login string) string {
	code := randomHex(10)
	s.userCodes[code] = userCode{appID: appID, user: login, issued: s.opts.Now()}
	return code
}

// accessToken answers POST /login/oauth/access_token as GitHub does:
// HTTP 200 whatever the outcome, errors as {"error", "error_description",
// "error_uri"}, JSON when asked for with Accept, form encoding otherwise.
// A code works once, for its own App, within ten minutes.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	clientID, secret, code := r.Form.Get("client_id"), r.Form.Get("client_secret"), r.Form.Get("code")
	s.mu.Lock()
	var app *App
	for _, a := range s.apps {
		if a.ClientID == clientID && clientID != "" {
			app = a
		}
	}
	answer := map[string]any{}
	switch c, ok := s.userCodes[code]; {
	case app == nil || app.ClientSecret != secret:
		answer = oauthError("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
	case !ok || c.appID != app.ID || s.opts.Now().Sub(c.issued) > userCodeTTL:
		delete(s.userCodes, code)
		answer = oauthError("bad_verification_code", "The code passed is incorrect or expired.")
	default:
		delete(s.userCodes, code)
		answer = map[string]any{"access_token": s.userToken(app.ID, c.user), "expires_in": int(userTokenTTL / time.Second),
			"refresh_token": "ghr_" + randomHex(30), "refresh_token_expires_in": 15897600, "scope": "", "token_type": "bearer"}
	}
	s.mu.Unlock()
	if strings.Contains(r.Header.Get("Accept"), "json") {
		writeJSON(w, http.StatusOK, answer)
		return
	}
	form := url.Values{}
	for k, v := range answer {
		b, _ := json.Marshal(v)
		form.Set(k, strings.Trim(string(b), `"`))
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	w.Write([]byte(form.Encode()))
}

func oauthError(code, description string) map[string]any {
	return map[string]any{"error": code, "error_description": description,
		"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" +
			strings.ReplaceAll(code, "_", "-")}
}

// userInstallations answers GET /user/installations: the installations of
// the token's App that its user may access, paginated with Link headers.
// Only user access tokens may ask (GitHub answers 403 to others); a token
// it does not accept gets 401.
func (s *Server) userInstallations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.liveToken(r)
	switch {
	case tok == nil:
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return
	case tok.User == "":
		writeError(w, http.StatusForbidden, "You must authenticate with an access token authorized to a GitHub App in order to list installations")
		return
	}
	var mine []*Installation
	for _, in := range s.installations {
		if in.AppID == tok.AppID && slices.ContainsFunc(in.Users, func(u string) bool { return strings.EqualFold(u, tok.User) }) {
			mine = append(mine, in)
		}
	}
	slices.SortFunc(mine, func(a, b *Installation) int { return int(a.ID - b.ID) })
	start, end := s.paginate(w, r, len(mine))
	out := []map[string]any{}
	for _, in := range mine[start:end] {
		out = append(out, s.installationJSON(s.apps[in.AppID], in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(mine), "installations": out})
}

// revokeUserToken answers DELETE /applications/{client_id}/token: the
// App's client credentials in basic authentication (404 otherwise, as
// GitHub hides the App), the token in the body; 204, or 422 for a token
// that is not the App's.
func (s *Server) revokeUserToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var app *App
	for _, a := range s.apps {
		if ok && a.ClientID == id && id == r.PathValue("client_id") && a.ClientSecret == secret {
			app = a
		}
	}
	if app == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if json.NewDecoder(r.Body).Decode(&body) != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	tok, found := s.tokens[body.AccessToken]
	if !found || tok.User == "" || tok.AppID != app.ID || tok.Revoked {
		writeValidation(w, "OauthAccess", "Invalid OAuth token")
		return
	}
	tok.Revoked = true
	w.WriteHeader(http.StatusNoContent)
}
