package webhook

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/config"
)

func TestStatusMapping(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		code       int
		retryAfter string
		wantErr    bool
		retryable  bool
		wantAfter  time.Duration
	}{
		{code: 200},
		{code: 201},
		{code: 204},
		{code: 302, wantErr: true},
		{code: 400, wantErr: true},
		{code: 401, wantErr: true},
		{code: 404, wantErr: true},
		{code: 410, wantErr: true},
		{code: 408, wantErr: true, retryable: true},
		{code: 429, retryAfter: "120", wantErr: true, retryable: true, wantAfter: 2 * time.Minute},
		{code: 429, retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat), wantErr: true, retryable: true, wantAfter: 90 * time.Second},
		{code: 500, wantErr: true, retryable: true},
		{code: 502, retryAfter: "soon", wantErr: true, retryable: true},
		{code: 503, retryAfter: "86400", wantErr: true, retryable: true, wantAfter: time.Hour},
	} {
		t.Run(http.StatusText(tc.code)+" "+tc.retryAfter, func(t *testing.T) {
			srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				if tc.code == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte("answer " + http.StatusText(tc.code)))
			})
			n := newNotifier(t, config.HTTPTarget{URL: srv.URL + "/hook?token=s3cret"}, Options{Now: func() time.Time { return now }})
			r := notifyOnce(t, n, pushMessage())
			if r.StatusCode != tc.code || (r.Err != nil) != tc.wantErr || r.Retryable != tc.retryable || r.RetryAfter != tc.wantAfter {
				t.Fatalf("Notify = %+v, want status %d, error %t, retryable %t, retry after %s", r, tc.code, tc.wantErr, tc.retryable, tc.wantAfter)
			}
			if tc.code != http.StatusNoContent && r.Output != "answer "+http.StatusText(tc.code) {
				t.Errorf("Output = %q", r.Output)
			}
			if r.Err != nil && strings.Contains(r.Err.Error(), "s3cret") {
				t.Errorf("error %q repeats the URL's token", r.Err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"30", 30 * time.Second},
		{" 30 ", 30 * time.Second},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"99999999999999999999999", time.Hour},
		{"-5", 0},
		{"1.5", 0},
		{"later", 0},
		{now.Add(10 * time.Minute).Format(http.TimeFormat), 10 * time.Minute},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(time.Minute).Format(time.RFC850), time.Minute},
	} {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

// hang answers nothing until the client goes away or done is closed.
func hang(arrived chan<- struct{}, done <-chan struct{}) http.HandlerFunc {
	return func(_ http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
}

func TestHangingReceiverTimesOut(t *testing.T) {
	arrived, done := make(chan struct{}, 1), make(chan struct{})
	srv, _ := receiver(t, hang(arrived, done))
	t.Cleanup(func() { close(done) }) // before the server's Close, which waits for handlers
	n := newNotifier(t, config.HTTPTarget{URL: srv.URL, Timeout: 100 * time.Millisecond}, Options{})
	start := time.Now()
	r := n.Notify(t.Context(), pushMessage())
	if !r.Retryable || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("Notify = %+v, want a retryable deadline error", r)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Notify took %s with a 100ms timeout", took)
	}
}

func TestHangingBodyIsBounded(t *testing.T) {
	done := make(chan struct{})
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	t.Cleanup(func() { close(done) })
	n := newNotifier(t, config.HTTPTarget{URL: srv.URL, Timeout: 100 * time.Millisecond}, Options{})
	start := time.Now()
	r := n.Notify(t.Context(), pushMessage())
	if r.Err != nil || r.StatusCode != http.StatusOK || r.Output != "partial" {
		t.Fatalf("Notify = %+v, want delivered with the partial output", r)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Notify took %s with a 100ms timeout", took)
	}
}

func TestCallerCancels(t *testing.T) {
	arrived, done := make(chan struct{}, 1), make(chan struct{})
	srv, _ := receiver(t, hang(arrived, done))
	t.Cleanup(func() { close(done) }) // before the server's Close, which waits for handlers
	n := newNotifier(t, config.HTTPTarget{URL: srv.URL, Timeout: time.Minute}, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	r := n.Notify(ctx, pushMessage())
	if !r.Retryable || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("Notify = %+v, want a retryable cancellation", r)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	n := newNotifier(t, config.HTTPTarget{URL: "http://ci:hunter2@" + addr + "/hook?token=s3cret", Timeout: 5 * time.Second}, Options{})
	r := notifyOnce(t, n, pushMessage())
	if r.Err == nil || !r.Retryable || r.StatusCode != 0 {
		t.Fatalf("Notify = %+v, want a retryable network error", r)
	}
	if msg := r.Err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, "hunter2") || !strings.Contains(msg, addr) {
		t.Errorf("error %q: want the address without credentials or tokens", msg)
	}
}

func TestGarbageAnswers(t *testing.T) {
	t.Run("not http", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = bufio.NewReader(c).ReadString('\n')
			_, _ = c.Write([]byte("\x00\x01 garbage\r\n\r\n"))
		}()
		n := newNotifier(t, config.HTTPTarget{URL: "http://" + l.Addr().String(), Timeout: 5 * time.Second}, Options{})
		if r := notifyOnce(t, n, pushMessage()); r.Err == nil || !r.Retryable {
			t.Fatalf("Notify = %+v, want a retryable failure", r)
		}
	})
	t.Run("large binary body", func(t *testing.T) {
		srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request) {
			junk := make([]byte, 1<<20)
			_, _ = rand.Read(junk)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(junk)
		})
		n := newNotifier(t, config.HTTPTarget{URL: srv.URL, Timeout: 5 * time.Second}, Options{})
		r := notifyOnce(t, n, pushMessage())
		if r.Err == nil || r.Retryable || r.StatusCode != http.StatusBadRequest {
			t.Fatalf("Notify = %+v, want a final 400", r)
		}
		if len(r.Output) > maxOutput || !utf8.ValidString(r.Output) {
			t.Errorf("Output: %d bytes, valid UTF-8 %t", len(r.Output), utf8.ValidString(r.Output))
		}
	})
}

// TestKeepAlive: answers with a body (drained) reuse one connection, and
// Close closes it.
func TestKeepAlive(t *testing.T) {
	var conns atomic.Int32
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 3*maxOutput)))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed:
			select {
			case closed <- struct{}{}:
			default:
			}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	n := newNotifier(t, config.HTTPTarget{URL: srv.URL, Timeout: 5 * time.Second}, Options{})
	for range 20 {
		if r := notifyOnce(t, n, pushMessage()); r.Err != nil || len(r.Output) != maxOutput {
			t.Fatalf("Notify = error %v, %d bytes of output", r.Err, len(r.Output))
		}
	}
	if c := conns.Load(); c != 1 {
		t.Errorf("%d connections for 20 sequential attempts, want 1", c)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
}

func TestTLS(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(status(http.StatusOK))
	t.Cleanup(tlsSrv.Close)
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})))
	for _, tc := range []struct {
		name   string
		tls    config.TLS
		wantOK bool
	}{
		{"ca file", config.TLS{CAFile: ca}, true},
		{"server name in the certificate", config.TLS{CAFile: ca, ServerName: "example.com"}, true},
		{"server name not in the certificate", config.TLS{CAFile: ca, ServerName: "ci.example.org"}, false},
		{"system roots", config.TLS{}, false},
		{"insecure", config.TLS{InsecureSkipVerify: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNotifier(t, config.HTTPTarget{URL: tlsSrv.URL, Timeout: 5 * time.Second, TLS: tc.tls}, Options{})
			r := notifyOnce(t, n, pushMessage())
			if tc.wantOK != (r.Err == nil) {
				t.Fatalf("Notify = %+v, want success %t", r, tc.wantOK)
			}
			if !tc.wantOK && !r.Retryable {
				t.Errorf("a TLS failure is a network error, retryable")
			}
		})
	}
}

func TestInsecureSkipVerifyWarns(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	newNotifier(t, config.HTTPTarget{URL: "https://ci.example.com/?token=s3cret", TLS: config.TLS{InsecureSkipVerify: true}}, Options{Log: zap.New(core)})
	entries := logs.All()
	if len(entries) != 1 || !strings.Contains(entries[0].Message, "insecureSkipVerify") {
		t.Fatalf("logged %v, want one warning", entries)
	}
	if strings.Contains(entries[0].ContextMap()["target"].(string), "s3cret") {
		t.Error("the warning repeats the URL's token")
	}
}

func TestClientCertificate(t *testing.T) {
	caCert, caKey := newCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	srv := httptest.NewUnstartedServer(status(http.StatusOK))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	serverCA := writeFile(t, "server-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	certFile, keyFile := newClientCert(t, caCert, caKey)
	for _, tc := range []struct {
		name   string
		tls    config.TLS
		wantOK bool
	}{
		{"with certificate", config.TLS{CAFile: serverCA, CertFile: certFile, KeyFile: keyFile}, true},
		{"without certificate", config.TLS{CAFile: serverCA}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNotifier(t, config.HTTPTarget{URL: srv.URL, Timeout: 5 * time.Second, TLS: tc.tls}, Options{})
			if r := notifyOnce(t, n, pushMessage()); tc.wantOK != (r.Err == nil) {
				t.Fatalf("Notify = %+v, want success %t", r, tc.wantOK)
			}
		})
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "forgelink test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// newClientCert writes a client certificate signed by ca and its key.
func newClientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "forgelink"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, "client.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, "client-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
	return certFile, keyFile
}

func BenchmarkNotify(b *testing.B) {
	srv := httptest.NewServer(status(http.StatusOK))
	b.Cleanup(srv.Close)
	secret := newSecret(b)
	for _, format := range []string{"forgelink", "cloudevents-binary", "cloudevents-structured"} {
		b.Run(format, func(b *testing.B) {
			cfg := config.HTTPTarget{URL: srv.URL, Format: format, Timeout: 5 * time.Second, SecretFile: writeFile(b, "secret", secret)}
			n, err := New(cfg, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = n.Close() })
			m := pushMessage()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if r := n.Notify(context.Background(), m); r.Err != nil {
						b.Error(r.Err)
						return
					}
				}
			})
		})
	}
}
