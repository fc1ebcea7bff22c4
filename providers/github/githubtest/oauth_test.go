package githubtest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers/github/githubtest"
)

// exchange posts a code to the token endpoint as a client asking for JSON.
func exchange(t *testing.T, srv *githubtest.Server, clientID, secret, code string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"client_id": {clientID}, "client_secret": {secret}, "code": {code}}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestUserAuthorizationOnInstall: the installation page of an App that
// requests user authorization sends the user to its callback URL with a
// code; the code works once, with the App's own client secret, within ten
// minutes; refusals are HTTP 200 with GitHub's error codes.
func TestUserAuthorizationOnInstall(t *testing.T) {
	now := time.Now()
	srv := githubtest.New(t, githubtest.Options{User: "alice", InstallAccount: "alice-org", Now: func() time.Time { return now }})
	app := srv.AddApp(githubtest.App{Name: "oauth-app", RequestOAuthOnInstall: true, CallbackURLs: []string{"https://forgelink.example/cb"}})
	expired := srv.UserCode(app.ID, "alice")
	now = now.Add(11 * time.Minute)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(srv.URL + "/apps/" + app.Slug + "/installations/new?state=s1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	q := to.Query()
	if resp.StatusCode != http.StatusFound || to.Host != "forgelink.example" || q.Get("code") == "" || q.Get("state") != "s1" ||
		q.Get("setup_action") != "install" || q.Get("installation_id") == "" {
		t.Fatalf("installation page: %d to %s", resp.StatusCode, to)
	}

	for _, tc := range []struct {
		name, secret, code, want string
	}{
		{"wrong client secret", "wrong", q.Get("code"), "incorrect_client_credentials"},
		{"unknown code", app.ClientSecret, "feedfacefeedface", "bad_verification_code"},
		{"expired code", app.ClientSecret, expired, "bad_verification_code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := exchange(t, srv, app.ClientID, tc.secret, tc.code)
			if status != http.StatusOK || body["error"] != tc.want || body["error_description"] == nil || body["access_token"] != nil {
				t.Errorf("answer %d %v, want 200 with error %s", status, body, tc.want)
			}
		})
	}
	status, body := exchange(t, srv, app.ClientID, app.ClientSecret, q.Get("code"))
	token, _ := body["access_token"].(string)
	if status != http.StatusOK || !strings.HasPrefix(token, "ghu_") || body["token_type"] != "bearer" {
		t.Fatalf("exchange: %d %v", status, body)
	}
	if _, again := exchange(t, srv, app.ClientID, app.ClientSecret, q.Get("code")); again["error"] != "bad_verification_code" {
		t.Errorf("a reused code: %v", again)
	}

	// GET /user/installations: the user's installations of the App only.
	srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "bob-org", Users: []string{"bob"}})
	r, page := do(t, http.MethodGet, srv.APIURL+"user/installations", token, "")
	var list struct {
		TotalCount    int `json:"total_count"`
		Installations []struct {
			ID      int64 `json:"id"`
			Account struct {
				Login string `json:"login"`
			} `json:"account"`
		} `json:"installations"`
	}
	if err := json.Unmarshal([]byte(page), &list); err != nil || r.StatusCode != http.StatusOK || list.TotalCount != 1 ||
		len(list.Installations) != 1 || list.Installations[0].Account.Login != "alice-org" || q.Get("installation_id") != itoa(list.Installations[0].ID) {
		t.Errorf("user installations: %d %s", r.StatusCode, page)
	}
	if r, _ := do(t, http.MethodGet, srv.APIURL+"user/installations", "ghu_unknown", ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown token: %d", r.StatusCode)
	}
	srv.AddToken("ghp_personal", githubtest.Read)
	if r, _ := do(t, http.MethodGet, srv.APIURL+"user/installations", "ghp_personal", ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("a personal token: %d", r.StatusCode)
	}
}

// TestUserInstallationsPages: the listing is paginated with Link headers.
func TestUserInstallationsPages(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{MaxPerPage: 2})
	app := srv.AddApp(githubtest.App{Name: "paged"})
	for range 3 {
		srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "org", Users: []string{"octocat"}})
	}
	token := srv.UserToken(app.ID, "octocat")
	r, _ := do(t, http.MethodGet, srv.APIURL+"user/installations?per_page=100", token, "")
	if link := r.Header.Get("Link"); !strings.Contains(link, `page=2`) || !strings.Contains(link, `rel="next"`) {
		t.Errorf("first page Link %q", link)
	}
	r, page := do(t, http.MethodGet, srv.APIURL+"user/installations?page=2&per_page=2", token, "")
	if strings.Contains(r.Header.Get("Link"), `rel="next"`) || !strings.Contains(page, `"total_count":3`) || strings.Count(page, `"app_id"`) != 1 {
		t.Errorf("last page: Link %q, body %s", r.Header.Get("Link"), page)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
