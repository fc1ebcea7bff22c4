package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/tlstest"
)

// TestListenWarnsInClearText: listening beyond loopback without TLS is
// warned about; loopback, or TLS, is not.
func TestListenWarnsInClearText(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlstest.WritePair(t, certFile, keyFile, 1)
	tests := []struct {
		listen     string
		tls        bool
		wantWarn   bool
		wantScheme string
	}{
		{"0.0.0.0:0", false, true, "http"},
		{"[::]:0", false, true, "http"},
		{"0.0.0.0:0", true, false, "https"},
		{"127.0.0.1:0", false, false, "http"},
		{"localhost:0", false, false, "http"},
	}
	for _, tt := range tests {
		cfg := config.Default()
		cfg.Listen = tt.listen
		if tt.tls {
			cfg.TLS = config.ListenerTLS{CertFile: certFile, KeyFile: keyFile}
		}
		core, logs := observer.New(zap.WarnLevel)
		ln, err := listen(cfg, zap.New(core))
		if err != nil {
			t.Fatalf("listen %s: %v", tt.listen, err)
		}
		ln.Close()
		warned := false
		for _, e := range logs.All() {
			warned = warned || strings.Contains(e.Message, "clear text")
		}
		if warned != tt.wantWarn || ln.scheme() != tt.wantScheme {
			t.Errorf("listen %s (tls %v): warned %v, scheme %s; want %v, %s", tt.listen, tt.tls, warned, ln.scheme(), tt.wantWarn, tt.wantScheme)
		}
	}
}

// TestLocalOnlyExemptions: an unauthenticated daemon serves a foreign Host
// only on the webhook routes and /healthz, judged on the cleaned path; a
// daemon with credentials does not look at Host at all.
func TestLocalOnlyExemptions(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	authless := config.Default()
	withCreds := config.Default()
	withCreds.RootAccessKeyID, withCreds.RootSecretAccessKey = "AKIDROOTEXAMPLE1", "root-secret-example-1"
	tests := []struct {
		cfg  *config.Config
		host string
		path string
		want int
	}{
		{authless, "evil.example", "/webhooks/abc/token", http.StatusNoContent},
		{authless, "evil.example", "/healthz", http.StatusNoContent},
		{authless, "evil.example", "/", http.StatusForbidden},
		{authless, "evil.example", "/console/", http.StatusForbidden},
		{authless, "evil.example", "/webhooks/../console/", http.StatusForbidden},
		{authless, "evil.example", "/readyz", http.StatusForbidden},
		{authless, "127.0.0.1:7788", "/console/", http.StatusNoContent},
		{withCreds, "evil.example", "/console/", http.StatusNoContent},
	}
	for _, tt := range tests {
		h := localOnly(tt.cfg, ok, zap.NewNop())
		r := httptest.NewRequest(http.MethodGet, "http://placeholder/", nil)
		r.Host, r.URL.Path = tt.host, tt.path
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("authless=%v Host %s %s: %d, want %d", tt.cfg.Authless(), tt.host, tt.path, w.Code, tt.want)
		}
	}
}
