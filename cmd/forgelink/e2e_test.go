//go:build unix

// End-to-end tests: TestMain builds the real forgelink binary once, and each
// test runs it as a daemon (or as a client) in a subprocess and drives it
// over HTTP, as a deployment would.
//
// The harness lives in this file; e2e_api_test.go drives the API with the
// AWS SDK for Go, e2e_daemon_test.go covers start-up, shutdown, restart and
// the operational endpoints, e2e_cli_test.go the AWS CLI and forgelink's own
// client commands.
package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forgelink/forgelink/cmd/forgelink/internal/sdktransport"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codestarconnections"
	"github.com/aws/smithy-go"
)

const (
	rootKeyID  = "AKIDFORGELINKE2E"
	rootSecret = "forgelink-e2e-root-secret"
	region     = "us-east-1"
	// accountID is the default account; the tests configure none.
	accountID = "000000000000"

	startTimeout   = 20 * time.Second
	stopTimeout    = 10 * time.Second
	commandTimeout = 30 * time.Second
)

// forgelinkBin is the binary under test, set once by TestMain (empty under
// -short, where every end-to-end test skips).
var forgelinkBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(buildAndRun(m))
}

// buildAndRun builds ./cmd/forgelink (the test's working directory) into a
// temporary directory and runs the tests against it.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "forgelink-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "forgelink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/forgelink: %v\n%s", err, out)
		return 1
	}
	forgelinkBin = bin
	return m.Run()
}

// e2e marks an end-to-end test: skipped under -short, parallel otherwise
// (every test runs its own daemons on its own ports and data directories).
func e2e(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test (runs the forgelink binary): skipped under -short; run without it")
	}
	t.Parallel()
}

// environ returns the test process's environment without anything that
// would configure forgelink or an AWS client, followed by extra.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FORGELINK_") || strings.HasPrefix(k, "AWS_") || k == "NOTIFY_SOCKET" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// rootEnv is the daemon's root credentials as environment settings.
func rootEnv() []string {
	return []string{"FORGELINK_ROOT_ACCESS_KEY_ID=" + rootKeyID, "FORGELINK_ROOT_SECRET_ACCESS_KEY=" + rootSecret}
}

// daemonOptions configure startDaemon.
type daemonOptions struct {
	dataDir  string   // empty: a fresh temporary directory
	authless bool     // run without root credentials (loopback only)
	env      []string // further environment settings, e.g. limits
}

// daemon is a running "forgelink serve" process.
type daemon struct {
	url     string // http://host:port
	dataDir string
	http    *http.Client // for the daemon's SDK clients
	cmd     *exec.Cmd
	out     lineLog       // stdout and stderr, line by line
	exited  chan struct{} // closed once the process has exited and its output is drained
	waitErr error         // cmd.Wait's result; read only after exited is closed
}

// startDaemon starts forgelink serve on a free loopback port and waits for
// its "forgelink ready" log line. At the end of the test a daemon still
// running is stopped (and checked, as by stop) or, if the test failed,
// killed; the output of a failed test's daemons is logged.
func startDaemon(t *testing.T, o daemonOptions) *daemon {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	env := environ("FORGELINK_LOG_FORMAT=json")
	if !o.authless {
		env = append(env, rootEnv()...)
	}
	d := &daemon{
		dataDir: o.dataDir,
		cmd:     exec.Command(forgelinkBin, "serve", "--listen", "127.0.0.1:0", "--data-dir", o.dataDir),
		exited:  make(chan struct{}),
		http:    &http.Client{Transport: sdktransport.BufferedBodies(http.DefaultTransport.(*http.Transport).Clone())},
	}
	d.cmd.Env = append(env, o.env...)
	// One pipe for both streams keeps the output in the order it was written.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	err = d.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("start forgelink: %v", err)
	}
	ready := make(chan string, 1)
	go d.consume(r, ready)
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			if t.Failed() {
				d.kill()
			} else {
				d.stop(t)
			}
		}
		d.http.CloseIdleConnections()
		if t.Failed() {
			t.Logf("output of forgelink serve --data-dir %s:\n%s", d.dataDir, d.out.String())
		}
	})

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case addr := <-ready:
		d.url = "http://" + addr
	case <-d.exited:
		t.Fatalf("forgelink exited before it was ready: %v", d.waitErr)
	case <-timer.C:
		t.Fatalf("forgelink did not log %q within %v", "forgelink ready", startTimeout)
	}
	return d
}

// consume records the process's output until EOF, reports the listen
// address of the "forgelink ready" line on ready, and then reaps the process.
func (d *daemon) consume(r *os.File, ready chan<- string) {
	defer close(d.exited)
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimSuffix(line, "\n")
			d.out.add(line)
			if e, ok := parseLogLine(line); ok && e.Msg == "forgelink ready" && e.Listen != "" {
				select {
				case ready <- e.Listen:
				default:
				}
			}
		}
		if err != nil {
			break
		}
	}
	r.Close()
	d.waitErr = d.cmd.Wait()
}

// stop sends SIGTERM and checks that the daemon shuts down cleanly: exit
// status 0 and "stopped" logged.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-d.exited:
	case <-timer.C:
		d.kill()
		t.Fatalf("forgelink still running %v after SIGTERM", stopTimeout)
	}
	if d.waitErr != nil {
		t.Errorf("forgelink exited with %v after SIGTERM, want status 0", d.waitErr)
	}
	if !d.logged("stopped") {
		t.Errorf("forgelink did not log %q after SIGTERM", "stopped")
	}
}

// kill ends the daemon at once and waits for it.
func (d *daemon) kill() {
	d.cmd.Process.Kill()
	<-d.exited
}

// logged reports whether the daemon logged a JSON line with message msg.
func (d *daemon) logged(msg string) bool {
	for _, line := range d.out.lines() {
		if e, ok := parseLogLine(line); ok && e.Msg == msg {
			return true
		}
	}
	return false
}

// logEntry holds the fields of a JSON log line the tests look at.
type logEntry struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Listen string `json:"listen"`
}

func parseLogLine(line string) (logEntry, bool) {
	var e logEntry
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
		return logEntry{}, false
	}
	return e, true
}

// lineLog collects output lines; it is safe for concurrent use.
type lineLog struct {
	mu sync.Mutex
	l  []string
}

func (l *lineLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, line)
}

func (l *lineLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

func (l *lineLog) String() string { return strings.Join(l.lines(), "\n") }

// rootCredentials signs as the daemon's root user.
func rootCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(rootKeyID, rootSecret, "")
}

// cc returns a codeconnections client of the daemon; without credentials
// it signs as root. It makes one attempt per call: the SDK would retry
// LimitExceededException, which the tests expect to see.
func (d *daemon) cc(creds ...aws.CredentialsProvider) *codeconnections.Client {
	return codeconnections.New(codeconnections.Options{
		BaseEndpoint: aws.String(d.url), Region: region, Credentials: pickCredentials(creds),
		RetryMaxAttempts: 1, HTTPClient: d.http,
	})
}

// cs is cc for the legacy codestar-connections namespace.
func (d *daemon) cs(creds ...aws.CredentialsProvider) *codestarconnections.Client {
	return codestarconnections.New(codestarconnections.Options{
		BaseEndpoint: aws.String(d.url), Region: region, Credentials: pickCredentials(creds),
		RetryMaxAttempts: 1, HTTPClient: d.http,
	})
}

func pickCredentials(creds []aws.CredentialsProvider) aws.CredentialsProvider {
	if len(creds) > 0 {
		return creds[0]
	}
	return rootCredentials()
}

// apiCode is the wire error code of an SDK error, "" if it is none.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails the test unless err carries the wire error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Errorf("%s: got error %v, want %s", what, err, code)
	}
}

// wantError fails the test unless err is (or wraps) an E, the SDK's typed
// error for a modelled exception.
func wantError[E error](t *testing.T, what string, err error) {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Errorf("%s: got error %v, want %T", what, err, target)
	}
}

// result is the outcome of a command that ran to completion.
type result struct {
	stdout, stderr string
	code           int
}

// runCommand runs a command to completion within commandTimeout. A
// non-zero exit status is a result; failing to run, or a timeout, fails the
// test.
func runCommand(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() == nil && errors.As(err, &exitErr) && exitErr.Exited():
		res.code = exitErr.ExitCode()
	case ctx.Err() != nil:
		t.Fatalf("%s %s: did not finish within %v (%v)\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), commandTimeout, err, res.stdout, res.stderr)
	default:
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, res.stdout, res.stderr)
	}
	return res
}

// decodeJSON decodes a command's JSON output into v.
func decodeJSON(t *testing.T, what, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s: output is not the expected JSON: %v\n%s", what, err, out)
	}
}

// otherNamespace rewrites an ARN of one namespace into the other.
func otherNamespace(arn string) string {
	if strings.Contains(arn, ":codestar-connections:") {
		return strings.Replace(arn, ":codestar-connections:", ":codeconnections:", 1)
	}
	return strings.Replace(arn, ":codeconnections:", ":codestar-connections:", 1)
}

// arnPrefix is the ARN prefix of a resource kind in a namespace.
func arnPrefix(service, kind string) string {
	return arnPrefixIn(region, service, kind)
}

// arnPrefixIn is arnPrefix in another region.
func arnPrefixIn(r, service, kind string) string {
	return "arn:aws:" + service + ":" + r + ":" + accountID + ":" + kind + "/"
}
