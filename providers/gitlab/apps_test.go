package gitlab

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/forgelink/forgelink/providers/internal/tokentest"
)

const adminToken = "glpat-s3cretADMIN"

// appRequest is the body of POST /api/v4/applications.
type appRequest struct {
	Name         string `json:"name"`
	RedirectURI  string `json:"redirect_uri"`
	Scopes       string `json:"scopes"`
	Confidential bool   `json:"confidential"`
}

// fakeApplications serves POST /api/v4/applications as GitLab documents
// it: administrators only (403 for other users, 401 for unknown tokens),
// name, redirect_uri and scopes required, 201 with application_id and
// secret. It returns the applications created.
func fakeApplications(t *testing.T) (string, func() []appRequest) {
	t.Helper()
	var (
		mu      sync.Mutex
		created []appRequest
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/applications", func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Private-Token") {
		case adminToken:
		case personalToken:
			writeJSON(w, http.StatusForbidden, `{"message":"403 Forbidden"}`)
			return
		default:
			writeJSON(w, http.StatusUnauthorized, `{"message":"401 Unauthorized"}`)
			return
		}
		var req appRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" || req.RedirectURI == "" || req.Scopes == "" {
			writeJSON(w, http.StatusBadRequest, `{"error":"name is missing, redirect_uri is missing, scopes is missing"}`)
			return
		}
		mu.Lock()
		created = append(created, req)
		mu.Unlock()
		body, _ := json.Marshal(map[string]any{"id": 7, "application_id": "5832fc6e14300a0d962240a8144466eef4ee93ef0d218477e55f11cf12fc3737",
			"application_name": req.Name, "secret": "gloas-ee357dd3ac0c", "callback_url": req.RedirectURI, "confidential": req.Confidential})
		writeJSON(w, http.StatusCreated, string(body))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v4", func() []appRequest {
		mu.Lock()
		defer mu.Unlock()
		return created
	}
}

func TestCreateOAuthApp(t *testing.T) {
	api, created := fakeApplications(t)
	tests := []struct {
		name, api, token string
		want             string // the client id, or the error as tokentest.Outcome renders it
	}{
		{"admin", api, adminToken, "5832fc6e14300a0d962240a8144466eef4ee93ef0d218477e55f11cf12fc3737"},
		{"not an admin", api, personalToken, "rejected 403"},
		{"bad token", api, "glpat-wrong", "rejected 401"},
		{"no secret in the answer", tokentest.Answer(t, 201, nil, `{"application_id":"x"}`), adminToken, "unavailable"},
		{"unreachable", tokentest.Unreachable(), adminToken, "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, secret, err := CreateOAuthApp(t.Context(), http.DefaultClient, tc.api, tc.token, "forgelink", redirectURL)
			if got := tokentest.Outcome(t, tc.token, id, err); got != tc.want {
				t.Errorf("CreateOAuthApp = %q, %v; want %s", id, err, tc.want)
			}
			if err == nil && secret != "gloas-ee357dd3ac0c" {
				t.Errorf("secret %q", secret)
			}
		})
	}
	want := appRequest{Name: "forgelink", RedirectURI: redirectURL, Scopes: "api read_repository", Confidential: true}
	if got := created(); len(got) != 1 || got[0] != want {
		t.Errorf("applications created %+v, want [%+v]", got, want)
	}
}
