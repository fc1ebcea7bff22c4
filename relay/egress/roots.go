package egress

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// ErrUntrustedCertificate marks a provider endpoint whose TLS certificate
// did not verify against the roots trusted for it.
var ErrUntrustedCertificate = errors.New("provider endpoint's TLS certificate is not trusted")

// ErrBadCertificate marks trusted certificates that are not PEM
// certificates: a host's TlsCertificate that cannot be used.
var ErrBadCertificate = errors.New("not a PEM certificate")

// RootsFunc returns the PEM CA certificates that requests to origin
// (host:port, lower case, as net/http dials it) trust besides the system
// roots: the TlsCertificate of the hosts at that endpoint. None: the
// system roots alone.
type RootsFunc func(ctx context.Context, origin string) ([]byte, error)

// Origin returns the host:port that net/http dials for rawURL, lower
// case: the key of RootsFunc.
func Origin(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("egress: %w", err)
	}
	return origin(u)
}

// CertificateError is a TLS certificate of origin that did not verify.
// It never holds a secret: the origin and x509's reason only.
type CertificateError struct {
	Origin string
	HostCA bool // the host's TlsCertificate was trusted too
	Err    error
}

func (e *CertificateError) Error() string {
	if e.HostCA {
		return fmt.Sprintf("egress: %s: %v: neither the host's TlsCertificate nor the system roots verify the provider's certificate",
			e.Origin, e.Err)
	}
	return fmt.Sprintf("egress: %s: %v: set the host's TlsCertificate (VpcConfiguration) to the CA that signed the provider's certificate",
		e.Origin, e.Err)
}

// Unwrap lets errors.Is find ErrUntrustedCertificate and errors.As the
// x509 error.
func (e *CertificateError) Unwrap() []error { return []error{ErrUntrustedCertificate, e.Err} }

// HostTransport is an http.RoundTripper that verifies each https
// origin's certificate against the system roots plus the CA certificates
// RootsFunc gives for it, with one transport (and connection pool) per
// origin and set of certificates: a changed certificate takes effect at
// the next request, a removed one drops its transport.
type HostTransport struct {
	base  *http.Transport
	roots RootsFunc

	mu       sync.Mutex
	byOrigin map[string]originTransport
}

type originTransport struct {
	sum [sha256.Size]byte // of the PEM it trusts
	t   *http.Transport
}

// NewHostTransport returns a HostTransport whose transports are clones
// of base (dialer, proxy and limits as base has them).
func NewHostTransport(base *http.Transport, roots RootsFunc) *HostTransport {
	return &HostTransport{base: base, roots: roots, byOrigin: map[string]originTransport{}}
}

// HostTransport returns g's Transport with each origin's certificates
// trusted as roots gives them.
func (g *Guard) HostTransport(roots RootsFunc) *HostTransport {
	return NewHostTransport(g.Transport(), roots)
}

// RoundTrip sends req through the transport of its origin.
func (h *HostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return h.base.RoundTrip(req)
	}
	o, err := origin(req.URL)
	if err == nil {
		var t *http.Transport
		if t, err = h.transport(req.Context(), o); err == nil {
			resp, err := t.RoundTrip(req)
			return resp, certificateError(o, t != h.base, err)
		}
	}
	if req.Body != nil {
		req.Body.Close() // as a RoundTripper must, even on error
	}
	return nil, err
}

// CloseIdleConnections closes the idle connections of every origin's
// transport, as http.Client.CloseIdleConnections asks.
func (h *HostTransport) CloseIdleConnections() {
	h.base.CloseIdleConnections()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ot := range h.byOrigin {
		ot.t.CloseIdleConnections()
	}
}

// transport returns the transport for origin's current certificates.
func (h *HostTransport) transport(ctx context.Context, o string) (*http.Transport, error) {
	certs, err := h.roots(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("egress: trusted certificates of %s: %w", o, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old, had := h.byOrigin[o]
	if len(certs) == 0 {
		if had {
			delete(h.byOrigin, o)
			old.t.CloseIdleConnections()
		}
		return h.base, nil
	}
	sum := sha256.Sum256(certs)
	if had && old.sum == sum {
		return old.t, nil
	}
	pool, err := RootPool(certs)
	if err != nil {
		return nil, fmt.Errorf("egress: trusted certificates of %s: %w", o, err)
	}
	t := h.base.Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	h.byOrigin[o] = originTransport{sum: sum, t: t}
	if had {
		old.t.CloseIdleConnections()
	}
	return t, nil
}

// RootPool returns the system roots plus every certificate of certs (see
// ParseCertificates).
func RootPool(certs []byte) (*x509.CertPool, error) {
	parsed, err := ParseCertificates(certs)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil, fmt.Errorf("system roots: %w", err)
	}
	for _, c := range parsed {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParseCertificates parses a host's TlsCertificate: at least one PEM
// certificate and no other kind of PEM block (text around the blocks, as
// CA bundles have, is skipped). Errors wrap ErrBadCertificate and never
// quote the input, which may be a pasted private key.
func ParseCertificates(certs []byte) ([]*x509.Certificate, error) {
	var parsed []*x509.Certificate
	for b, rest := pem.Decode(certs); b != nil; b, rest = pem.Decode(rest) {
		n := len(parsed) + 1
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %d is %q, not CERTIFICATE", ErrBadCertificate, n, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrBadCertificate, n, err)
		}
		parsed = append(parsed, c)
	}
	if len(parsed) == 0 {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadCertificate)
	}
	return parsed, nil
}

// certificateError names the origin and the fix when err is a failed
// certificate verification; other errors pass as they are.
func certificateError(o string, hostCA bool, err error) error {
	var v *tls.CertificateVerificationError
	if errors.As(err, &v) {
		return &CertificateError{Origin: o, HostCA: hostCA, Err: v.Err}
	}
	return err
}
