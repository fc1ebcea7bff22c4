package egress

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
)

func newGuard(t testing.TB, opts Options) *Guard {
	t.Helper()
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGuardDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		name string
		opts Options
		dial string
		ok   bool
	}{
		{"untrusted loopback", Options{}, addr, false},
		{"private allowed is not loopback", Options{AllowPrivate: true}, addr, false},
		{"trusted origin", Options{Trusted: []string{"http://" + addr + "/api/v4"}}, addr, true},
		{"trusted origin, https default port elsewhere", Options{Trusted: []string{"https://127.0.0.1"}}, addr, false},
		// Trust is for the origin as configured; a name that resolves
		// to it is checked after resolution, and refused.
		{"name resolving to loopback", Options{Trusted: []string{"http://" + addr}}, net.JoinHostPort("localhost", port), false},
		{"trusted name", Options{Trusted: []string{"http://LocalHost:" + port}}, net.JoinHostPort("localhost", port), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, tc.opts)
			c, err := g.DialContext(t.Context(), "tcp", tc.dial)
			if tc.ok {
				if err != nil {
					t.Fatalf("DialContext(%s) = %v, want a connection", tc.dial, err)
				}
				c.Close()
				// Take it off the listener's queue for the next case.
				got, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				got.Close()
				return
			}
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("DialContext(%s) = %v, want ErrForbiddenAddress", tc.dial, err)
			}
			// Nothing reached the listener: the next connection it
			// accepts is one made now.
			probe, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer probe.Close()
			got, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if got.RemoteAddr().String() != probe.LocalAddr().String() {
				t.Fatalf("listener accepted %s before the probe %s: the refused dial connected", got.RemoteAddr(), probe.LocalAddr())
			}
		})
	}
}

func TestNewRefusesBadOrigins(t *testing.T) {
	for _, raw := range []string{"", "/api/v4", "ftp://example.com", "http://[::1"} {
		if _, err := New(Options{Trusted: []string{raw}}); err == nil {
			t.Errorf("New with trusted %q: no error", raw)
		}
	}
}

func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	g := newGuard(t, Options{Trusted: []string{srv.URL}})
	c := &http.Client{Transport: g.Transport()}
	resp, err := c.Get(srv.URL + "/x")
	if err != nil {
		t.Fatalf("trusted origin: %v", err)
	}
	resp.Body.Close()
	_, err = c.Get("http://localhost:" + u.Port() + "/x")
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("name resolving to loopback: %v, want ErrForbiddenAddress", err)
	}
}

// TestTransportProxy: a proxy (trusted: the operator's) connects to the
// destination itself, so the destination is checked before it is asked.
func TestTransportProxy(t *testing.T) {
	asked := make(chan string, 10)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.String()
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	g := newGuard(t, Options{Trusted: []string{"http://git.example.com"}, Proxy: http.ProxyURL(pu)})
	c := &http.Client{Transport: g.Transport()}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://git.example.com/trusted", true}, // not resolved: the operator's
		{"http://93.184.216.34/public", true},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://localhost:8080/self", false},
		{"http://[::ffff:10.0.0.1]/private", false},
	} {
		resp, err := c.Get(tc.url)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("GET %s through the proxy: %v, want allowed %v", tc.url, err, tc.ok)
		}
		if err == nil {
			resp.Body.Close()
		}
	}
	close(asked)
	var got []string
	for u := range asked {
		got = append(got, u)
	}
	if want := []string{"http://git.example.com/trusted", "http://93.184.216.34/public"}; !slices.Equal(got, want) {
		t.Errorf("the proxy was asked for %q, want %q", got, want)
	}
}
