package config

import (
	"crypto/tls"
	"net"
)

// ListenerTLS makes the listener serve HTTPS. The pair is read again on SIGHUP, so
// a renewed certificate needs no restart.
type ListenerTLS struct {
	CertFile string `yaml:"certFile"` // PEM certificate chain, leaf first
	KeyFile  string `yaml:"keyFile"`  // PEM private key
}

// Enabled reports whether a certificate is configured.
func (t ListenerTLS) Enabled() bool { return t.CertFile != "" }

// Metrics configures /metrics.
type Metrics struct {
	// Listen serves /metrics on its own listener, unauthenticated (for
	// Prometheus, which cannot sign requests), and removes it from the main
	// one. Empty: /metrics is on the main listener, behind the access keys.
	Listen string `yaml:"listen"`
}

func (c *Config) validateTransport(bad func(field, format string, args ...any)) {
	switch {
	case (c.TLS.CertFile == "") != (c.TLS.KeyFile == ""):
		bad("tls", "set both tls.certFile and tls.keyFile, or neither")
	case c.TLS.Enabled():
		if _, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile); err != nil {
			bad("tls.certFile", "%v", err)
		}
	}
	if c.Metrics.Listen == "" {
		return
	}
	if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
		bad("metrics.listen", "want host:port, got %q", c.Metrics.Listen)
	} else if c.Metrics.Listen == c.Listen {
		bad("metrics.listen", "must differ from listen (%q)", c.Listen)
	}
}

// ListensOnLoopback reports whether the main listener is reachable from
// this host only.
func (c *Config) ListensOnLoopback() bool { return isLoopback(c.Listen) }
