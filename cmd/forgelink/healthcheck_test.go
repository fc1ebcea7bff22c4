package main

import (
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/notify/notifytest"
)

// testTimeout bounds a health check against a local test server.
const testTimeout = 10 * time.Second

func TestReadyzURL(t *testing.T) {
	for _, tc := range []struct {
		name, listen, cert, want, err string
	}{
		{name: "default", want: "http://127.0.0.1:7788/readyz"},
		{name: "loopback", listen: "127.0.0.1:9000", want: "http://127.0.0.1:9000/readyz"},
		{name: "all IPv4 interfaces", listen: "0.0.0.0:7788", want: "http://127.0.0.1:7788/readyz"},
		{name: "no host", listen: ":7788", want: "http://127.0.0.1:7788/readyz"},
		{name: "all IPv6 interfaces", listen: "[::]:7788", want: "http://[::1]:7788/readyz"},
		{name: "named host", listen: "relay.internal:443", want: "http://relay.internal:443/readyz"},
		{name: "tls", listen: "0.0.0.0:8443", cert: "/etc/forgelink/tls.crt", want: "https://127.0.0.1:8443/readyz"},
		{name: "no port", listen: "0.0.0.0", err: "FORGELINK_LISTEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"FORGELINK_LISTEN": tc.listen, "FORGELINK_TLS_CERT_FILE": tc.cert}
			got, err := readyzURL(func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("readyzURL = %q, %v; want an error naming %s", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("readyzURL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestHealthcheckCommand runs the subcommand as the image's HEALTHCHECK
// does and checks its exit status and its one-line reason.
func TestHealthcheckCommand(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ready\n")
	}))
	defer ready.Close()
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	closed := "http://" + notifytest.ClosedAddr(t) + "/readyz"

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string // each must appear on stderr's one line
	}{
		{"ready", []string{"--url", ready.URL + "/readyz"}, 0, nil},
		{"not found", []string{"--url", ready.URL + "/nope"}, 1, []string{"404 Not Found", "/nope"}},
		{"store unavailable", []string{"--url", unavailable.URL + "/readyz"}, 1, []string{"503 Service Unavailable", "store unavailable"}},
		{"closed port", []string{"--url", closed}, 1, []string{"not ready", "connection refused"}},
		{"stray argument", []string{"now"}, 2, []string{"unexpected arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"healthcheck"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			if tc.code == 0 {
				if stderr.Len() != 0 || !strings.HasPrefix(stdout.String(), "ready: ") {
					t.Errorf("stdout %q, stderr %q; want a ready line and no error", &stdout, &stderr)
				}
				return
			}
			if n := strings.Count(stderr.String(), "\n"); tc.code == 1 && n != 1 {
				t.Errorf("stderr has %d lines, want one: %q", n, &stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q does not say %q", &stderr, want)
				}
			}
		})
	}
}

// TestHealthcheckTLS: a daemon's self-signed certificate (the file
// FORGELINK_TLS_CERT_FILE names) is trusted; without it the check fails.
func TestHealthcheckTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ready\n")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	certFile := filepath.Join(t.TempDir(), "tls.crt")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(certFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		certFile string
		ok       bool
	}{
		{"own certificate trusted", certFile, true},
		{"system roots only", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, err := healthClient(tc.certFile, testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			err = healthcheck(t.Context(), client, srv.URL+"/readyz")
			if (err == nil) != tc.ok {
				t.Fatalf("healthcheck: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := healthClient(filepath.Join(t.TempDir(), "missing.crt"), testTimeout); err == nil {
		t.Error("healthClient with a missing certificate file: no error")
	}
}
