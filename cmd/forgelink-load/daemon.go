package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// startTimeout bounds the wait for a server's ready line.
const startTimeout = 20 * time.Second

// daemon is a running forgelink serve.
type daemon struct {
	*child
	addr    string // host:port from the ready line
	dataDir string
	logs    *logStats
	drop    func() // removes what the run left in PostgreSQL
}

// stop stops the daemon, then drops its PostgreSQL schema.
func (d *daemon) stop() error {
	defer d.drop()
	return d.child.stop()
}

// kill kills the daemon, then drops its PostgreSQL schema.
func (d *daemon) kill() {
	defer d.drop()
	d.child.kill()
}

// startDaemon starts forgelink serve on a loopback port in dir, with the
// configuration file configFile if set, and waits for its "forgelink
// ready" log line, which names the port.
func startDaemon(ctx context.Context, cfg config, dir, configFile string) (*daemon, error) {
	dataDir := filepath.Join(dir, "data")
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}
	if configFile != "" {
		args = append(args, "--config", configFile)
	}
	// Level info: the ready line is an info line. The daemon logs nothing
	// per accepted delivery, so this costs nothing under load.
	extra := []string{"FORGELINK_LOG_FORMAT=json", "FORGELINK_LOG_LEVEL=info"}
	cleanup := func() {}
	if cfg.postgres != "" {
		pgEnv, drop, err := postgresEnv(ctx, cfg.postgres, dir)
		if err != nil {
			return nil, err
		}
		extra, cleanup = append(extra, pgEnv...), drop
	}
	env := serverEnv(cfg.gomaxprocs, extra...)
	cmd, err := serverCommand(cfg.forgelink, args, env, cfg.serverCPU)
	if err != nil {
		cleanup()
		return nil, err
	}
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	logs := &logStats{}
	ready := make(chan string, 1)
	c, err := startChild("forgelink", cmd, stderr, func(r io.Reader) { logs.scan(r, ready) })
	if err != nil {
		cleanup()
		return nil, err
	}
	addr, err := awaitReady(ctx, c, ready)
	if err == nil {
		err = checkLoopback(addr)
	}
	if err != nil {
		c.kill()
		cleanup()
		if tail := logs.tail(); tail != "" {
			err = fmt.Errorf("%w; its last log lines:\n%s", err, tail)
		}
		return nil, err
	}
	return &daemon{child: c, addr: addr, dataDir: dataDir, logs: logs, drop: cleanup}, nil
}

// awaitReady waits for the server to say where it listens.
func awaitReady(ctx context.Context, c *child, ready <-chan string) (string, error) {
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case addr := <-ready:
		return addr, nil
	case <-c.done:
		return "", fmt.Errorf("%s exited before it was ready: %w", c.name, exitErr(c.err))
	case <-timer.C:
		return "", fmt.Errorf("%s not ready within %v", c.name, startTimeout)
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for %s: %w", c.name, ctx.Err())
	}
}

// checkLoopback refuses any address beyond this host: the load goes to
// loopback only.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %w", hostport, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not a loopback address", hostport)
	}
	return nil
}

// logStats counts the daemon's log lines by level and remembers the
// messages of warnings and errors.
type logStats struct {
	mu       sync.Mutex
	levels   map[string]int
	messages map[string]int // "level: msg" of warn and above, at most maxMessages
	unparsed int            // lines that are not JSON: panics, runtime errors
	last     []string       // the last lines, for a failed start
}

const (
	maxMessages = 20
	keptLines   = 20
)

// logLine is the part of a zap JSON line that matters here.
type logLine struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Listen string `json:"listen"`
}

// scan reads log lines until EOF, sending the ready line's address to
// ready once.
func (s *logStats) scan(r io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Level == "" {
			s.add(sc.Text(), nil)
			continue
		}
		s.add(sc.Text(), &l)
		if l.Msg == "forgelink ready" && l.Listen != "" {
			select {
			case ready <- l.Listen:
			default: // already sent
			}
		}
	}
	// A line over the buffer stops the scanner; startChild drains the rest.
}

func (s *logStats) add(raw string, l *logLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last = append(s.last, raw); len(s.last) > keptLines {
		s.last = s.last[1:]
	}
	if l == nil {
		s.unparsed++
		return
	}
	if s.levels == nil {
		s.levels, s.messages = map[string]int{}, map[string]int{}
	}
	s.levels[l.Level]++
	if l.Level == "debug" || l.Level == "info" {
		return
	}
	key := l.Level + ": " + l.Msg
	if _, seen := s.messages[key]; seen || len(s.messages) < maxMessages {
		s.messages[key]++
	}
}

func (s *logStats) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.last, "\n")
}

// logSummary is what the report shows of the daemon's log.
type logSummary struct {
	Warn     int            `json:"warn"`
	Error    int            `json:"error"` // error, dpanic, panic, fatal
	Unparsed int            `json:"unparsed"`
	Messages map[string]int `json:"messages,omitempty"`
}

func (s *logStats) summary() logSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := logSummary{Warn: s.levels["warn"], Unparsed: s.unparsed, Messages: map[string]int{}}
	for _, lvl := range []string{"error", "dpanic", "panic", "fatal"} {
		sum.Error += s.levels[lvl]
	}
	for k, v := range s.messages {
		sum.Messages[k] = v
	}
	return sum
}
