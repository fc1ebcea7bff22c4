//go:build unix

package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/internal/testenv"
)

// clientEnv is the environment of an AWS client process signing as root,
// isolated from the user's AWS configuration.
func clientEnv(t *testing.T) []string {
	t.Helper()
	return environ(
		"AWS_ACCESS_KEY_ID="+rootKeyID,
		"AWS_SECRET_ACCESS_KEY="+rootSecret,
		"AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"HOME="+t.TempDir(),
	)
}

// awsCLIPath finds the AWS CLI: $FORGELINK_TEST_AWS_CLI, which must then
// exist, else /usr/bin/aws. PATH is not searched, since it may hold another
// version than the one meant.
func awsCLIPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FORGELINK_TEST_AWS_CLI"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("FORGELINK_TEST_AWS_CLI=%s: %v", p, err)
		}
		return path
	}
	const debian = "/usr/bin/aws"
	if _, err := exec.LookPath(debian); err != nil {
		testenv.Missing(t, fmt.Sprintf("no AWS CLI (%v)", err), "install Debian's awscli, or set FORGELINK_TEST_AWS_CLI to one")
	}
	return debian
}

// wireConnection is a connection in the AWS JSON spelling both CLIs print.
type wireConnection struct {
	ConnectionName   string
	ConnectionArn    string
	ProviderType     string
	OwnerAccountId   string
	ConnectionStatus string
	HostArn          string
}

func TestE2EAWSCLI(t *testing.T) {
	e2e(t)
	cli := awsCLIPath(t)
	d := startDaemon(t, daemonOptions{})
	env := clientEnv(t)
	aws := func(t *testing.T, args ...string) result {
		t.Helper()
		return runCommand(t, env, cli, append(args, "--endpoint-url", d.url, "--output", "json")...)
	}
	// awsJSON runs a command that must succeed and decodes its output.
	awsJSON := func(t *testing.T, v any, args ...string) {
		t.Helper()
		res := aws(t, args...)
		if res.code != 0 {
			t.Fatalf("aws %s: exit status %d\n%s", strings.Join(args, " "), res.code, res.stderr)
		}
		if v != nil {
			decodeJSON(t, "aws "+strings.Join(args, " "), res.stdout, v)
		}
	}

	var created struct{ ConnectionArn string }
	awsJSON(t, &created, "codestar-connections", "create-connection", "--provider-type", "GitHub", "--connection-name", "cli-conn")
	arn := created.ConnectionArn
	if !strings.HasPrefix(arn, arnPrefix("codestar-connections", "connection")) {
		t.Fatalf("create-connection: ARN %q", arn)
	}
	want := wireConnection{
		ConnectionName: "cli-conn", ConnectionArn: arn, ProviderType: "GitHub", OwnerAccountId: accountID, ConnectionStatus: "PENDING",
	}

	var list struct{ Connections []wireConnection }
	awsJSON(t, &list, "codestar-connections", "list-connections")
	if len(list.Connections) != 1 || list.Connections[0] != want {
		t.Errorf("list-connections = %+v, want [%+v]", list.Connections, want)
	}
	var got struct{ Connection wireConnection }
	awsJSON(t, &got, "codestar-connections", "get-connection", "--connection-arn", arn)
	if got.Connection != want {
		t.Errorf("get-connection = %+v, want %+v", got.Connection, want)
	}

	t.Run("codeconnections", func(t *testing.T) {
		if res := runCommand(t, env, cli, "codeconnections", "help"); res.code != 0 {
			// Debian 12's awscli predates the codeconnections namespace:
			// .ci/run allows this skip.
			t.Skipf("%s has no codeconnections command (aws codeconnections help: exit status %d); a newer AWS CLI v2 has it", cli, res.code)
		}
		var list struct{ Connections []wireConnection }
		awsJSON(t, &list, "codeconnections", "list-connections", "--provider-type-filter", "GitHub")
		// The ARN as created, through codestar-connections.
		if len(list.Connections) != 1 || list.Connections[0] != want {
			t.Errorf("codeconnections list-connections = %+v, want [%+v]", list.Connections, want)
		}
	})

	awsJSON(t, nil, "codestar-connections", "delete-connection", "--connection-arn", arn)
	res := aws(t, "codestar-connections", "get-connection", "--connection-arn", arn)
	if res.code == 0 || !strings.Contains(res.stderr, "ResourceNotFoundException") {
		t.Errorf("get-connection after delete: exit status %d, stderr %q; want failure with ResourceNotFoundException", res.code, res.stderr)
	}
}

// TestE2EClientCommands runs forgelink's own client commands against the
// daemon.
func TestE2EClientCommands(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	env := clientEnv(t)
	forgelink := func(t *testing.T, args ...string) result {
		t.Helper()
		// The common flags go after the subcommand, where the client parses them.
		args = append(args[:2:2], append([]string{"--endpoint-url", d.url, "--output", "json"}, args[2:]...)...)
		return runCommand(t, env, forgelinkBin, args...)
	}
	// run runs a command that must succeed and decodes its output, if v is not nil.
	run := func(t *testing.T, v any, args ...string) {
		t.Helper()
		res := forgelink(t, args...)
		if res.code != 0 {
			t.Fatalf("forgelink %s: exit status %d\n%s", strings.Join(args, " "), res.code, res.stderr)
		}
		if v != nil {
			decodeJSON(t, "forgelink "+strings.Join(args, " "), res.stdout, v)
		}
	}
	type tagList struct{ Tags []struct{ Key, Value string } }
	tagsOf := func(t *testing.T, arn string) map[string]string {
		t.Helper()
		var out tagList
		run(t, &out, "tags", "list", arn)
		m := map[string]string{}
		for _, tg := range out.Tags {
			m[tg.Key] = tg.Value
		}
		return m
	}

	// Connections.
	var created struct {
		ConnectionArn string
		Tags          []struct{ Key, Value string }
	}
	run(t, &created, "connections", "create", "--name", "cli-conn", "--provider-type", "GitLab", "--tag", "team=ci")
	arn := created.ConnectionArn
	if !strings.HasPrefix(arn, arnPrefix("codeconnections", "connection")) || len(created.Tags) != 1 {
		t.Fatalf("connections create = %+v", created)
	}
	want := wireConnection{
		ConnectionName: "cli-conn", ConnectionArn: arn, ProviderType: "GitLab", OwnerAccountId: accountID, ConnectionStatus: "PENDING",
	}
	var got struct{ Connection wireConnection }
	run(t, &got, "connections", "get", arn)
	if got.Connection != want {
		t.Errorf("connections get = %+v, want %+v", got.Connection, want)
	}
	var list struct{ Connections []wireConnection }
	run(t, &list, "connections", "list")
	if len(list.Connections) != 1 || list.Connections[0] != want {
		t.Errorf("connections list = %+v, want [%+v]", list.Connections, want)
	}

	// Tags.
	run(t, nil, "tags", "add", arn, "env=prod", "owner=alice")
	if got := tagsOf(t, arn); len(got) != 3 || got["team"] != "ci" || got["env"] != "prod" || got["owner"] != "alice" {
		t.Errorf("tags after add = %v", got)
	}
	run(t, nil, "tags", "remove", arn, "team", "owner")
	if got := tagsOf(t, arn); len(got) != 1 || got["env"] != "prod" {
		t.Errorf("tags after remove = %v, want env=prod", got)
	}

	// Hosts.
	var host struct{ HostArn string }
	run(t, &host, "hosts", "create", "--name", "gitlab", "--provider-type", "GitLabSelfManaged", "--provider-endpoint", "https://gitlab.example.com")
	if !strings.HasPrefix(host.HostArn, arnPrefix("codeconnections", "host")+"gitlab-") {
		t.Fatalf("hosts create: ARN %q", host.HostArn)
	}
	run(t, nil, "hosts", "update", "--provider-endpoint", "https://gitlab2.example.com", host.HostArn)
	var gotHost struct{ Name, Status, ProviderType, ProviderEndpoint string }
	run(t, &gotHost, "hosts", "get", host.HostArn)
	if gotHost.Name != "gitlab" || gotHost.Status != "PENDING" || gotHost.ProviderType != "GitLabSelfManaged" ||
		gotHost.ProviderEndpoint != "https://gitlab2.example.com" {
		t.Errorf("hosts get = %+v", gotHost)
	}
	var hosts struct {
		Hosts []struct{ HostArn, Name string }
	}
	run(t, &hosts, "hosts", "list")
	if len(hosts.Hosts) != 1 || hosts.Hosts[0].HostArn != host.HostArn {
		t.Errorf("hosts list = %+v, want only %s", hosts.Hosts, host.HostArn)
	}

	// The last --output wins over the one forgelink() adds.
	res := forgelink(t, "connections", "list", "--output", "table")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "NAME") || !strings.Contains(res.stdout, arn) {
		t.Errorf("connections list --output table: exit status %d, output:\n%s", res.code, res.stdout)
	}

	// Deletion, and the errors that follow.
	run(t, nil, "connections", "delete", arn)
	run(t, nil, "hosts", "delete", host.HostArn)
	for _, args := range [][]string{{"connections", "get", arn}, {"hosts", "get", host.HostArn}} {
		res := forgelink(t, args...)
		if res.code != 1 || !strings.Contains(res.stderr, "ResourceNotFoundException") {
			t.Errorf("forgelink %s after delete: exit status %d, stderr %q; want 1 and ResourceNotFoundException",
				strings.Join(args, " "), res.code, res.stderr)
		}
	}
	var empty struct{ Connections []wireConnection }
	run(t, &empty, "connections", "list")
	if empty.Connections == nil || len(empty.Connections) != 0 {
		t.Errorf("connections list after delete = %+v, want []", empty.Connections)
	}
	if res := forgelink(t, "connections", "create", "--provider-type", "GitHub"); res.code != 2 {
		t.Errorf("connections create without --name: exit status %d, want 2 (usage)", res.code)
	}
}
