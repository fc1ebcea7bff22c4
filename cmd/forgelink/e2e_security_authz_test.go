package main_test

// Findings 1 and 6 of issue 9 against the real daemon: an access key
// allowed everything on one connection acts on nothing else, whatever
// members the request carries, and git-credential hands its token only to
// the provider's own origin.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"

	"github.com/forgelink/forgelink/store"
)

const (
	scopedKeyID  = "AKIDFORGELINKTEAMA01"
	scopedSecret = "team-a-secret-0123456789"
	// gitOrigin is the provider's web origin of these tests' GitHub
	// connections: where git-credential may hand their token.
	gitOrigin = "git.example.test:8443"
)

// authzWorld is two teams' resources on one daemon: connection A (team
// a) and connection B, host H and B's repository link and event (team b).
type authzWorld struct {
	d                  *daemon
	a, b               hookConn
	host, linkA, linkB string
	eventA, eventB     string
}

// TestE2ESecurityAuthzScopedKey reproduces finding 1: a key allowed
// codeconnections:* and forgelink:* on connection A only, sending A's ARN
// as a decoy member, is refused on every resource of team b; listings show
// it only team a's records; and nothing changed, read back as root.
func TestE2ESecurityAuthzScopedKey(t *testing.T) {
	e2e(t)
	w := newAuthzWorld(t)
	before := w.state(t)
	decoy := `"ConnectionArn":"` + w.a.arn + `"`
	refused := []struct{ target, body string }{
		{"CodeConnections_20231201.GetHost", `{"HostArn":"` + w.host + `",` + decoy + `}`},
		{"CodeConnections_20231201.UpdateHost", `{"HostArn":"` + w.host + `","ProviderEndpoint":"https://evil.example.com",` + decoy + `}`},
		{"CodeConnections_20231201.DeleteHost", `{"HostArn":"` + w.host + `",` + decoy + `}`},
		{"CodeConnections_20231201.TagResource", `{"ResourceArn":"` + w.b.arn + `","Tags":[{"Key":"team","Value":"a"}],` + decoy + `}`},
		{"CodeConnections_20231201.TagResource", `{"ResourceArn":"` + w.host + `","Tags":[{"Key":"owner","Value":"a"}],` + decoy + `}`},
		{"CodeConnections_20231201.DeleteRepositoryLink", `{"RepositoryLinkId":"` + w.linkB + `",` + decoy + `}`},
		{"CodeConnections_20231201.UpdateRepositoryLink", `{"RepositoryLinkId":"` + w.linkA + `","ConnectionArn":"` + w.b.arn + `"}`},
		{"CodeConnections_20231201.UpdateRepositoryLink", `{"RepositoryLinkId":"` + w.linkB + `",` + decoy + `}`},
		{"CodeConnections_20231201.DeleteConnection", `{"ConnectionArn":"` + w.b.arn + `"}`},
		{"Forgelink_20261125.GetConnectionWebhook", `{"ConnectionArn":"` + w.b.arn + `"}`},
		{"Forgelink_20261125.GetEvent", `{"EventId":"` + w.eventB + `",` + decoy + `}`},
		{"Forgelink_20261125.CreateConsoleLink", `{` + decoy + `}`},
		{"Forgelink_20261125.StartConnectionSetup", `{"ConnectionArn":"` + w.b.arn + `"}`},
	}
	for _, tc := range refused {
		if got := w.scoped(t, tc.target, tc.body); got.status != http.StatusBadRequest || got.code != "AccessDeniedException" {
			t.Errorf("%s %s: HTTP %d %s %s; want AccessDeniedException", tc.target, tc.body, got.status, got.code, got.body)
		}
	}

	// Listings with the decoy: only team a's records.
	var conns struct {
		Connections []struct{ ConnectionArn string }
	}
	w.scopedJSON(t, "CodeConnections_20231201.ListConnections", `{`+decoy+`}`, &conns)
	if len(conns.Connections) != 1 || conns.Connections[0].ConnectionArn != w.a.arn {
		t.Errorf("ListConnections by the scoped key: %+v, want A only", conns)
	}
	var events struct{ Events []struct{ EventId string } }
	w.scopedJSON(t, "Forgelink_20261125.ListEvents", `{`+decoy+`}`, &events)
	if len(events.Events) != 1 || events.Events[0].EventId != w.eventA {
		t.Errorf("ListEvents by the scoped key: %+v, want A's event only", events)
	}
	var hosts struct{ Hosts []any }
	w.scopedJSON(t, "CodeConnections_20231201.ListHosts", `{`+decoy+`}`, &hosts)
	if len(hosts.Hosts) != 0 {
		t.Errorf("ListHosts by the scoped key: %+v, want none", hosts)
	}
	// On A the key may act: the refusals above are about team b.
	var conn struct {
		Connection struct{ ConnectionArn string }
	}
	w.scopedJSON(t, "CodeConnections_20231201.GetConnection", `{"ConnectionArn":"`+w.a.arn+`"}`, &conn)
	if conn.Connection.ConnectionArn != w.a.arn {
		t.Errorf("GetConnection of A by the scoped key: %+v", conn)
	}

	if after := w.state(t); after != before {
		t.Errorf("refused requests changed what root reads back:\nbefore %s\nafter  %s", before, after)
	}
}

// TestE2ESecurityAuthzGitCredential reproduces finding 6: git-credential
// gives no token for plain http, nor for the provider's host on another
// port (or the default one), nor read-only where the connection's token
// cannot be narrowed; for the provider's own https origin it does.
func TestE2ESecurityAuthzGitCredential(t *testing.T) {
	e2e(t)
	w := newAuthzWorld(t)
	before := w.state(t)
	tests := []struct {
		name, flags, protocol, host string
		refusal                     string // in stderr; "" for a token
	}{
		{"plain http, refused by the helper", "--read-write", "http", gitOrigin, `refusing to give a token for protocol "http"`},
		{"plain http, refused by the daemon", "--read-write --allow-http", "http", gitOrigin, "refusing to give its token for protocol http"},
		{"another port", "--read-write", "https", "git.example.test:9443", "refusing to give its token for git.example.test:9443"},
		{"the default port", "--read-write", "https", "git.example.test", "refusing to give its token for git.example.test"},
		{"another host, same port", "--read-write", "https", "evil.example.test:8443", "refusing to give its token for evil.example.test:8443"},
		{"read-only of a personal token", "", "https", gitOrigin, "cannot hand out a read-only token"},
		{"the provider's origin", "--read-write", "https", gitOrigin, ""},
	}
	for _, tc := range tests {
		res := w.gitCredential(t, tc.flags, fmt.Sprintf("protocol=%s\nhost=%s\npath=octo/a.git\n\n", tc.protocol, tc.host))
		switch {
		case tc.refusal == "" && (res.code != 0 || !strings.Contains(res.stdout, "password="+e2eToken)):
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want the token", tc.name, res.code, res.stdout, res.stderr)
		case tc.refusal != "" && (res.code == 0 || strings.Contains(res.stdout, e2eToken) || !strings.Contains(res.stderr, tc.refusal)):
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want a refusal saying %q", tc.name, res.code, res.stdout, res.stderr, tc.refusal)
		}
	}
	if after := w.state(t); after != before {
		t.Errorf("git-credential changed what root reads back:\nbefore %s\nafter  %s", before, after)
	}
}

// newAuthzWorld starts a daemon, creates both teams' resources as root,
// and restarts it with the key scoped to connection A (keys are read at
// start).
func newAuthzWorld(t *testing.T) *authzWorld {
	t.Helper()
	dir := t.TempDir()
	gh := fakeGitHub(t)
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	providers := "providers:\n  githubAPIURL: " + gh.URL + "/\n  githubURL: https://" + gitOrigin + "\n"
	writeFile(t, cfgPath, providers)
	dataDir := filepath.Join(dir, "data")
	opts := daemonOptions{dataDir: dataDir, env: []string{"FORGELINK_CONFIG=" + cfgPath}}
	d := startDaemon(t, opts)
	cli := cliFor(t, d)
	w := &authzWorld{a: newHookConn(t, cli, "team-a", store.ProviderGitHub), b: newHookConn(t, cli, "team-b", store.ProviderGitHub)}
	cli.complete(t, w.a)
	cli.complete(t, w.b)
	cc := d.cc()
	w.host = createHost(t, cc, "lab-b", "GitLabSelfManaged", "https://gitlab.example.com", tag("team", "b"))
	for _, l := range []struct {
		conn, name string
		id         *string
	}{{w.a.arn, "a", &w.linkA}, {w.b.arn, "b", &w.linkB}} {
		out, err := cc.CreateRepositoryLink(t.Context(), &codeconnections.CreateRepositoryLinkInput{
			ConnectionArn: aws.String(l.conn), OwnerId: aws.String("octo"), RepositoryName: aws.String(l.name),
		})
		if err != nil {
			t.Fatal(err)
		}
		*l.id = aws.ToString(out.RepositoryLinkInfo.RepositoryLinkId)
	}
	client := newHookClient(t)
	w.eventA = pushTo(t, client, d, w.a, pushEvent{ref: "refs/heads/main", repo: "octo/a", after: randomCommit(), modified: []string{"a"}}, http.StatusAccepted, "accepted").EventID
	w.eventB = pushTo(t, client, d, w.b, pushEvent{ref: "refs/heads/main", repo: "octo/b", after: randomCommit(), modified: []string{"b"}}, http.StatusAccepted, "accepted").EventID
	d.stop(t)

	writeFile(t, filepath.Join(dir, "team-a.secret"), scopedSecret)
	writeFile(t, cfgPath, providers+fmt.Sprintf(`accessKeys:
  - id: %s
    secretFile: team-a.secret
    description: team a, everything on its connection and nothing else
    policy:
      statements:
        - effect: Allow
          actions: ["codeconnections:*", "forgelink:*"]
          resources: [%q]
`, scopedKeyID, w.a.arn))
	w.d = startDaemon(t, opts)
	return w
}

// scoped sends a request signed by the scoped key, members as given.
func (w *authzWorld) scoped(t *testing.T, target, body string) rawResponse {
	t.Helper()
	req := newRequest(t, http.MethodPost, w.d.url+"/", "", body)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target)
	service := "codeconnections"
	if strings.HasPrefix(target, "Forgelink_") {
		service = "forgelink"
	}
	signV4(t, req, body, service, aws.Credentials{AccessKeyID: scopedKeyID, SecretAccessKey: scopedSecret})
	return do(t, http.DefaultClient, req)
}

// scopedJSON is scoped for a request that must succeed, decoded into v.
func (w *authzWorld) scopedJSON(t *testing.T, target, body string, v any) {
	t.Helper()
	got := w.scoped(t, target, body)
	if got.status != http.StatusOK {
		t.Fatalf("%s by the scoped key: HTTP %d %s %s", target, got.status, got.code, got.body)
	}
	decodeJSON(t, target, got.body, v)
}

// gitCredential runs `forgelink git-credential get` for connection A as
// the scoped key, with git's request on standard input.
func (w *authzWorld) gitCredential(t *testing.T, flags, request string) result {
	t.Helper()
	env := environ("AWS_ACCESS_KEY_ID="+scopedKeyID, "AWS_SECRET_ACCESS_KEY="+scopedSecret, "AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "HOME="+t.TempDir(), "FORGELINK_GIT_REQUEST="+request)
	script := `printf '%s' "$FORGELINK_GIT_REQUEST" | "$0" git-credential --connection "$1" --endpoint-url "$2" ` + flags + ` get`
	return runCommand(t, env, "sh", "-c", script, forgelinkBin, w.a.arn, w.d.url)
}

// state is what root reads back of everything the tests try to change.
func (w *authzWorld) state(t *testing.T) string {
	t.Helper()
	cli := cliFor(t, w.d)
	var parts []string
	for _, args := range [][]string{
		{"connections", "list"}, {"hosts", "list"}, {"hosts", "get", w.host},
		{"tags", "list", w.b.arn}, {"tags", "list", w.host},
		{"connections", "webhook", w.b.arn}, {"events", "list"},
	} {
		res := cli.run(t, args...)
		if res.code != 0 {
			t.Fatalf("forgelink %s: exit %d\n%s", strings.Join(args, " "), res.code, res.stderr)
		}
		parts = append(parts, res.stdout)
	}
	links, err := w.d.cc().ListRepositoryLinks(t.Context(), &codeconnections.ListRepositoryLinksInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(links.RepositoryLinks)
	return strings.Join(append(parts, string(raw)), "\n")
}
