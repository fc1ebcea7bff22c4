package githubtest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/forgelink/forgelink/providers/github/githubtest"
)

func do(t *testing.T, method, url, auth, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAppJWTIsVerified(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	srv := githubtest.New(t, githubtest.Options{Now: func() time.Time { return now }})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	app := srv.AddApp(githubtest.App{Key: key})
	inst := srv.AddInstallation(githubtest.Installation{AppID: app.ID, Account: "octo-org"})
	iss := strconv.FormatInt(app.ID, 10)
	sign := func(method jwt.SigningMethod, k any, c jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	claims := func(iss string, iat, exp *jwt.NumericDate) jwt.RegisteredClaims {
		return jwt.RegisteredClaims{Issuer: iss, IssuedAt: iat, ExpiresAt: exp}
	}
	tests := []struct {
		name   string
		jwt    string
		status int
	}{
		{"valid", sign(jwt.SigningMethodRS256, key, claims(iss, at(-30*time.Second), at(90*time.Second))), http.StatusOK},
		{"issued by client id", sign(jwt.SigningMethodRS256, key, claims(app.ClientID, at(-time.Minute), at(9*time.Minute))), http.StatusOK},
		{"other key", sign(jwt.SigningMethodRS256, otherKey, claims(iss, at(-30*time.Second), at(90*time.Second))), http.StatusUnauthorized},
		{"HS256", sign(jwt.SigningMethodHS256, []byte("secret"), claims(iss, at(-30*time.Second), at(90*time.Second))), http.StatusUnauthorized},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(iss, at(-30*time.Second), at(90*time.Second))), http.StatusUnauthorized},
		{"unknown issuer", sign(jwt.SigningMethodRS256, key, claims("4242", at(-30*time.Second), at(90*time.Second))), http.StatusUnauthorized},
		{"expired", sign(jwt.SigningMethodRS256, key, claims(iss, at(-5*time.Minute), at(-time.Second))), http.StatusUnauthorized},
		{"exp too far ahead", sign(jwt.SigningMethodRS256, key, claims(iss, at(-30*time.Second), at(20*time.Minute))), http.StatusUnauthorized},
		{"lives over 11 minutes", sign(jwt.SigningMethodRS256, key, claims(iss, at(-5*time.Minute), at(7*time.Minute))), http.StatusUnauthorized},
		{"issued in the future", sign(jwt.SigningMethodRS256, key, claims(iss, at(5*time.Minute), at(8*time.Minute))), http.StatusUnauthorized},
		{"no iat", sign(jwt.SigningMethodRS256, key, claims(iss, nil, at(90*time.Second))), http.StatusUnauthorized},
		{"not a JWT", "ghp_token", http.StatusUnauthorized},
		{"none", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, fmt.Sprintf("%sapp/installations/%d", srv.APIURL, inst.ID), tt.jwt, "")
			if resp.StatusCode != tt.status {
				t.Errorf("GET installation: %s %s, want %d", resp.Status, body, tt.status)
			}
		})
	}
}

func TestHookEditReplacesConfig(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{})
	srv.AddToken("ghp_admin", githubtest.Admin)
	h := srv.AddHook("o/r", githubtest.Hook{Name: "web", Active: true, Events: []string{"push"}, URL: "https://a.example/h", ContentType: "json", Secret: "s"})
	resp, body := do(t, http.MethodPatch, fmt.Sprintf("%srepos/o/r/hooks/%d", srv.APIURL, h.ID), "ghp_admin", `{"config":{"url":"https://a.example/h"},"add_events":["pull_request"]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH: %s %s", resp.Status, body)
	}
	got := srv.Hooks("o/r")[0]
	if got.Secret != "" || got.ContentType != "form" || strings.Join(got.Events, ",") != "push,pull_request" {
		t.Errorf("hook after PATCH = %+v; want the secret gone, form content, push and pull_request", got)
	}
	if strings.Contains(body, `"s"`) {
		t.Errorf("answer shows the secret: %s", body)
	}
}

func TestHookListingLinks(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{MaxPerPage: 2})
	srv.AddToken("ghp_admin", githubtest.Admin)
	for i := range 5 {
		srv.AddHook("o/r", githubtest.Hook{URL: fmt.Sprintf("https://a.example/%d", i)})
	}
	resp, body := do(t, http.MethodGet, srv.APIURL+"repos/o/r/hooks?per_page=100&page=2", "ghp_admin", "")
	link := resp.Header.Get("Link")
	for _, want := range []string{`page=3&per_page=2>; rel="next"`, `page=3&per_page=2>; rel="last"`, `page=1&per_page=2>; rel="first"`, `page=1&per_page=2>; rel="prev"`} {
		if !strings.Contains(link, want) {
			t.Errorf("Link %q lacks %s", link, want)
		}
	}
	if strings.Count(body, `"id"`) != 2 || !strings.Contains(body, "https://a.example/2") {
		t.Errorf("page 2 = %s; want hooks 2 and 3", body)
	}
}

func TestUserNamesTheTokenOwner(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{User: "e2e"})
	srv.AddToken("ghp_known", githubtest.Admin)
	for _, tc := range []struct {
		token  string
		status int
		login  string
	}{
		{"ghp_known", http.StatusOK, `"login":"e2e"`},
		{"ghp_unknown", http.StatusUnauthorized, "Bad credentials"},
		{"", http.StatusUnauthorized, "Bad credentials"},
	} {
		resp, body := do(t, http.MethodGet, srv.APIURL+"user", tc.token, "")
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.login) {
			t.Errorf("GET /user with %q: %d %s, want %d with %s", tc.token, resp.StatusCode, body, tc.status, tc.login)
		}
	}
}
