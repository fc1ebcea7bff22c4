//go:build unix

package main_test

// End-to-end tests of issue 9's findings 4, 5, 7 and the transport parts of
// 8: signed headers, the Host check of a daemon without credentials, the
// master key and file modes, /metrics, TLS.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"

	_ "modernc.org/sqlite"

	"github.com/forgelink/forgelink/relay/tlstest"
)

// rawResponse is the status, wire error code and body of a raw request.
type rawResponse struct {
	status int
	code   string
	body   string
}

// do sends req with client and reads the answer.
func do(t *testing.T, client *http.Client, req *http.Request) rawResponse {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, code: resp.Header.Get("X-Amzn-ErrorType"), body: string(body)}
}

// newRequest builds a request of the test's context; host, when not empty,
// replaces the Host header.
func newRequest(t *testing.T, method, url, host, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	return req
}

// signV4 signs req for the signing name service with the credentials.
func signV4(t *testing.T, req *http.Request, body, service string, creds aws.Credentials) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
}

var rootCreds = aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecret}

// rootSignedGet is a GET of path signed by root for the signing name
// forgelink, as /metrics requires of a daemon with credentials.
func (d *daemon) rootSignedGet(t *testing.T, path string) *http.Request {
	t.Helper()
	req := newRequest(t, http.MethodGet, d.url+path, "", "")
	signV4(t, req, "", "forgelink", rootCreds)
	return req
}

// TestE2ESecurityUnsignedTargetRefused: finding 5. A request signed as GetConnection
// over content-type;host;x-amz-date, resent with an X-Amz-Target of
// DeleteConnection, is refused and deletes nothing.
func TestE2ESecurityUnsignedTargetRefused(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	cc := d.cc()
	arn := createConnection(t, cc, "kept", "GitHub")
	body := `{"ConnectionArn":"` + arn + `"}`

	req := newRequest(t, http.MethodPost, d.url+"/", "", body)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	signV4(t, req, body, "codeconnections", rootCreds)
	if signed := req.Header.Get("Authorization"); strings.Contains(signed, "x-amz-target") {
		t.Fatalf("the attack request signed the target: %s", signed)
	}
	req.Header.Set("X-Amz-Target", "CodeConnections_20231201.DeleteConnection")
	got := do(t, http.DefaultClient, req)
	if got.status != http.StatusForbidden || got.code != "InvalidSignatureException" || !strings.Contains(got.body, "must be a signed header") {
		t.Errorf("DeleteConnection with an unsigned target: HTTP %d %s %s; want 403 InvalidSignatureException", got.status, got.code, got.body)
	}
	if _, err := cc.GetConnection(t.Context(), &codeconnections.GetConnectionInput{ConnectionArn: aws.String(arn)}); err != nil {
		t.Errorf("GetConnection after the refused delete: %v", err)
	}

	// The same request with the target signed, as every SDK sends it.
	req = newRequest(t, http.MethodPost, d.url+"/", "", body)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "CodeConnections_20231201.GetConnection")
	signV4(t, req, body, "codeconnections", rootCreds)
	if got := do(t, http.DefaultClient, req); got.status != http.StatusOK {
		t.Errorf("GetConnection signed with its target: HTTP %d %s %s", got.status, got.code, got.body)
	}
}

// TestE2ESecurityUnauthenticatedHostCheck: finding 4. Without root credentials only
// requests addressed to localhost or a loopback literal are served, so a
// rebinding web page cannot read a webhook secret; webhooks and /healthz
// take any name.
func TestE2ESecurityUnauthenticatedHostCheck(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{authless: true})
	arn := createConnection(t, d.cc(aws.AnonymousCredentials{}), "rebinding", "GitHub")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(d.url, "http://"))
	webhook := func(host string) rawResponse {
		req := newRequest(t, http.MethodPost, d.url+"/", host, `{"ConnectionArn":"`+arn+`"}`)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "Forgelink_20261125.GetConnectionWebhook")
		return do(t, http.DefaultClient, req)
	}
	for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1.nip.io:" + port, "localhost.evil.com:" + port} {
		got := webhook(host)
		if got.status != http.StatusForbidden || got.code != "AccessDeniedException" || strings.Contains(got.body, "Secret") {
			t.Errorf("GetConnectionWebhook with Host %s: HTTP %d %s %s; want 403 AccessDeniedException", host, got.status, got.code, got.body)
		}
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port} {
		if got := webhook(host); got.status != http.StatusOK || !strings.Contains(got.body, "Secret") {
			t.Errorf("GetConnectionWebhook with Host %s: HTTP %d %s %s; want the webhook", host, got.status, got.code, got.body)
		}
	}
	for _, tc := range []struct {
		method, path string
		refused      bool
	}{
		{http.MethodGet, "/console/", true},
		{http.MethodGet, "/metrics", true},
		{http.MethodGet, "/readyz", true},
		{http.MethodGet, "/healthz", false},
		{http.MethodPost, "/webhooks/00000000-0000-0000-0000-000000000000", false},
	} {
		got := do(t, http.DefaultClient, newRequest(t, tc.method, d.url+tc.path, "evil.example", "{}"))
		if refused := got.status == http.StatusForbidden && strings.Contains(got.body, "FORGELINK_ROOT_ACCESS_KEY_ID"); refused != tc.refused {
			t.Errorf("%s %s with Host evil.example: HTTP %d %s; refused %v, want %v", tc.method, tc.path, got.status, got.body, refused, tc.refused)
		}
	}
	warned := false
	for _, line := range d.out.lines() {
		if e, ok := parseLogLine(line); ok && e.Level == "warn" && strings.Contains(e.Msg, "exec target") && strings.Contains(e.Msg, "build hosts") {
			warned = true
		}
	}
	if !warned {
		t.Error("the start-up warning does not say that local processes, builds included, can read tokens and secrets")
	}
}

// TestE2ESecurityMasterKeyAndFiles: finding 7. The data directory is the daemon
// user's, the database too; a wrong master key and a key file others can
// read are refused at start, naming the file.
func TestE2ESecurityMasterKeyAndFiles(t *testing.T) {
	e2e(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, daemonOptions{dataDir: dataDir})
	createConnection(t, d.cc(), "sealed", "GitHub")
	d.stop(t)
	for path, want := range map[string]os.FileMode{dataDir: 0o700, filepath.Join(dataDir, "forgelink.db"): 0o600, filepath.Join(dataDir, "master.key"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %04o", path, fi.Mode(), err, want)
		}
	}

	serve := func(env ...string) result {
		return runCommand(t, environ(append(append(rootEnv(), "FORGELINK_LOG_FORMAT=json"), env...)...),
			forgelinkBin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	}
	otherKey := newKeyFile(t)
	wantWrongKey(t, serve("FORGELINK_MASTER_KEY_FILE="+otherKey), otherKey)
	// A store from before the key check: the webhook secrets decide.
	dropKeyCheck(t, filepath.Join(dataDir, "forgelink.db"))
	wantWrongKey(t, serve("FORGELINK_MASTER_KEY_FILE="+otherKey), otherKey)

	keyFile := filepath.Join(dataDir, "master.key")
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	res := serve()
	if res.code == 0 || !strings.Contains(res.stderr, keyFile) || !strings.Contains(res.stderr, "chmod 600") {
		t.Errorf("serve with a 0644 key file: exit %d, stderr:\n%s\nwant a failure naming %s and chmod 600", res.code, res.stderr, keyFile)
	}
	d = startDaemon(t, daemonOptions{dataDir: dataDir, env: []string{"FORGELINK_ALLOW_INSECURE_KEY_FILE=true"}})
	if !d.logged("master key file is accessible to group or others (allowed by allowInsecureKeyFile); run chmod 600") {
		t.Error("an allowed 0644 key file was not warned about")
	}
	d.stop(t)
}

// dropKeyCheck makes the SQLite store at path look like one written before
// the key check existed.
func dropKeyCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.ExecContext(t.Context(), "DELETE FROM key_check"); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("the store had %d key check values, want 1", n)
	}
}

// TestE2ESecurityWrongKeyOnPostgres: the key check is kept with the data in the
// shared store too; a replica started with another key refuses to start.
func TestE2ESecurityWrongKeyOnPostgres(t *testing.T) {
	e2e(t)
	dsn := postgresSchema(t)
	env := []string{"FORGELINK_STORE_DRIVER=postgres", "FORGELINK_STORE_DSN=" + dsn}
	d := startDaemon(t, daemonOptions{env: append(env, "FORGELINK_MASTER_KEY_FILE="+newKeyFile(t))})
	createConnection(t, d.cc(), "sealed", "GitHub")
	d.stop(t)
	otherKey := newKeyFile(t)
	res := runCommand(t, environ(append(append(rootEnv(), env...), "FORGELINK_MASTER_KEY_FILE="+otherKey)...),
		forgelinkBin, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	wantWrongKey(t, res, otherKey)
}

// newKeyFile writes a new random master key file, 0600.
func newKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	writeFile(t, path, base64.StdEncoding.EncodeToString(randomBytes(32))+"\n")
	return path
}

// wantWrongKey fails the test unless serve refused to start because the
// key file keyFile does not open the store's data.
func wantWrongKey(t *testing.T, res result, keyFile string) {
	t.Helper()
	if want := "master key " + keyFile + " does not open this store's data: wrong key file?"; res.code == 0 || !strings.Contains(res.stderr, want) {
		t.Errorf("serve with another master key: exit %d, stderr:\n%s\nwant a failure saying %q", res.code, res.stderr, want)
	}
}

// TestE2ESecurityMetricsAccess: /metrics names connections, so with credentials it
// needs a SigV4-signed GET by a key allowed forgelink:GetMetrics, unless
// metrics.listen serves it on a listener of its own.
func TestE2ESecurityMetricsAccess(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "reader.secret"), "reader-secret-0123456789")
	writeFile(t, filepath.Join(dir, "scraper.secret"), "scraper-secret-0123456789")
	cfg := filepath.Join(dir, "forgelink.yaml")
	writeFile(t, cfg, `accessKeys:
  - id: AKIDFORGELINKREADER0
    secretFile: reader.secret
    policy:
      statements:
        - effect: Allow
          actions: [codeconnections:GetConnection]
          resources: ["*"]
  - id: AKIDFORGELINKSCRAPER
    secretFile: scraper.secret
    policy:
      statements:
        - effect: Allow
          actions: [forgelink:GetMetrics]
          resources: ["*"]
`)
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_CONFIG=" + cfg}})
	get := func(creds *aws.Credentials) rawResponse {
		req := newRequest(t, http.MethodGet, d.url+"/metrics", "", "")
		if creds != nil {
			signV4(t, req, "", "forgelink", *creds)
		}
		return do(t, http.DefaultClient, req)
	}
	if got := get(nil); got.status == http.StatusOK || got.code != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned GET /metrics: HTTP %d %s; want MissingAuthenticationTokenException", got.status, got.code)
	}
	reader := aws.Credentials{AccessKeyID: "AKIDFORGELINKREADER0", SecretAccessKey: "reader-secret-0123456789"}
	if got := get(&reader); got.status != http.StatusForbidden || got.code != "AccessDeniedException" {
		t.Errorf("GET /metrics by a key without forgelink:GetMetrics: HTTP %d %s; want 403 AccessDeniedException", got.status, got.code)
	}
	wrongService := newRequest(t, http.MethodGet, d.url+"/metrics", "", "")
	signV4(t, wrongService, "", "codeconnections", rootCreds)
	if got := do(t, http.DefaultClient, wrongService); got.code != "InvalidSignatureException" {
		t.Errorf("GET /metrics signed for codeconnections: HTTP %d %s; want InvalidSignatureException", got.status, got.code)
	}
	scraper := aws.Credentials{AccessKeyID: "AKIDFORGELINKSCRAPER", SecretAccessKey: "scraper-secret-0123456789"}
	for name, creds := range map[string]*aws.Credentials{"root": &rootCreds, "a key allowed forgelink:GetMetrics": &scraper} {
		if got := get(creds); got.status != http.StatusOK || !strings.Contains(got.body, "forgelink_") {
			t.Errorf("GET /metrics signed by %s: HTTP %d %s", name, got.status, got.code)
		}
	}

	// metrics.listen: its own listener, open; none on the main one.
	metricsAddr := freeAddr(t)
	d = startDaemon(t, daemonOptions{env: []string{"FORGELINK_METRICS_LISTEN=" + metricsAddr}})
	if got := do(t, http.DefaultClient, newRequest(t, http.MethodGet, "http://"+metricsAddr+"/metrics", "", "")); got.status != http.StatusOK || !strings.Contains(got.body, "forgelink_") {
		t.Errorf("GET /metrics on metrics.listen: HTTP %d %s", got.status, got.body)
	}
	if got := do(t, http.DefaultClient, d.rootSignedGet(t, "/metrics")); got.status != http.StatusNotFound {
		t.Errorf("GET /metrics on the main listener with metrics.listen set: HTTP %d, want 404", got.status)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestE2ESecurityTLS: with tls.certFile/keyFile the listener serves HTTPS, the AWS
// SDK works over it, and SIGHUP swaps in a renewed certificate (a broken
// one is refused and the running one stays).
func TestE2ESecurityTLS(t *testing.T) {
	e2e(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := tlstest.WritePair(t, certFile, keyFile, 1)
	d := startDaemon(t, daemonOptions{env: []string{"FORGELINK_TLS_CERT_FILE=" + certFile, "FORGELINK_TLS_KEY_FILE=" + keyFile}})
	url := "https://" + strings.TrimPrefix(d.url, "http://")
	trusted := []*x509.Certificate{first}
	// servedSerial fetches /healthz over a new connection and returns the
	// serial number of the certificate served.
	servedSerial := func() int64 {
		pool := x509.NewCertPool()
		for _, c := range trusted {
			pool.AddCert(c)
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		resp, err := client.Do(newRequest(t, http.MethodGet, url+"/healthz", "", ""))
		if err != nil {
			t.Fatalf("GET /healthz over TLS: %v", err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := servedSerial(); got != 1 {
		t.Fatalf("served certificate serial %d, want 1", got)
	}
	if resp, err := http.Get(d.url + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on a TLS listener")
		}
	}
	sdk := codeconnections.New(codeconnections.Options{
		BaseEndpoint: aws.String(url), Region: region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(rootKeyID, rootSecret, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tlstest.Pool(first)}}},
	})
	if _, err := sdk.ListConnections(t.Context(), &codeconnections.ListConnectionsInput{}); err != nil {
		t.Errorf("ListConnections over TLS: %v", err)
	}

	trusted = append(trusted, tlstest.WritePair(t, certFile, keyFile, 2))
	d.hup(t)
	waitFor(t, "the renewed certificate served", 10*time.Second, func() (bool, string) {
		serial := servedSerial()
		return serial == 2, fmt.Sprintf("serial %d", serial)
	})

	writeFile(t, certFile, "not a certificate")
	d.hup(t)
	waitFor(t, "the broken certificate refused", 10*time.Second, func() (bool, string) {
		return d.logged("TLS certificate reload refused; the running certificate stays"), "no such log line"
	})
	if got := servedSerial(); got != 2 {
		t.Errorf("after a broken reload the served serial is %d, want 2", got)
	}
}
