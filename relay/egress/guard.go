package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Dial bounds, as net/http's default transport has them.
const (
	dialTimeout = 30 * time.Second
	keepAlive   = 30 * time.Second
)

// Options configure a Guard.
type Options struct {
	// Trusted are the URLs whose origins are dialled unguarded: the
	// cloud providers' URLs of the operator's configuration, which may
	// point anywhere (test fakes on 127.0.0.1 included).
	Trusted []string
	// AllowPrivate lets other origins resolve to private addresses.
	AllowPrivate bool
	// Proxy picks a request's proxy, as http.Transport's Proxy does
	// (http.ProxyFromEnvironment); nil uses none.
	Proxy func(*http.Request) (*url.URL, error)
	// Resolver resolves the destinations of proxied requests; nil is
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// Guard dials provider endpoints: trusted origins as they are, every
// other address only if Check allows the IP address actually connected to.
type Guard struct {
	opts    Options
	trusted map[string]bool // host:port, lower case, as net/http dials it
	proxies sync.Map        // host:port of proxies Proxy chose: the operator's, trusted
	plain   net.Dialer
	guarded net.Dialer
}

// New returns a guard with opts. Trusted URLs must be absolute http or
// https URLs; the port defaults to the scheme's.
func New(opts Options) (*Guard, error) {
	g := &Guard{opts: opts, trusted: make(map[string]bool, len(opts.Trusted))}
	for _, raw := range opts.Trusted {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("egress: trusted origin %q: %w", raw, err)
		}
		addr, err := origin(u)
		if err != nil {
			return nil, err
		}
		g.trusted[addr] = true
	}
	if g.opts.Resolver == nil {
		g.opts.Resolver = net.DefaultResolver
	}
	g.plain = net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive}
	g.guarded = g.plain
	g.guarded.Control = g.Control
	return g, nil
}

// origin returns the host:port that net/http dials for u.
func origin(u *url.URL) (string, error) {
	port := u.Port()
	switch {
	case u.Hostname() == "":
		return "", fmt.Errorf("egress: %q is not an absolute URL", u.Redacted())
	case port != "":
	case u.Scheme == "https":
		port = "443"
	case u.Scheme == "http":
		port = "80"
	case u.Scheme == "socks5" || u.Scheme == "socks5h":
		port = "1080"
	default:
		return "", fmt.Errorf("egress: %q: unknown scheme", u.Redacted())
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// Control is a net.Dialer's Control: it runs after name resolution, on
// the address about to be connected to, and refuses it unless Check
// allows it. The error wraps ErrForbiddenAddress.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrForbiddenAddress, network, address, err)
	}
	return Check(ap.Addr(), g.opts.AllowPrivate)
}

// DialContext dials addr, unguarded if it is a trusted origin or a proxy
// and through Control otherwise. It is an http.Transport's DialContext.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if g.isTrusted(addr) {
		return g.plain.DialContext(ctx, network, addr)
	}
	return g.guarded.DialContext(ctx, network, addr)
}

func (g *Guard) isTrusted(addr string) bool {
	addr = strings.ToLower(addr)
	_, proxy := g.proxies.Load(addr)
	return g.trusted[addr] || proxy
}

// Transport returns an HTTP transport that dials through g, with net/http's
// default settings otherwise.
func (g *Guard) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = g.proxy
	t.DialContext = g.DialContext
	return t
}

// proxy is the transport's Proxy. A proxy connects to the destination
// itself, past Control: an untrusted destination's name is resolved here
// and refused if any of its addresses is. This is weaker than Control (the
// proxy resolves the name again), so a proxy should refuse internal
// destinations of its own.
func (g *Guard) proxy(req *http.Request) (*url.URL, error) {
	if g.opts.Proxy == nil {
		return nil, nil
	}
	p, err := g.opts.Proxy(req)
	if p == nil || err != nil {
		return p, err
	}
	addr, err := origin(p)
	if err != nil {
		return nil, err
	}
	g.proxies.Store(addr, true)
	if dest, err := origin(req.URL); err == nil && g.trusted[dest] {
		return p, nil
	}
	return p, g.checkName(req.Context(), req.URL.Hostname())
}

// checkName resolves host and checks every address it has.
func (g *Guard) checkName(ctx context.Context, host string) error {
	addrs, err := g.opts.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("egress: resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if err := Check(a, g.opts.AllowPrivate); err != nil {
			return fmt.Errorf("%s: %w", host, err)
		}
	}
	return nil
}
