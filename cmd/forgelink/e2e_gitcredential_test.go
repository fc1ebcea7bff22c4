package main_test

// git clone through `forgelink git-credential`: a real git, a real git
// HTTP server (git-http-backend behind net/http/cgi) that wants the
// connection's token, and the daemon vending it.

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/internal/testenv"
	"github.com/forgelink/forgelink/store"
)

const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// gitServer serves the bare repositories under root over smart HTTP to
// clients whose password accept takes.
type gitServer struct {
	*httptest.Server
	root    string
	handler http.Handler
}

func newGitServer(t *testing.T, accept func(password string) bool) *gitServer {
	t.Helper()
	gs := newGitHandler(t, accept)
	gs.Server = httptest.NewServer(gs.handler)
	t.Cleanup(gs.Close)
	return gs
}

// newGitHandler is newGitServer without a listener of its own: its
// handler is served by another server (githubtest.Options.Git), whose
// URL is then the one to clone from.
func newGitHandler(t *testing.T, accept func(password string) bool) *gitServer {
	t.Helper()
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		testenv.Missing(t, fmt.Sprintf("no git-http-backend (%v)", err), "install git")
	}
	gs := &gitServer{root: t.TempDir()}
	backend := &cgi.Handler{
		Path: gitHTTPBackend,
		Env:  []string{"GIT_PROJECT_ROOT=" + gs.root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	gs.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok || user == "" || !accept(password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	})
	return gs
}

// git runs git with no user or system configuration in dir.
func runGit(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	env = append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=e2e",
		"GIT_AUTHOR_EMAIL=e2e@example.com", "GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com")
	return runCommand(t, env, "git", append([]string{"-C", dir}, args...)...)
}

// addRepository creates the bare repository owner/name.git holding one
// commit with README.md = content.
func (gs *gitServer) addRepository(t *testing.T, fullName, content string) {
	t.Helper()
	env := environ("HOME=" + t.TempDir())
	work := t.TempDir()
	bare := filepath.Join(gs.root, fullName+".git")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"commit", "-q", "--allow-empty", "-m", "root"},
	} {
		if res := runGit(t, work, env, args...); res.code != 0 {
			t.Fatalf("git %v: %s", args, res.stderr)
		}
	}
	writeFile(t, filepath.Join(work, "README.md"), content)
	for _, args := range [][]string{
		{"add", "README.md"},
		{"commit", "-q", "-m", "readme"},
		{"clone", "-q", "--bare", work, bare},
	} {
		if res := runGit(t, work, env, args...); res.code != 0 {
			t.Fatalf("git %v: %s", args, res.stderr)
		}
	}
}

func TestE2EGitCredentialClone(t *testing.T) {
	e2e(t)
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, fmt.Sprintf("no git (%v)", err), "install git")
	}
	gs := newGitServer(t, func(password string) bool {
		return subtle.ConstantTimeCompare([]byte(password), []byte(e2eToken)) == 1
	})
	gs.addRepository(t, "octo-org/widget", "hello from widget\n")
	gh := fakeGitHub(t)
	cfgPath := filepath.Join(t.TempDir(), "forgelink.yaml")
	// The fake GitHub's web host is the git server's: 127.0.0.1, over plain
	// http, which the operator must allow.
	writeFile(t, cfgPath, "allowHTTPProviderEndpoints: true\nproviders:\n  githubAPIURL: "+gh.URL+"/\n  githubURL: "+gs.URL+"\n")
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfgPath}})
	cli := cliFor(t, d)
	conn := newHookConn(t, cli, "clone", store.ProviderGitHub)
	cli.complete(t, conn)

	home, dst := gs.clone(t, d, conn.arn, "octo-org/widget", "hello from widget\n")
	env := append(clientEnv(t), "HOME="+home)
	helper := gitHelper(conn.arn, d, patFlags)

	// The token was vended, audited without itself, and never written down.
	if !d.logged("issued a connection token") {
		t.Errorf("no audit log line for the issued token\n%s", d.out.String())
	}
	if strings.Contains(d.out.String(), e2eToken) {
		t.Errorf("the daemon's log contains the token")
	}
	for _, dir := range []string{home, dst} {
		filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), e2eToken) {
				t.Errorf("%s holds the token", path)
			}
			return nil
		})
	}

	// Another host gets no token, even with the same path: "localhost"
	// reaches the same server, but is not the provider's host name.
	other := strings.Replace(gs.URL, "127.0.0.1", "localhost", 1)
	res := runGit(t, home, env, "-c", "credential.helper=", "-c", "credential.helper="+helper,
		"-c", "credential.useHttpPath=true", "clone", "-q", other+"/octo-org/widget.git", filepath.Join(t.TempDir(), "other"))
	if res.code == 0 || !strings.Contains(res.stderr, "refusing to give its token for localhost") {
		t.Errorf("clone from another host: exit %d, stderr %q; want the helper's refusal", res.code, res.stderr)
	}

	// Without credential.useHttpPath git names no repository: refused.
	res = runGit(t, home, env, "-c", "credential.helper=", "-c", "credential.helper="+helper,
		"clone", "-q", gs.URL+"/octo-org/widget.git", filepath.Join(t.TempDir(), "again"))
	if res.code == 0 || !strings.Contains(res.stderr, "useHttpPath") {
		t.Errorf("clone without credential.useHttpPath: exit %d, stderr %q; want a refusal naming useHttpPath", res.code, res.stderr)
	}
}

// clone clones repo from gs through `forgelink git-credential` asking d
// for connection arn's token, checks its README.md holds readme, and
// returns git's home and the clone's directory.
func (gs *gitServer) clone(t *testing.T, d *daemon, arn, repo, readme string) (home, dst string) {
	t.Helper()
	return cloneFrom(t, gs.URL, d, arn, repo, readme, patFlags)
}

// cloneFrom is clone from the git server at base, with the helper's
// flags.
func cloneFrom(t *testing.T, base string, d *daemon, arn, repo, readme, flags string) (home, dst string) {
	t.Helper()
	home, dst = t.TempDir(), filepath.Join(t.TempDir(), "clone")
	env := append(clientEnv(t), "HOME="+home)
	helper := gitHelper(arn, d, flags)
	res := runGit(t, home, env, "-c", "credential.helper=", "-c", "credential.helper="+helper,
		"-c", "credential.useHttpPath=true", "clone", "-q", base+"/"+repo+".git", dst)
	if res.code != 0 {
		t.Fatalf("git clone through forgelink git-credential: exit %d\n%s", res.code, res.stderr)
	}
	got, err := os.ReadFile(filepath.Join(dst, "README.md"))
	if err != nil || string(got) != readme {
		t.Fatalf("cloned README.md = %q, %v; want %q", got, err, readme)
	}
	return home, dst
}

// patFlags are the helper's flags for the connections of these tests:
// they hold personal tokens, which cannot be narrowed to read-only
// (--read-write), and the git server is plain http (--allow-http).
const patFlags = "--read-write --allow-http"

// gitHelper is the credential helper for connection arn of d.
func gitHelper(arn string, d *daemon, flags string) string {
	return "!" + forgelinkBin + " git-credential " + flags + " --connection " + arn + " --endpoint-url " + d.url
}
