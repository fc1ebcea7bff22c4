package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.txt from the commands' output")

// goldenCase is one command line whose exit status, stdout and stderr are
// kept in testdata/golden/<name>.txt.
type goldenCase struct {
	name    string
	args    []string
	replies []string          // the fake service's answers, in order
	env     map[string]string // besides an isolated environment
}

// eventJSON is an event summary as ListEvents sends it.
func eventJSON(id, kind, repo string, received string) string {
	return `{"EventId":"` + id + `","ConnectionArn":"` + connARN + `","Provider":"GitHub","DeliveryId":"gh-` + id[len(id)-2:] + `",` +
		`"Kind":"` + kind + `","RawKind":"` + kind + `","Repository":"` + repo + `","Held":false,"ReceivedAt":` + received + `}`
}

func TestGolden(t *testing.T) {
	events := `{"Events":[` + eventJSON("019a0000-0000-7000-8000-0000000000e2", "pull_request", "acme/web", "1795608060.5") + `,` +
		eventJSON(eventID, "push", "acme/app", "1795608000") + `],"NextToken":"next-page"}`
	summary := eventJSON(eventID, "push", "acme/app", "1795608000")
	detail := func(body string) string {
		return `{"Event":` + summary[:len(summary)-1] + `,"Headers":{"X-GitHub-Event":"push","X-GitHub-Delivery":"gh-e1","User-Agent":"GitHub-Hookshot/1"},` +
			`"Body":` + body + `,"Normalized":{"kind":"push","repository":"acme/app"}}}`
	}
	denied := `{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}`
	for _, tc := range []goldenCase{
		{name: "help-root", args: []string{"-h"}},
		{name: "help-group", args: []string{"help", "connections"}},
		{name: "help-leaf", args: []string{"connections", "get", "-h"}},
		{name: "help-serve", args: []string{"serve", "--help"}},
		{name: "help-events-list", args: []string{"events", "list", "--help"}},
		{name: "events-list-table", args: []string{"events", "list", "--limit", "2"}, replies: []string{events}},
		{name: "events-list-json", args: []string{"events", "list", "--limit", "2", "--output", "json"}, replies: []string{events}},
		{name: "events-list-yaml", args: []string{"events", "list", "--limit", "2", "-o", "yaml"}, replies: []string{events}},
		{name: "events-get", args: []string{"events", "get", eventID},
			replies: []string{detail(`"{\"ref\":\"refs/heads/main\",\"after\":\"abc\",\"commits\":[{\"id\":\"abc\"}]}"`)}},
		{name: "events-get-binary", args: []string{"events", "get", eventID}, replies: []string{detail(`"\u001f\ufffd\b\u0000\u0001"`)}},
		{name: "events-unknown-kind", args: []string{"events", "list", "--kind", "merge"}},
		{name: "auth-hint-env", args: []string{"connections", "list"}, replies: []string{denied},
			env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE0000WXYZ", "AWS_SECRET_ACCESS_KEY": "never-printed"}},
		{name: "auth-hint-unsigned", args: []string{"events", "list"}, replies: []string{denied}},
		{name: "unknown-command", args: []string{"conections", "list"}},
		{name: "unknown-flag", args: []string{"deliveries", "list", "--sate", "dead"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := newFake(t, tc.replies...)
			t.Setenv("FORGELINK_ENDPOINT", f.url)
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stdout, &stderr)
			got := "$ forgelink " + strings.Join(tc.args, " ") + "\nexit status " + string(rune('0'+code)) +
				"\n--- stdout\n" + stdout.String() + "--- stderr\n" + stderr.String()
			if strings.Contains(got, "never-printed") {
				t.Errorf("the secret access key is in the output:\n%s", got)
			}
			golden(t, tc.name, got)
		})
	}
}

// golden compares got with testdata/golden/name.txt, or writes it there
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -run TestGolden -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestHelpExitStatus checks that every way of asking for help prints it on
// stdout and succeeds, and that a wrong command line fails with 2 and a
// hint on stderr.
func TestHelpExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout for 0, in stderr for 2
	}{
		{[]string{"-h"}, 0, "Available Commands:"},
		{[]string{"--help"}, 0, "Available Commands:"},
		{[]string{"help"}, 0, "Available Commands:"},
		{[]string{"help", "connections"}, 0, "forgelink connections [command]"},
		{[]string{"help", "connections", "get"}, 0, "forgelink connections get ARN [flags]"},
		{[]string{"connections", "-h"}, 0, "forgelink connections [command]"},
		{[]string{"connections", "--help"}, 0, "forgelink connections [command]"},
		{[]string{"connections", "help"}, 0, "forgelink connections [command]"},
		{[]string{"connections", "help", "get"}, 0, "forgelink connections get ARN [flags]"},
		{[]string{"connections", "get", "-h"}, 0, "forgelink connections get ARN [flags]"},
		{[]string{"connections", "get", "--help"}, 0, "--endpoint-url URL"},
		{[]string{"serve", "-h"}, 0, "--listen address"},
		{[]string{"config", "validate", "-h"}, 0, "--probe"},
		{[]string{"store", "check", "--help"}, 0, "--data-dir directory"},
		{[]string{"git-credential", "-h"}, 0, "useHttpPath"},
		{[]string{"completion", "bash", "-h"}, 0, "bash"},
		{[]string{}, 2, "missing command"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{[]string{"--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"events", "list", "--lmit", "3"}, 2, "unknown flag: --lmit; did you mean --limit?"},
		{[]string{"help", "frob"}, 2, `unknown help topic "frob"`},
		{[]string{"connections", "frob"}, 2, "Run 'forgelink connections --help' for usage."},
		{[]string{"connections", "list", "--bogus"}, 2, "Run 'forgelink connections list --help' for usage."},
		{[]string{"serve", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"version", "extra"}, 2, `unexpected arguments ["extra"]`},
		{[]string{"completion", "tcsh"}, 2, `unknown command "tcsh"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			isolateEnv(t)
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stdout, &stderr)
			out, other := stdout.String(), stderr.String()
			if tc.code != 0 {
				out, other = other, out
			}
			if code != tc.code || !strings.Contains(out, tc.want) || other != "" {
				t.Errorf("exit status %d, stdout %q, stderr %q; want %d and %q", code, stdout.String(), stderr.String(), tc.code, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	shape := regexp.MustCompile(`^forgelink (v\S+|\(devel\))\n(revision [0-9a-f]{40}(\+dirty)?( \(\S+\))?\n)?go\S+ \S+/\S+\n$`)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 0 || !shape.MatchString(stdout.String()) || stderr.Len() != 0 {
			t.Errorf("forgelink %s: exit status %d, stdout %q, stderr %q; want output matching %s", args[0], code, &stdout, &stderr, shape)
		}
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_forgelink", "zsh": "#compdef forgelink", "fish": "complete -c forgelink"} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"completion", shell}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), want) {
			t.Errorf("completion %s: exit status %d, stderr %q; want a script with %q", shell, code, &stderr, want)
		}
	}
}

func TestFormatVersion(t *testing.T) {
	const rev = "0a2ffb7c0a2ffb7c0a2ffb7c0a2ffb7c0a2ffb7c"
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
		{Key: "vcs.time", Value: "2026-12-08T00:20:00Z"}, {Key: "vcs.modified", Value: "true"}}
	platform := "\ngo1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name    string
		version string
		vcs     []debug.BuildSetting
		want    string
	}{
		{"go install module@v1.4.0", "v1.4.0", nil, "forgelink v1.4.0" + platform},
		{"checkout, modified", "v0.0.0-20261208002000-0a2ffb7c0a2f+dirty", vcs,
			"forgelink v0.0.0-20261208002000-0a2ffb7c0a2f+dirty\nrevision " + rev + "+dirty (2026-12-08T00:20:00Z)" + platform},
		{"no module version", "", vcs[:2], "forgelink (devel)\nrevision " + rev + platform},
	} {
		info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/forgelink/forgelink", Version: tc.version}, Settings: tc.vcs}
		if got := formatVersion(info); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
