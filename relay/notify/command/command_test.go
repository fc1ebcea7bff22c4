//go:build linux

package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
)

// testEnviron stands for the daemon's environment.
var testEnviron = []string{"PATH=/usr/bin:/bin", "HOME=/home/ci", "FORGELINK_ROOT_SECRET_ACCESS_KEY=secret"}

// script writes a shell script the target runs directly: argv[0] is the
// script, as an exec target configured with a script would have it.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func newNotifier(t *testing.T, cfg config.ExecTarget) *Notifier {
	t.Helper()
	n, err := New(cfg, Options{Environ: testEnviron, KillGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func message() *notify.Message {
	return &notify.Message{
		DeliveryID: "d-1",
		Attempt:    1,
		Pipeline:   "build",
		Kind:       providers.KindPush,
		Variables: map[string]string{
			notify.VarCommitID:   "0123456789abcdef0123456789abcdef01234567",
			notify.VarBranchName: "main",
		},
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// readPid waits for a script to write a pid into file.
func readPid(t *testing.T, file string) int {
	t.Helper()
	var pid int
	waitFor(t, "the pid in "+file, func() bool {
		b, _ := os.ReadFile(file)
		line, complete := strings.CutSuffix(string(b), "\n")
		pid, _ = strconv.Atoi(line)
		return complete
	})
	return pid
}

// gone reports whether pid has exited. A zombie counts as gone: an
// orphan is reaped by whatever the host runs as pid 1, if anything.
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, fields, _ := bytes.Cut(stat, []byte(") "))
	return bytes.HasPrefix(fields, []byte("Z"))
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     config.ExecTarget
		wantErr string // "": New succeeds
	}{
		{"name in PATH", config.ExecTarget{Command: []string{"sh", "-c", "true"}}, ""},
		{"absolute path", config.ExecTarget{Command: []string{"/bin/sh"}}, ""},
		{"no command", config.ExecTarget{}, "want the program"},
		{"empty program", config.ExecTarget{Command: []string{""}}, "want the program"},
		{"relative path", config.ExecTarget{Command: []string{"./build"}}, "absolute path"},
		{"missing", config.ExecTarget{Command: []string{filepath.Join(dir, "missing")}}, "no such file"},
		{"not executable", config.ExecTarget{Command: []string{plain}}, "permission denied"},
		{"directory", config.ExecTarget{Command: []string{dir}}, "is a directory"},
		{"not in PATH", config.ExecTarget{Command: []string{"forgelink-no-such-program"}}, "no executable"},
		{"env name with =", config.ExecTarget{Command: []string{"sh"}, Env: map[string]string{"A=B": "x"}}, `env "A=B"`},
		{"env value with NUL", config.ExecTarget{Command: []string{"sh"}, Env: map[string]string{"TOKEN": "se\x00cret"}}, `env "TOKEN"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(tc.cfg, Options{Environ: testEnviron})
			if tc.wantErr == "" {
				if err != nil || !filepath.IsAbs(n.path) {
					t.Fatalf("New = %v, path %q; want an absolute path", err, n.path)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New err = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "cret") {
				t.Fatalf("error shows an env value: %v", err)
			}
		})
	}
}

func TestNotifyExit(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantErr   string // "": success
		wantRetry bool
		wantExit  int // -1: no exit status
	}{
		{"success", "exit 0", "", false, 0},
		{"failure", "exit 1", "exit status 1", false, 1},
		{"retryable status", "exit 75", "exit status 75", true, 75},
		{"killed by a signal", "kill -KILL $$", "signal: killed", false, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNotifier(t, config.ExecTarget{Command: []string{script(t, tc.body)}, RetryableExitCodes: []int{75, 111}})
			r := n.Notify(t.Context(), message())
			if tc.wantErr == "" && r.Err != nil || tc.wantErr != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tc.wantErr)) {
				t.Errorf("Err = %v, want %q", r.Err, tc.wantErr)
			}
			if r.Retryable != tc.wantRetry {
				t.Errorf("Retryable = %v, want %v", r.Retryable, tc.wantRetry)
			}
			if got := exitOf(r); got != tc.wantExit {
				t.Errorf("ExitStatus = %d, want %d", got, tc.wantExit)
			}
		})
	}
}

func exitOf(r notify.Result) int {
	if r.ExitStatus == nil {
		return -1
	}
	return *r.ExitStatus
}

func TestNotifyStdin(t *testing.T) {
	large := message()
	large.Variables[notify.VarCommitMessage] = strings.Repeat("long commit message ", 10_000)
	tests := []struct {
		name    string
		command []string
		m       *notify.Message
		want    func(m *notify.Message) string
	}{
		{"read", []string{"cat"}, message(), func(m *notify.Message) string { return string(m.JSON()) }},
		// Over the pipe's buffer and the kernel's limit for one variable:
		// neither the unread stdin nor the environment stops the program.
		{"large and unread", []string{"true"}, large, func(*notify.Message) string { return "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newNotifier(t, config.ExecTarget{Command: tc.command}).Notify(t.Context(), tc.m)
			if r.Err != nil || r.Output != tc.want(tc.m) {
				t.Fatalf("Notify = %v, output %q", r.Err, r.Output)
			}
		})
	}
}

func TestNotifyConcurrent(t *testing.T) {
	n := newNotifier(t, config.ExecTarget{Command: []string{"cat"}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			m := message()
			m.DeliveryID = fmt.Sprint("d-", i)
			if r := n.Notify(t.Context(), m); r.Err != nil || r.Output != string(m.JSON()) {
				t.Errorf("delivery %s: %v, output %q", m.DeliveryID, r.Err, r.Output)
			}
		})
	}
	wg.Wait()
}

func TestEnviron(t *testing.T) {
	n, err := New(config.ExecTarget{
		Command: []string{"env"},
		Env:     map[string]string{"CI": "true", "FORGELINK_COMMIT_ID": "static", "FORGELINK_TAG_NAME": "static", "FORGELINK_OWN": "kept"},
	}, Options{Environ: []string{
		"PATH=/bin", "HOME=/home/ci", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "TMPDIR=/var/tmp", "USER=ci",
		"AWS_SECRET_ACCESS_KEY=x", "FORGELINK_ROOT_SECRET_ACCESS_KEY=y", "LD_PRELOAD=/evil.so", "NOVALUE",
		"PATH=/usr/bin:/bin", // the last one wins, as in exec
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := message()
	m.Attempt = 3
	m.Variables = map[string]string{
		notify.VarCommitID:           "abc",
		notify.VarBranchName:         "main",
		notify.VarFullRepositoryName: "octo/repo",
		notify.VarConnectionArn:      "arn:aws:codeconnections:us-east-1:000000000000:connection/x",
		notify.VarCommitMessage:      "fix\nthe build " + strings.Repeat("é", maxEnvValue),
		notify.VarAuthorDate:         "2026-11-25T10:00:00Z",
		notify.VarEventKind:          "push",
		notify.VarDeliveryID:         "d-1",
		notify.VarPipeline:           "build",
		notify.VarProviderType:       "GitHub",
		notify.VarTagName:            "v1\x00", // dropped, and the configured value with it
		notify.VarPullRequestNumber:  "7",
		notify.VarSourceBranch:       "feature",
		notify.VarDestinationBranch:  "main",
		notify.VarCloneURL:           "https://github.com/octo/repo.git",
	}
	want := []string{
		"CI=true",
		"FORGELINK_ATTEMPT=3",
		"FORGELINK_AUTHOR_DATE=2026-11-25T10:00:00Z",
		"FORGELINK_BRANCH_NAME=main",
		"FORGELINK_CLONE_URL=https://github.com/octo/repo.git",
		"FORGELINK_COMMIT_ID=abc",
		"FORGELINK_COMMIT_MESSAGE=" + clip("fix\nthe build "+strings.Repeat("é", maxEnvValue), maxEnvValue),
		"FORGELINK_CONNECTION_ARN=arn:aws:codeconnections:us-east-1:000000000000:connection/x",
		"FORGELINK_DELIVERY_ID=d-1",
		"FORGELINK_DESTINATION_BRANCH=main",
		"FORGELINK_EVENT_KIND=push",
		"FORGELINK_FULL_REPOSITORY_NAME=octo/repo",
		"FORGELINK_OWN=kept",
		"FORGELINK_PIPELINE=build",
		"FORGELINK_PROVIDER_TYPE=GitHub",
		"FORGELINK_PULL_REQUEST_NUMBER=7",
		"FORGELINK_SOURCE_BRANCH=feature",
		"HOME=/home/ci",
		"LANG=C.UTF-8",
		"LC_ALL=C",
		"PATH=/usr/bin:/bin",
		"TMPDIR=/var/tmp",
		"TZ=UTC",
		"USER=ci",
	}
	if got := n.environ(m); !slices.Equal(got, want) {
		t.Fatalf("environ:\n got %q\nwant %q", got, want)
	}
}

// TestNotifyEnvironment checks that the program gets exactly environ's
// variables: nothing is added on the way.
func TestNotifyEnvironment(t *testing.T) {
	n := newNotifier(t, config.ExecTarget{Command: []string{"env", "-0"}, Env: map[string]string{"CI": "true"}})
	m := message()
	m.Variables[notify.VarCommitMessage] = "multi\nline"
	r := n.Notify(t.Context(), m)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := strings.Split(strings.TrimSuffix(r.Output, "\x00"), "\x00")
	slices.Sort(got)
	if want := n.environ(m); !slices.Equal(got, want) {
		t.Fatalf("program environment:\n got %q\nwant %q", got, want)
	}
}

func TestNotifyDir(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, dir, want string
	}{
		{"configured", dir, dir},
		{"default", "", os.TempDir()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := filepath.EvalSymlinks(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			r := newNotifier(t, config.ExecTarget{Command: []string{"pwd", "-P"}, Dir: tc.dir}).Notify(t.Context(), message())
			if r.Err != nil || r.Output != want+"\n" {
				t.Fatalf("Notify = %v, output %q, want %q", r.Err, r.Output, want)
			}
		})
	}
}

func TestNotifyOutputTail(t *testing.T) {
	n := newNotifier(t, config.ExecTarget{Command: []string{script(t, "yes 0123456789 | head -c 100000; echo oops >&2; printf END")}})
	r := n.Notify(t.Context(), message())
	full := strings.Repeat("0123456789\n", 100000/11+1)[:100000] + "oops\nEND"
	if r.Err != nil || r.Output != full[len(full)-maxOutput:] {
		t.Fatalf("Notify = %v, output (%d bytes) ends %q", r.Err, len(r.Output), r.Output[max(len(r.Output)-20, 0):])
	}
}

func TestNotifyStartFailure(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(prog string) error
		dir     string
		wantErr error
	}{
		{"program removed", os.Remove, "", os.ErrNotExist},
		{"no longer executable", func(prog string) error { return os.Chmod(prog, 0o644) }, "", os.ErrPermission},
		{"missing directory", func(string) error { return nil }, "/nonexistent/forgelink", os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prog := script(t, "exit 0")
			n := newNotifier(t, config.ExecTarget{Command: []string{prog}, Dir: tc.dir, RetryableExitCodes: []int{1}})
			if err := tc.breakIt(prog); err != nil {
				t.Fatal(err)
			}
			r := n.Notify(t.Context(), message())
			if !errors.Is(r.Err, tc.wantErr) || r.Retryable || r.ExitStatus != nil {
				t.Fatalf("Notify = %+v, want %v, not retryable, no exit status", r, tc.wantErr)
			}
		})
	}
}

// TestNotifyTimeout: the whole group goes, including a grandchild that
// ignores SIGTERM and holds the output pipe open.
func TestNotifyTimeout(t *testing.T) {
	prog := script(t, `[ "$1" = ignore ] && trap '' TERM
(trap '' TERM; exec sleep 60) &
echo $! > "$2"
wait`)
	const timeout = 500 * time.Millisecond
	for _, mode := range []string{"exit", "ignore"} {
		t.Run("leader on SIGTERM: "+mode, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			n := newNotifier(t, config.ExecTarget{Command: []string{prog, mode, pidFile}, Timeout: timeout})
			start := time.Now()
			r := n.Notify(t.Context(), message())
			if took := time.Since(start); took < timeout || took > timeout+5*time.Second {
				t.Errorf("Notify took %s with a %s timeout", took, timeout)
			}
			if !errors.Is(r.Err, ErrTimeout) || !r.Retryable || !strings.Contains(r.Err.Error(), "signal") {
				t.Errorf("Notify = %+v, want a retryable timeout naming the signal", r)
			}
			grandchild := readPid(t, pidFile)
			waitFor(t, "the grandchild to go", func() bool { return gone(grandchild) })
		})
	}
}

// TestNotifyInterrupt: a cancelled attempt and Close stop the program
// and report a retryable failure.
func TestNotifyInterrupt(t *testing.T) {
	prog := script(t, `echo $$ > "$1"; exec sleep 60`)
	tests := []struct {
		name    string
		stop    func(n *Notifier, cancel context.CancelFunc)
		wantErr error
	}{
		{"context cancelled", func(_ *Notifier, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"closed", func(n *Notifier, _ context.CancelFunc) { n.Close() }, ErrClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			n := newNotifier(t, config.ExecTarget{Command: []string{prog, pidFile}})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan notify.Result)
			go func() { done <- n.Notify(ctx, message()) }()
			pid := readPid(t, pidFile)
			tc.stop(n, cancel)
			r := <-done
			if !errors.Is(r.Err, tc.wantErr) || !r.Retryable {
				t.Errorf("Notify = %+v, want retryable %v", r, tc.wantErr)
			}
			waitFor(t, "the program to go", func() bool { return gone(pid) })
		})
	}
}

// TestNotifyNotStarted: nothing runs once the notifier is closed or the
// attempt is over, and the delivery stays retryable.
func TestNotifyNotStarted(t *testing.T) {
	tests := []struct {
		name    string
		stop    func(n *Notifier, cancel context.CancelFunc)
		wantErr error
	}{
		{"after Close", func(n *Notifier, _ context.CancelFunc) { n.Close() }, ErrClosed},
		{"context done", func(_ *Notifier, cancel context.CancelFunc) { cancel() }, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			n := newNotifier(t, config.ExecTarget{Command: []string{"touch", marker}})
			ctx, cancel := context.WithCancel(t.Context())
			tc.stop(n, cancel)
			if r := n.Notify(ctx, message()); !errors.Is(r.Err, tc.wantErr) || !r.Retryable {
				t.Fatalf("Notify = %+v, want retryable %v", r, tc.wantErr)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the program ran: %v", err)
			}
		})
	}
}

func TestUpperSnake(t *testing.T) {
	tests := map[string]string{
		notify.VarCommitID:           "COMMIT_ID",
		notify.VarBranchName:         "BRANCH_NAME",
		notify.VarFullRepositoryName: "FULL_REPOSITORY_NAME",
		notify.VarConnectionArn:      "CONNECTION_ARN",
		notify.VarCommitMessage:      "COMMIT_MESSAGE",
		notify.VarAuthorDate:         "AUTHOR_DATE",
		notify.VarEventKind:          "EVENT_KIND",
		notify.VarDeliveryID:         "DELIVERY_ID",
		notify.VarPipeline:           "PIPELINE",
		notify.VarProviderType:       "PROVIDER_TYPE",
		notify.VarTagName:            "TAG_NAME",
		notify.VarPullRequestNumber:  "PULL_REQUEST_NUMBER",
		notify.VarSourceBranch:       "SOURCE_BRANCH",
		notify.VarDestinationBranch:  "DESTINATION_BRANCH",
		notify.VarCloneURL:           "CLONE_URL",
		"ConnectionARN":              "CONNECTION_ARN",
		"Sha256Sum":                  "SHA256_SUM",
		"odd-name.x":                 "ODD_NAME_X",
	}
	for in, want := range tests {
		if got := upperSnake(in); got != want {
			t.Errorf("upperSnake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exact", 5, "exact"},
		{"cut here", 3, "cut"},
		{"hé", 2, "h"}, // é is two bytes: not split
		{"日本", 5, "日"},
	}
	for _, tc := range tests {
		if got := clip(tc.in, tc.limit); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}
