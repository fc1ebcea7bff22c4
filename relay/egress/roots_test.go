package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/forgelink/forgelink/relay/tlstest"
)

// rootsOf is a RootsFunc over a settable answer, recording the origins
// asked about.
type rootsOf struct {
	mu      sync.Mutex
	pem     []byte
	origins []string
}

func (r *rootsOf) set(pem []byte) { r.mu.Lock(); r.pem = pem; r.mu.Unlock() }

func (r *rootsOf) roots(_ context.Context, origin string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.origins = append(r.origins, origin)
	return r.pem, nil
}

// privateServer is an HTTPS server whose certificate a private CA
// signed, and a HostTransport over a guard that trusts its origin.
func privateServer(t *testing.T, r *rootsOf) (*tlstest.CA, string, *http.Client) {
	t.Helper()
	ca := tlstest.NewCA(t)
	srv := ca.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	g := newGuard(t, Options{Trusted: []string{srv.URL}})
	return ca, srv.URL, &http.Client{Transport: g.HostTransport(r.roots)}
}

func get(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestHostTransport(t *testing.T) {
	other := tlstest.NewCA(t)
	key := []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n")
	tests := []struct {
		name    string
		roots   func(ca *tlstest.CA) []byte
		wantErr error
		hostCA  bool // the error says the host's certificate was tried
	}{
		{"host CA", func(ca *tlstest.CA) []byte { return ca.PEM }, nil, false},
		{"host CA in a bundle with text", func(ca *tlstest.CA) []byte {
			return append(append([]byte("# corporate roots\n"), other.PEM...), ca.PEM...)
		}, nil, false},
		{"no host CA", func(*tlstest.CA) []byte { return nil }, ErrUntrustedCertificate, false},
		{"another CA", func(*tlstest.CA) []byte { return other.PEM }, ErrUntrustedCertificate, true},
		{"not PEM", func(*tlstest.CA) []byte { return []byte("MIIB not a certificate") }, ErrBadCertificate, false},
		{"a key, not a certificate", func(*tlstest.CA) []byte { return key }, ErrBadCertificate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &rootsOf{}
			ca, u, c := privateServer(t, r)
			r.set(tt.roots(ca))
			err := get(c, u)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("GET: %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(errString(err), "c2VjcmV0") {
				t.Errorf("error quotes the PEM: %v", err)
			}
			var cerr *CertificateError
			if errors.Is(err, ErrUntrustedCertificate) {
				var unknown x509.UnknownAuthorityError
				if !errors.As(err, &unknown) || !errors.As(err, &cerr) || cerr.HostCA != tt.hostCA ||
					!strings.Contains(err.Error(), "TlsCertificate") {
					t.Errorf("error %v: want an x509.UnknownAuthorityError naming the host's TlsCertificate, host CA %v", err, tt.hostCA)
				}
			}
			if want := strings.TrimPrefix(u, "https://"); len(r.origins) != 1 || r.origins[0] != want {
				t.Errorf("roots asked for %v, want [%s]", r.origins, want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestHostTransportFollowsChanges: a certificate set, changed or removed
// takes effect at the next request, with no new transport to build.
func TestHostTransportFollowsChanges(t *testing.T) {
	r := &rootsOf{}
	ca, u, c := privateServer(t, r)
	steps := []struct {
		pem []byte
		ok  bool
	}{{nil, false}, {ca.PEM, true}, {ca.PEM, true}, {tlstest.NewCA(t).PEM, false}, {ca.PEM, true}, {nil, false}}
	for i, s := range steps {
		r.set(s.pem)
		if err := get(c, u); (err == nil) != s.ok {
			t.Errorf("step %d: GET: %v, want success %v", i, err, s.ok)
		}
	}
}

// TestHostTransportKeepsGuard: trusting a host's CA does not let its
// endpoint reach an address the guard refuses.
func TestHostTransportKeepsGuard(t *testing.T) {
	ca := tlstest.NewCA(t)
	srv := ca.Serve(t, http.NotFoundHandler())
	c := &http.Client{Transport: newGuard(t, Options{}).HostTransport((&rootsOf{pem: ca.PEM}).roots)}
	if err := get(c, srv.URL); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("GET of a loopback endpoint: %v, want ErrForbiddenAddress", err)
	}
}

// TestHostTransportPlainHTTP: an http URL has no certificate to verify and
// asks for none.
func TestHostTransportPlainHTTP(t *testing.T) {
	r := &rootsOf{}
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	c := &http.Client{Transport: newGuard(t, Options{}).HostTransport(r.roots)}
	if err := get(c, u.String()); !errors.Is(err, ErrForbiddenAddress) || len(r.origins) != 0 {
		t.Errorf("GET %s: %v, roots asked for %v; want ErrForbiddenAddress, none asked", u, err, r.origins)
	}
}

func FuzzRootPool(f *testing.F) {
	f.Add(tlstest.NewCA(f).PEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("# text\n"))
	f.Fuzz(func(t *testing.T, certs []byte) {
		pool, err := RootPool(certs)
		if (pool == nil) == (err == nil) {
			t.Fatalf("RootPool: pool %v, err %v: want exactly one", pool != nil, err)
		}
		if err != nil && !errors.Is(err, ErrBadCertificate) {
			t.Fatalf("RootPool error %v does not wrap ErrBadCertificate", err)
		}
	})
}

// BenchmarkHostTransport measures a kept-alive GET through the host
// transport, with and without a host CA, against the guard's transport
// alone: the cost of asking for the origin's certificates and hashing
// them on every request.
func BenchmarkHostTransport(b *testing.B) {
	ca := tlstest.NewCA(b)
	srv := ca.Serve(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	g := newGuard(b, Options{Trusted: []string{srv.URL}})
	base := g.Transport()
	base.TLSClientConfig = &tls.Config{RootCAs: tlstest.Pool(mustParse(b, ca.PEM))}
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"guard transport", base},
		{"host transport", g.HostTransport((&rootsOf{pem: ca.PEM}).roots)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &http.Client{Transport: bc.rt}
			for b.Loop() {
				if err := get(c, srv.URL); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustParse(tb testing.TB, pemBytes []byte) *x509.Certificate {
	tb.Helper()
	blk, _ := pem.Decode(pemBytes)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
