//go:build unix

package main_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// TestE2ECLIHelpAndVersion runs the real binary: help at every level
// succeeds on stdout, a wrong command line fails with 2, and the version
// says the module version and, for a build from a git checkout, the
// revision it was built from.
func TestE2ECLIHelpAndVersion(t *testing.T) {
	e2e(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "Available Commands:"},
		{[]string{"help", "connections"}, 0, "forgelink connections [command]"},
		{[]string{"connections", "--help"}, 0, "forgelink connections [command]"},
		{[]string{"connections", "get", "-h"}, 0, "forgelink connections get ARN [flags]"},
		{[]string{"serve", "-h"}, 0, "--allow-insecure-key-file"},
		{[]string{"completion", "bash"}, 0, "__start_forgelink"},
		{[]string{"frob"}, 2, "unknown command \"frob\""},
		{[]string{"events", "list", "--bogus"}, 2, "unknown flag: --bogus"},
	} {
		res := runCommand(t, environ(), forgelinkBin, tc.args...)
		out := res.stdout
		if tc.code != 0 {
			out = res.stderr
		}
		if res.code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("forgelink %s: exit status %d, stdout %q, stderr %q; want %d and %q",
				strings.Join(tc.args, " "), res.code, res.stdout, res.stderr, tc.code, tc.want)
		}
	}

	res := runCommand(t, environ(), forgelinkBin, "--version")
	shape := regexp.MustCompile(`^forgelink \S+\n(revision ([0-9a-f]{40})(\+dirty)?( \(\S+\))?\n)?go\S+ \S+/\S+\n$`)
	m := shape.FindStringSubmatch(res.stdout)
	if res.code != 0 || m == nil {
		t.Fatalf("forgelink --version: exit status %d, stdout %q; want it to match %s", res.code, res.stdout, shape)
	}
	// In a git checkout, a build stamps the revision (unless GOFLAGS says
	// -buildvcs=false, as on these machines: this build says true).
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Logf("not a git checkout (%v): the revision line is not checked", err)
		return
	}
	bin := filepath.Join(t.TempDir(), "forgelink")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	res = runCommand(t, environ(), bin, "version")
	if m = shape.FindStringSubmatch(res.stdout); m == nil || m[2] != strings.TrimSpace(string(head)) {
		t.Errorf("forgelink version of a -buildvcs=true build: %q; want revision %s", res.stdout, head)
	}
}

// TestE2ECLINewestFirst lists events against a real daemon: newest first
// by default, oldest first on request, --limit with a hint for the rest,
// and kind aliases.
func TestE2ECLINewestFirst(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cli := cliFor(t, d)
	client := newHookClient(t)
	gh := newHookConn(t, cli, "github", store.ProviderGitHub)
	var sent []string // delivery ids, oldest first
	for _, e := range []struct{ event, file string }{
		{"ping", "ping.json"}, {"push", "push_branch.json"}, {"pull_request", "pull_request_opened.json"},
	} {
		id := uuid.NewString()
		req, err := gh.delivery(t, e.event, e.file, id).request(t.Context(), gh.url(d))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := send(client, req); err != nil || got.code != 202 {
			t.Fatalf("%s delivery: %+v, %v; want 202", e.event, got, err)
		}
		sent = append(sent, id)
	}
	listed := func(args ...string) []string {
		t.Helper()
		var out struct{ Events []eventSummary }
		cli.decode(t, &out, append([]string{"events", "list"}, args...)...)
		var ids []string
		for _, e := range out.Events {
			ids = append(ids, e.DeliveryID)
		}
		return ids
	}
	newest := slices.Clone(sent)
	slices.Reverse(newest)
	if got := listed(); !slices.Equal(got, newest) {
		t.Errorf("events list = %q, want newest first %q", got, newest)
	}
	if got := listed("--oldest-first"); !slices.Equal(got, sent) {
		t.Errorf("events list --oldest-first = %q, want %q", got, sent)
	}
	for _, kind := range []string{"pr", "pull", "pull_request"} {
		if got := listed("--kind", kind); !slices.Equal(got, sent[2:]) {
			t.Errorf("events list --kind %s = %q, want the pull request %q", kind, got, sent[2:])
		}
	}

	res := cli.run(t, "events", "list", "--limit", "1", "--output", "table")
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); res.code != 0 || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "RECEIVED") || !strings.Contains(lines[1], newest[0]) {
		t.Errorf("events list --limit 1: exit status %d, stdout:\n%s\nwant a header and the newest event %s", res.code, res.stdout, newest[0])
	}
	if !strings.Contains(res.stderr, "more results: --next-token ") {
		t.Errorf("events list --limit 1: stderr %q, want a hint for the next page", res.stderr)
	}
	if res := cli.run(t, "events", "list", "--kind", "merge"); res.code != 2 || !strings.Contains(res.stderr, "valid kinds: push, pull_request") {
		t.Errorf("events list --kind merge: exit status %d, stderr %q; want 2 and the valid kinds", res.code, res.stderr)
	}
}

// TestE2ECLIAuthHint: against a daemon with root credentials, a client
// with none, or with a key the daemon does not know, is told which it used
// and how to set them, and never sees a secret.
func TestE2ECLIAuthHint(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	isolated := []string{"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_DEFAULT_REGION=" + region, "HOME=" + t.TempDir()}
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"no credentials", isolated, []string{"MissingAuthenticationTokenException", "hint: this used no credentials (requests went unsigned)"}},
		{"unknown key", append([]string{"AWS_ACCESS_KEY_ID=AKIDUNKNOWN0000WXYZ", "AWS_SECRET_ACCESS_KEY=not-a-known-secret"}, isolated...),
			[]string{"UnrecognizedClientException", "hint: this used AWS_ACCESS_KEY_ID from the environment (key ***************WXYZ)"}},
	} {
		res := runCommand(t, environ(tc.env...), forgelinkBin, "connections", "list", "--endpoint-url", d.url)
		for _, want := range append(tc.want, "FORGELINK_ROOT_ACCESS_KEY_ID", `README, "The forgelink CLI"`) {
			if res.code != 1 || !strings.Contains(res.stderr, want) {
				t.Errorf("%s: exit status %d, stderr %q; want 1 and %q", tc.name, res.code, res.stderr, want)
			}
		}
		if strings.Contains(res.stderr, "not-a-known-secret") || strings.Contains(res.stderr, "AKIDUNKNOWN") {
			t.Errorf("%s: stderr shows the key or its secret: %q", tc.name, res.stderr)
		}
	}
}
