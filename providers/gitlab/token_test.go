package gitlab

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const (
	personalToken = "glpat-s3cretPERSONAL"
	projectToken  = "glpat-s3cretPROJECT"
)

// fakeGitLab serves GET /api/v4/user as GitLab documents it: the token in
// PRIVATE-TOKEN or "Authorization: Bearer", 401 otherwise. A project
// access token answers with the project's bot user.
func fakeGitLab(t *testing.T) string {
	t.Helper()
	users := map[string]string{personalToken: "jdoe", projectToken: "project_42_bot_0123abcd"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/user", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		token := r.Header.Get("Private-Token")
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			token = bearer
		}
		user, ok := users[token]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"401 Unauthorized"}`))
			return
		}
		w.Write([]byte(`{"id":7,"username":"` + user + `","state":"active"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCheckToken(t *testing.T) {
	gl := fakeGitLab(t)
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redirect := tokentest.Answer(t, http.StatusFound, http.Header{"Location": {gl + "/api/v4/user"}}, "")
	tests := []struct {
		name, url, token string
		client           *http.Client
		want             string // as tokentest.Outcome renders it
	}{
		{"personal token", gl + "/api/v4", personalToken, http.DefaultClient, "jdoe"},
		{"project token, instance URL", gl, projectToken, http.DefaultClient, "project_42_bot_0123abcd"},
		{"bad token", gl + "/api/v4", "glpat-wrong", http.DefaultClient, "rejected 401"},
		{"insufficient scope", tokentest.Answer(t, 403, nil, `{"error":"insufficient_scope"}`), personalToken, http.DefaultClient, "rejected 403"},
		{"server error", tokentest.Answer(t, 500, nil, `{"message":"500 Internal Server Error"}`), personalToken, http.DefaultClient, "unavailable 500"},
		{"not GitLab", tokentest.Answer(t, 404, nil, "not found"), personalToken, http.DefaultClient, "unavailable 404"},
		{"redirect refused", redirect, personalToken, noRedirects, "unavailable 302"},
		{"null user", tokentest.Answer(t, 200, nil, `null`), personalToken, http.DefaultClient, "unavailable"},
		{"unreachable", tokentest.Unreachable(), personalToken, http.DefaultClient, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			account, err := CheckToken(t.Context(), tc.client, tc.url, tc.token)
			if got := tokentest.Outcome(t, tc.token, account, err); got != tc.want {
				t.Errorf("CheckToken = %q, %v; want %s", account, err, tc.want)
			}
		})
	}
}

func TestCheckTokenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := CheckToken(ctx, http.DefaultClient, fakeGitLab(t), personalToken)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, providers.ErrProviderUnavailable) {
		t.Errorf("error %v, want context.Canceled as ErrProviderUnavailable", err)
	}
}
