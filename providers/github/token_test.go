package github

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const testToken = "ghp_s3cretTOKENvalue"

// fakeGitHub serves GET /user as GitHub documents it: the token in
// "Authorization: Bearer" (or the older "token" scheme), 401 otherwise.
// prefix is where the API lives: "" for api.github.com, "/api/v3" for GHES.
func fakeGitHub(t *testing.T, prefix string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/user", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		auth := r.Header.Get("Authorization")
		if auth != "Bearer "+testToken && auth != "token "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
			return
		}
		w.Write([]byte(`{"login":"octocat","id":1,"type":"User"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCheckToken(t *testing.T) {
	dotcom := fakeGitHub(t, "")
	rateLimited := http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"5000"}}
	tests := []struct {
		name, url, token string
		want             string // as tokentest.Outcome renders it
	}{
		{"github.com", dotcom + "/", testToken, "octocat"},
		{"GHES without trailing slash", fakeGitHub(t, "/api/v3") + "/api/v3", testToken, "octocat"},
		{"bad token", dotcom + "/", "ghp_wrong", "rejected 401"},
		{"forbidden", tokentest.Answer(t, 403, nil, `{"message":"Resource not accessible"}`), testToken, "rejected 403"},
		// A rate limit says nothing about the token.
		{"rate limited", tokentest.Answer(t, 403, rateLimited, `{"message":"API rate limit exceeded"}`), testToken, "unavailable"},
		{"server error", tokentest.Answer(t, 502, nil, "bad gateway"), testToken, "unavailable 502"},
		{"wrong endpoint", dotcom + "/api/v3/", testToken, "unavailable 404"},
		{"no login", tokentest.Answer(t, 200, nil, `{"id":1}`), testToken, "unavailable"},
		{"not JSON", tokentest.Answer(t, 200, nil, `<html>`), testToken, "unavailable"},
		{"unreachable", tokentest.Unreachable(), testToken, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			account, err := CheckToken(t.Context(), http.DefaultClient, tc.url, tc.token)
			if got := tokentest.Outcome(t, tc.token, account, err); got != tc.want {
				t.Errorf("CheckToken = %q, %v; want %s", account, err, tc.want)
			}
		})
	}
}

func TestCheckTokenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := CheckToken(ctx, http.DefaultClient, fakeGitHub(t, ""), testToken)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, providers.ErrProviderUnavailable) {
		t.Errorf("error %v, want context.Canceled as ErrProviderUnavailable", err)
	}
}
