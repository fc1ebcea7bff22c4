// Package command is the exec pipeline target: it runs a local program on
// the build host for each delivery, with the delivery's JSON on stdin and
// CodePipeline-style variables (FORGELINK_COMMIT_ID, ...) in its
// environment.
//
// Each run is a process group of its own. A timeout, a cancelled attempt
// or Close sends SIGTERM to the whole group and SIGKILL after a grace;
// whatever the program leaves running in its group when it exits is
// killed, so a delivery's work ends with its program (a program that
// means to outlive it detaches with setsid or systemd-run).
package command

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/notify"
)

const (
	// defaultKillGrace is how long a group has between SIGTERM and SIGKILL.
	defaultKillGrace = 5 * time.Second
	// maxEnvValue bounds each variable: Linux refuses to start a program
	// with a string over 128 KiB (E2BIG), and a long commit message must
	// not make a delivery fail for good. The whole message is on stdin.
	maxEnvValue = 16 << 10
	// varPrefix starts the name of every variable taken from the message.
	varPrefix = "FORGELINK_"
)

var (
	// ErrTimeout: the program ran past the target's timeout.
	ErrTimeout = errors.New("timed out")
	// ErrClosed: the notifier was closed before or during the attempt.
	ErrClosed = errors.New("exec target closed")
)

// Options carry what a Notifier needs beyond the target's configuration.
type Options struct {
	Log *zap.Logger
	// Environ is the daemon's environment (os.Environ()). Only PATH, HOME,
	// LANG, LC_ALL, TZ, TMPDIR and USER reach the program: the rest may
	// hold the daemon's credentials. A bare program name is looked up in
	// its PATH.
	Environ []string
	// KillGrace is how long a process group has between SIGTERM and
	// SIGKILL (5s if zero). It also bounds how long a process the program
	// left running may hold its output open after it exits.
	KillGrace time.Duration
}

// Notifier runs one exec target's program. It is safe for concurrent use;
// the delivery engine bounds how many run at once.
type Notifier struct {
	path       string   // the resolved program
	argv       []string // as configured: argv[0] is what the program sees
	dir        string
	env        map[string]string // inherited and configured variables
	timeout    time.Duration     // 0: the attempt's deadline only
	timeoutErr error
	retryable  map[int]bool // exit statuses worth another attempt
	grace      time.Duration
	log        *zap.Logger

	mu      sync.Mutex // orders Close against new runs
	closing context.Context
	close   context.CancelFunc
	running sync.WaitGroup
}

// New checks the target and resolves its program once: an absolute path,
// or a bare name looked up in the PATH of opts.Environ. The program runs
// in cfg.Dir, or in os.TempDir() when that is empty, never in the
// daemon's own working directory (its data directory, on a build host).
func New(cfg config.ExecTarget, opts Options) (*Notifier, error) {
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("command: want the program and its arguments")
	}
	path, err := resolve(cfg.Command[0], lookupEnv(opts.Environ, "PATH"))
	if err != nil {
		return nil, err
	}
	env, err := baseEnv(opts.Environ, cfg.Env)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		path:       path,
		argv:       slices.Clone(cfg.Command),
		dir:        cmp.Or(cfg.Dir, os.TempDir()),
		env:        env,
		timeout:    cfg.Timeout,
		timeoutErr: fmt.Errorf("%w after %s", ErrTimeout, cfg.Timeout),
		retryable:  map[int]bool{},
		grace:      opts.KillGrace,
		log:        opts.Log,
	}
	for _, code := range cfg.RetryableExitCodes {
		n.retryable[code] = true
	}
	if n.grace <= 0 {
		n.grace = defaultKillGrace
	}
	if n.log == nil {
		n.log = zap.NewNop()
	}
	n.closing, n.close = context.WithCancel(context.Background())
	return n, nil
}

// Notify runs the program once for m. Success is exit status 0. A failure
// is retryable when its exit status is listed as retryable, or when the
// run was cut short: by the timeout (the next attempt may be faster), the
// attempt's context or Close. A program that cannot be started (missing,
// not executable) is not retryable, unless the host ran out of resources.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) notify.Result {
	n.mu.Lock()
	if n.closing.Err() != nil {
		n.mu.Unlock()
		return notify.Result{Err: ErrClosed, Retryable: true}
	}
	n.running.Add(1)
	n.mu.Unlock()
	defer n.running.Done()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(n.closing, func() { cancel(ErrClosed) })
	defer stop()
	if n.timeout > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeoutCause(ctx, n.timeout, n.timeoutErr)
		defer cancelTimeout()
	}
	return n.run(ctx, m)
}

// Close stops the runs in progress as a timeout would, and waits for them.
func (n *Notifier) Close() error {
	n.mu.Lock()
	n.close()
	n.mu.Unlock()
	n.running.Wait()
	return nil
}

func (n *Notifier) run(ctx context.Context, m *notify.Message) notify.Result {
	var out tail
	interrupted := false
	cmd := exec.CommandContext(ctx, n.path, n.argv[1:]...)
	cmd.Args = n.argv
	cmd.Dir = n.dir
	cmd.Env = n.environ(m)
	cmd.Stdin = bytes.NewReader(m.JSON())
	// One writer for both: exec then uses one pipe and one goroutine, so
	// the tail needs no lock and keeps the two streams' order.
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = groupAttr()
	cmd.Cancel = func() error {
		err := terminateGroup(cmd.Process.Pid)
		interrupted = err == nil
		return err
	}
	// WaitDelay is the grace: once it passes after the context is done (or
	// after the program exits), exec SIGKILLs the program and closes its
	// pipes, so a process holding them open cannot hang Wait. killGroup
	// then gets the rest of the group.
	cmd.WaitDelay = n.grace

	start := time.Now()
	if err := cmd.Start(); err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return notify.Result{Err: fmt.Errorf("%s: %w", n.path, cause), Retryable: true}
		}
		return notify.Result{Err: fmt.Errorf("start %s: %w", n.path, err), Retryable: transient(err)}
	}
	err := cmd.Wait()
	if kerr := killGroup(cmd.Process.Pid); kerr != nil {
		n.log.Warn("kill what the program left running", zap.String("program", n.path), zap.Error(kerr))
	}
	r := n.result(context.Cause(ctx), interrupted, cmd.ProcessState, err)
	r.Output = out.String()
	n.logRun(m, time.Since(start), cmd.ProcessState, err)
	return r
}

// result classifies a finished run. interrupted: the group was sent
// SIGTERM because ctx was done, for cause.
func (n *Notifier) result(cause error, interrupted bool, ps *os.ProcessState, err error) notify.Result {
	if ps == nil {
		return notify.Result{Err: fmt.Errorf("wait for %s: %w", n.path, err)}
	}
	var r notify.Result
	// A program killed by a signal has no exit status; Err names the signal.
	if code := ps.ExitCode(); code >= 0 {
		r.ExitStatus = &code
	}
	switch {
	case interrupted:
		r.Err, r.Retryable = fmt.Errorf("%s: %w (%s)", n.path, cause, ps), true
	case ps.Success():
	default:
		r.Err = fmt.Errorf("%s: %w", n.path, err)
		r.Retryable = r.ExitStatus != nil && n.retryable[*r.ExitStatus]
	}
	return r
}

func (n *Notifier) logRun(m *notify.Message, took time.Duration, ps *os.ProcessState, err error) {
	if errors.Is(err, exec.ErrWaitDelay) {
		n.log.Warn("program exited but something it started kept its output open; cut off after the grace",
			zap.String("program", n.path), zap.String("delivery_id", m.DeliveryID), zap.Duration("grace", n.grace))
	}
	n.log.Debug("program ran", zap.String("program", n.path), zap.String("delivery_id", m.DeliveryID),
		zap.Int("attempt", m.Attempt), zap.Duration("took", took), zap.Stringer("state", ps))
}

// environ is the program's environment for m: the base set, then the
// message's variables, which own their FORGELINK_* names: one dropped for
// a NUL byte does not fall back to a configured value.
func (n *Notifier) environ(m *notify.Message) []string {
	env := maps.Clone(n.env)
	for k, v := range m.Variables {
		name := varPrefix + upperSnake(k)
		if strings.ContainsRune(v, 0) {
			delete(env, name)
			continue
		}
		env[name] = clip(v, maxEnvValue)
	}
	env[varPrefix+"ATTEMPT"] = strconv.Itoa(m.Attempt)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// baseEnv is the inherited minimum of environ with the configured
// variables over it.
func baseEnv(environ []string, configured map[string]string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && inherited(k) {
			env[k] = v
		}
	}
	for k, v := range configured {
		// The value may be a secret: only the name goes in the error.
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("env %q: want a name without '=' and a value without NUL bytes", k)
		}
		env[k] = v
	}
	return env, nil
}

// inherited lists what a build tool commonly needs from the daemon's
// environment.
func inherited(name string) bool {
	switch name {
	case "PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER":
		return true
	}
	return false
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range slices.Backward(environ) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// resolve finds the program: an absolute path is checked, a bare name is
// looked up in the absolute directories of path (never relative to the
// daemon's working directory).
func resolve(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", fmt.Errorf("command %q: want an absolute path or a name to look up in PATH", name)
		}
		found, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("command: %w", err)
		}
		return found, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		if found, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return found, nil
		}
	}
	return "", fmt.Errorf("command %q: no executable of that name in PATH", name)
}

// upperSnake maps a CamelCase variable name to UPPER_SNAKE_CASE:
// CommitId becomes COMMIT_ID. Anything but ASCII letters and digits
// becomes '_'.
func upperSnake(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if i > 0 && isUpper(c) && (isLower(s[i-1]) || isDigit(s[i-1])) {
			b.WriteByte('_')
		}
		switch {
		case isLower(c):
			c -= 'a' - 'A'
		case !isUpper(c) && !isDigit(c):
			c = '_'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// clip cuts s to at most limit bytes without splitting a character.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
