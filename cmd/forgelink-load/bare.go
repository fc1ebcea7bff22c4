package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const (
	// bareServerArg, as the only argument, makes this binary the ceiling's
	// bare server. It is not in the flag set: it is not for people.
	bareServerArg = "-bare-server"
	// bareSecretEnv carries the HMAC secret, which is kept off the command
	// line where any local user could read it.
	bareSecretEnv = "FORGELINK_LOAD_BARE_SECRET"
	bareMaxBody   = 25 << 20 // as the daemon's default
)

// runBareServer serves POST /webhooks/{connection} on a loopback port until
// ctx ends, after printing "<address> <GOMAXPROCS>" on stdout.
func runBareServer(ctx context.Context, stdout io.Writer) error {
	secret := os.Getenv(bareSecretEnv)
	if secret == "" {
		return errors.New(bareSecretEnv + " is not set")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{connection}", bareHandler([]byte(secret)))
	// The daemon's timeouts, so that both servers do the same work per
	// connection.
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "%s %d\n", ln.Addr(), runtime.GOMAXPROCS(0)); err != nil {
		return fmt.Errorf("announce address: %w", err)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// bareHandler does what every webhook receiver must and nothing more:
// read the body and check its HMAC in constant time.
func bareHandler(secret []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if r.ContentLength > 0 && r.ContentLength <= bareMaxBody {
			buf.Grow(int(r.ContentLength) + bytes.MinRead)
		}
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, bareMaxBody)); err != nil {
			http.Error(w, `{"error":"read body"}`, http.StatusBadRequest)
			return
		}
		if !validSignature(secret, buf.Bytes(), r.Header.Get("X-Hub-Signature-256")) {
			http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"accepted"}`+"\n")
	}
}

func validSignature(secret, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(sum, m.Sum(nil))
}

// bareServer is a running bare server.
type bareServer struct {
	*child
	addr       string
	gomaxprocs int
}

// startBare re-executes this binary as the bare server, with the same
// GOMAXPROCS and CPU pinning as the daemon, and a fresh secret.
func startBare(ctx context.Context, cfg config) (*bareServer, []byte, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find own binary: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := []byte(hex.EncodeToString(raw)) // the daemon's kind of secret
	cmd, err := serverCommand(self, []string{bareServerArg}, serverEnv(cfg.gomaxprocs, bareSecretEnv+"="+string(secret)), cfg.serverCPU)
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("stdout pipe: %w", err)
	}
	ready := make(chan string, 1)
	c, err := startChild("bare server", cmd, stdout, func(r io.Reader) {
		if line, err := bufio.NewReader(r).ReadString('\n'); err == nil {
			ready <- strings.TrimSpace(line)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	line, err := awaitReady(ctx, c, ready)
	b := &bareServer{child: c}
	if err == nil {
		b.addr, b.gomaxprocs, err = parseAnnouncement(line)
	}
	if err == nil {
		err = checkLoopback(b.addr)
	}
	if err != nil {
		c.kill()
		return nil, nil, err
	}
	return b, secret, nil
}

func parseAnnouncement(line string) (addr string, gomaxprocs int, err error) {
	addr, n, ok := strings.Cut(line, " ")
	if ok {
		gomaxprocs, err = strconv.Atoi(n)
	}
	if !ok || err != nil {
		return "", 0, fmt.Errorf("bare server announced %q, want \"<address> <GOMAXPROCS>\"", line)
	}
	return addr, gomaxprocs, nil
}
