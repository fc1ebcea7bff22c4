//go:build unix

package main_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
)

// fakeGitLabOAuth is gitlab.com's OAuth endpoints for one application, as
// far as a set-up needs them: the authorization page approves at once;
// the token endpoint checks the client, the code and its PKCE verifier;
// GET /api/v4/user names the bearer token's user.
func fakeGitLabOAuth(t *testing.T) *httptest.Server {
	var (
		mu         sync.Mutex
		challenges = map[string]string{} // code → challenge
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		code := fmt.Sprintf("code-%d", len(challenges))
		challenges[code] = q.Get("code_challenge")
		mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		challenge, ok := challenges[r.PostForm.Get("code")]
		delete(challenges, r.PostForm.Get("code"))
		mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.PostForm.Get("client_id") != "e2e-app" || r.PostForm.Get("client_secret") != "e2e-secret":
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
		case !ok || challenge == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant"}`)
		default:
			io.WriteString(w, `{"access_token":"e2e-access","token_type":"Bearer","expires_in":7200,"refresh_token":"e2e-refresh"}`)
		}
	})
	mux.HandleFunc("GET /api/v4/user", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer e2e-access" {
			http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":1,"username":"e2e-user"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestE2EConnectionSetup sets a GitLab connection up the way an operator
// does: `forgelink connections setup` prints a link, a browser follows it
// to GitLab and back, and the connection is AVAILABLE.
func TestE2EConnectionSetup(t *testing.T) {
	e2e(t)
	gitlab := fakeGitLabOAuth(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "gitlab-secret")
	config := filepath.Join(dir, "forgelink.yaml")
	if err := os.WriteFile(secret, []byte("e2e-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("providers:\n  gitlabURL: %s/api/v4\n  gitlabApp:\n    clientId: e2e-app\n    clientSecretFile: gitlab-secret\n", gitlab.URL)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + config}})
	ctx := t.Context()
	created, err := d.cc().CreateConnection(ctx, &codeconnections.CreateConnectionInput{
		ConnectionName: aws.String("gl"), ProviderType: cctypes.ProviderTypeGitlab,
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ConnectionArn)

	res := runCommand(t, clientEnv(t), forgelinkBin, "connections", "setup", "--endpoint-url", d.url, arn)
	link := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(link, d.url+"/setup/start?state=") || !strings.Contains(res.stderr, "10 minutes") {
		t.Fatalf("connections setup: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	// The browser: to GitLab and back to the account's confirmation.
	browser := setupBrowser(t, true)
	done := confirmSetup(t, browser, browse(t, browser, http.MethodGet, link, nil))
	if done.status != http.StatusOK || !strings.Contains(done.body, "Connection AVAILABLE") {
		t.Fatalf("set-up page: %d\n%s", done.status, done.body)
	}
	got, err := d.cc().GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &arn})
	if err != nil || got.Connection.ConnectionStatus != cctypes.ConnectionStatusAvailable {
		t.Fatalf("connection after set-up: %+v, %v", got.Connection, err)
	}
	// The link was single use.
	if again := browse(t, browser, http.MethodGet, link, nil); again.status != http.StatusBadRequest {
		t.Errorf("the link followed again: HTTP %d, want 400", again.status)
	}
}
