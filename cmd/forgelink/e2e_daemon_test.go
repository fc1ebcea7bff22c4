//go:build unix

package main_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/aws-sdk-go-v2/service/codestarconnections"
)

// refusal is a start-up that forgelink must refuse.
type refusal struct {
	args  []string           // after "serve"
	env   []string           // besides FORGELINK_LOG_FORMAT=json
	want  []string           // in the error output
	after func(t *testing.T) // further checks, may be nil
}

func TestE2EStartupRefusals(t *testing.T) {
	e2e(t)
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) refusal
	}{
		{"public address without root credentials", func(t *testing.T, dir string) refusal {
			dataDir := filepath.Join(dir, "data")
			return refusal{
				args: []string{"--listen", "0.0.0.0:0", "--data-dir", dataDir},
				want: []string{"FORGELINK_ROOT_ACCESS_KEY_ID", "0.0.0.0:0"},
				after: func(t *testing.T) {
					if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
						t.Errorf("the refused daemon created its data directory (stat: %v)", err)
					}
				},
			}
		}},
		{"half of the root credentials", func(t *testing.T, dir string) refusal {
			return refusal{
				args: []string{"--listen", "127.0.0.1:0", "--data-dir", dir},
				env:  []string{"FORGELINK_ROOT_ACCESS_KEY_ID=" + rootKeyID},
				want: []string{"FORGELINK_ROOT_SECRET_ACCESS_KEY"},
			}
		}},
		{"corrupt data file", func(t *testing.T, dir string) refusal {
			file := filepath.Join(dir, "forgelink.db")
			garbage := bytes.Repeat([]byte("this is not a SQLite database\n"), 200)
			if err := os.WriteFile(file, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
			return refusal{
				args: []string{"--listen", "127.0.0.1:0", "--data-dir", dir},
				env:  rootEnv(),
				want: []string{file},
				after: func(t *testing.T) {
					if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, garbage) {
						t.Errorf("the refused daemon changed the corrupt file (read: %v)", err)
					}
				},
			}
		}},
		{"data directory under a regular file", func(t *testing.T, dir string) refusal {
			file := filepath.Join(dir, "file")
			if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return refusal{
				args: []string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(file, "data")},
				env:  rootEnv(),
				want: []string{"data directory", file, "not a directory"},
			}
		}},
		{"listen address in use", func(t *testing.T, dir string) refusal {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return refusal{
				args: []string{"--listen", ln.Addr().String(), "--data-dir", dir},
				env:  rootEnv(),
				want: []string{"listen", ln.Addr().String()},
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.prepare(t, t.TempDir())
			env := environ(append([]string{"FORGELINK_LOG_FORMAT=json"}, r.env...)...)
			res := runCommand(t, env, forgelinkBin, append([]string{"serve"}, r.args...)...)
			output := res.stdout + res.stderr
			if res.code == 0 {
				t.Errorf("exit status 0, want non-zero")
			}
			for _, w := range r.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("error output does not mention %q", w)
				}
			}
			for _, bad := range []string{"panic:", "goroutine ", "forgelink ready"} {
				if strings.Contains(output, bad) {
					t.Errorf("output contains %q", bad)
				}
			}
			if r.after != nil {
				r.after(t)
			}
			if t.Failed() {
				t.Logf("exit status %d; stdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
		})
	}
}

// state is everything a client can read back from a daemon.
type state struct {
	Connections map[string]connection
	Hosts       map[string]host
	Tags        map[string]map[string]string
}

type host struct{ Name, Provider, Endpoint, Status string }

// readState reads every connection and host, and their tags.
func readState(t *testing.T, d *daemon) state {
	t.Helper()
	ctx := t.Context()
	cc := d.cc()
	s := state{Connections: map[string]connection{}, Hosts: map[string]host{}, Tags: map[string]map[string]string{}}
	conns, err := cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{})
	if err != nil {
		t.Fatalf("ListConnections: %v", err)
	}
	for _, c := range conns.Connections {
		arn := aws.ToString(c.ConnectionArn)
		s.Connections[arn] = connection{arn, aws.ToString(c.ConnectionName), string(c.ProviderType), string(c.ConnectionStatus), aws.ToString(c.OwnerAccountId)}
		s.Tags[arn] = listTags(t, cc, arn)
	}
	hosts, err := cc.ListHosts(ctx, &codeconnections.ListHostsInput{})
	if err != nil {
		t.Fatalf("ListHosts: %v", err)
	}
	for _, h := range hosts.Hosts {
		arn := aws.ToString(h.HostArn)
		s.Hosts[arn] = host{aws.ToString(h.Name), string(h.ProviderType), aws.ToString(h.ProviderEndpoint), aws.ToString(h.Status)}
		s.Tags[arn] = listTags(t, cc, arn)
	}
	return s
}

func TestE2ERestartKeepsEverything(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	first := startDaemon(t, daemonOptions{dataDir: dir})
	ctx := t.Context()
	cc := first.cc()
	github := createConnection(t, cc, "github", "GitHub", tag("team", "ci"))
	gone := createConnection(t, cc, "gone", "GitLab")
	legacy, err := first.cs().CreateConnection(ctx, &codestarconnections.CreateConnectionInput{ConnectionName: aws.String("legacy"), ProviderType: "Bitbucket"})
	if err != nil {
		t.Fatal(err)
	}
	ghes := createHost(t, cc, "ghes", "GitHubEnterpriseServer", "https://ghes.example.com", tag("env", "prod"))
	createHost(t, cc, "gitlab", "GitLabSelfManaged", "https://gitlab.example.com")
	for _, step := range []func() error{
		func() error {
			_, err := cc.TagResource(ctx, &codeconnections.TagResourceInput{ResourceArn: &github, Tags: []cctypes.Tag{tag("owner", "alice"), tag("empty", "")}})
			return err
		},
		func() error {
			_, err := cc.UntagResource(ctx, &codeconnections.UntagResourceInput{ResourceArn: &ghes, TagKeys: []string{"env"}})
			return err
		},
		func() error {
			_, err := cc.UpdateHost(ctx, &codeconnections.UpdateHostInput{HostArn: &ghes, ProviderEndpoint: aws.String("https://ghes2.example.com")})
			return err
		},
		func() error {
			_, err := cc.DeleteConnection(ctx, &codeconnections.DeleteConnectionInput{ConnectionArn: &gone})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	before := readState(t, first)
	if len(before.Connections) != 2 || len(before.Hosts) != 2 || len(before.Tags[github]) != 3 ||
		before.Connections[aws.ToString(legacy.ConnectionArn)].Name != "legacy" {
		t.Fatalf("state before the restart: %+v", before)
	}
	first.stop(t)
	// A cleanly stopped daemon leaves one self-contained file.
	if fi, err := os.Stat(filepath.Join(dir, "forgelink.db-wal")); err == nil && fi.Size() > 0 {
		t.Errorf("write-ahead log of %d bytes left behind after SIGTERM", fi.Size())
	}

	second := startDaemon(t, daemonOptions{dataDir: dir})
	if after := readState(t, second); !reflect.DeepEqual(after, before) {
		t.Errorf("state after the restart:\n%+v\nwant:\n%+v", after, before)
	}
	_, err = second.cc().GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &gone})
	wantError[*cctypes.ResourceNotFoundException](t, "deleted connection after the restart", err)
	again := createConnection(t, second.cc(), "gone", "GitLab")
	if again == gone {
		t.Errorf("the deleted connection's ARN %s was reused after the restart", gone)
	}
	second.stop(t)
}

func TestE2EHealthAndMetrics(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	ctx := t.Context()
	if _, err := d.cc().ListConnections(ctx, &codeconnections.ListConnectionsInput{}); err != nil {
		t.Fatal(err)
	}
	missing := arnPrefix("codeconnections", "connection") + "00000000-0000-0000-0000-000000000000"
	_, err := d.cc().GetConnection(ctx, &codeconnections.GetConnectionInput{ConnectionArn: &missing})
	wantError[*cctypes.ResourceNotFoundException](t, "GetConnection of an unknown connection", err)

	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/healthz", []string{"ok"}},
		{"/readyz", []string{"ready"}},
		{"/metrics", []string{
			`forgelink_api_requests_total{operation="ListConnections",outcome="success",region="us-east-1"} 1`,
			`forgelink_api_requests_total{operation="GetConnection",outcome="ResourceNotFoundException",region="us-east-1"} 1`,
			`forgelink_api_request_duration_seconds_count{operation="ListConnections",outcome="success",region="us-east-1"} 1`,
		}},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			resp, err := http.DefaultClient.Do(d.rootSignedGet(t, tc.path)) // /metrics needs a signature
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: HTTP %d", tc.path, resp.StatusCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("GET %s: body lacks %q:\n%s", tc.path, w, body)
				}
			}
		})
	}
}

// TestE2EUnauthenticatedLoopback runs the daemon without root credentials:
// on loopback it serves unsigned requests, and says so at start.
func TestE2EUnauthenticatedLoopback(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{authless: true})
	anonymous := d.cc(aws.AnonymousCredentials{})
	arn := createConnection(t, anonymous, "anonymous", "GitHub")
	arns, _, err := listConnections(t.Context(), anonymous, &codeconnections.ListConnectionsInput{})
	if err != nil || len(arns) != 1 || arns[0] != arn {
		t.Errorf("ListConnections = %v, %v; want [%s]", arns, err, arn)
	}
	warned := false
	for _, line := range d.out.lines() {
		if e, ok := parseLogLine(line); ok && e.Level == "warn" && strings.Contains(e.Msg, "FORGELINK_ROOT_ACCESS_KEY_ID") {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning about the missing root credentials was logged")
	}
	d.stop(t)
}
