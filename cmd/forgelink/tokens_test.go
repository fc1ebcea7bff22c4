package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestProviderTokens checks that each provider type reaches its own
// provider's API, and that a redirect is not followed with the token.
func TestProviderTokens(t *testing.T) {
	mux := http.NewServeMux()
	user := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }
	}
	mux.HandleFunc("GET /api/v3/user", user(`{"login":"octocat"}`))
	mux.HandleFunc("GET /api/v4/user", user(`{"username":"jdoe"}`))
	mux.HandleFunc("GET /2.0/user", user(`{"type":"user","username":"bb-user"}`))
	mux.HandleFunc("GET /moved/api/v4/user", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/v4/user", http.StatusMovedPermanently)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tests := []struct{ providerType, url, want, wantErr string }{
		{"GitHubEnterpriseServer", srv.URL + "/api/v3/", "octocat", ""},
		{"GitLabSelfManaged", srv.URL + "/api/v4", "jdoe", ""},
		{"Bitbucket", srv.URL + "/2.0", "bb-user", ""},
		{"GitLab", srv.URL + "/moved/api/v4", "", "gitlab check token: HTTP 301 Moved Permanently"},
		{"AzureDevOps", srv.URL, "", `no token check for provider type "AzureDevOps"`},
	}
	p := newProviderTokens(nil)
	for _, tc := range tests {
		got, err := p.CheckToken(t.Context(), tc.providerType, tc.url, "tok")
		if got != tc.want || (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
			t.Errorf("%s: CheckToken = %q, %v; want %q, %q", tc.providerType, got, err, tc.want, tc.wantErr)
		}
	}
}
