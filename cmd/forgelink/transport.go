package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/controlplane"
	"github.com/forgelink/forgelink/relay/localonly"
	"github.com/forgelink/forgelink/relay/policy"
	"github.com/forgelink/forgelink/relay/sigv4"
)

// certificate is the listener's TLS certificate. SIGHUP reads the pair
// again; handshakes in flight keep the one they started with.
type certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

func loadCertificate(t config.ListenerTLS) (*certificate, error) {
	c := &certificate{certFile: t.CertFile, keyFile: t.KeyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload swaps in the pair on disk; a pair that does not load leaves the
// current certificate in place.
func (c *certificate) reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	c.current.Store(&pair)
	return nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// reloadOnHUP reloads the certificate on every SIGHUP until stop.
func (c *certificate) reloadOnHUP(log *zap.Logger) (stop func()) {
	return onHUP(func() {
		if err := c.reload(); err != nil {
			log.Error("TLS certificate reload refused; the running certificate stays", zap.Error(err))
			return
		}
		log.Info("TLS certificate reloaded", zap.String("cert_file", c.certFile))
	})
}

// listener is the main listener: plain HTTP, or HTTPS with a certificate
// reloaded on SIGHUP.
type listener struct {
	net.Listener
	cert *certificate // nil: plain HTTP
}

// scheme is the listener's URL scheme.
func (l *listener) scheme() string {
	if l.cert != nil {
		return "https"
	}
	return "http"
}

// serve runs srv on the listener until it is shut down.
func (l *listener) serve(srv *http.Server) error {
	if l.cert == nil {
		return srv.Serve(l.Listener)
	}
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: l.cert.get}
	return srv.ServeTLS(l.Listener, "", "")
}

// listen opens the main listener, with its certificate when TLS is
// configured, and warns when secrets would cross the network in clear text.
func listen(cfg *config.Config, log *zap.Logger) (*listener, error) {
	l := &listener{}
	if cfg.TLS.Enabled() {
		cert, err := loadCertificate(cfg.TLS)
		if err != nil {
			return nil, err
		}
		l.cert = cert
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l.Listener = ln
	if l.cert == nil && !cfg.ListensOnLoopback() {
		log.Warn("listening beyond loopback without TLS: secrets and tokens cross the network in clear text; "+
			"set tls.certFile/keyFile or put a TLS proxy in front", zap.String("listen", cfg.Listen))
	}
	return l, nil
}

// metricsServer serves /metrics alone on metrics.listen, unauthenticated:
// Prometheus cannot sign requests. It returns nil when metrics.listen is
// not set (/metrics is then on the main listener, behind the access keys).
type metricsServer struct {
	srv *http.Server
	ln  net.Listener
}

func listenMetrics(cfg *config.Config, metrics http.Handler, log *zap.Logger) (*metricsServer, error) {
	if cfg.Metrics.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
		ErrorLog: zap.NewStdLog(log.Named("metrics"))}
	return &metricsServer{srv: srv, ln: ln}, nil
}

// run serves until ctx ends.
func (m *metricsServer) run(ctx context.Context, log *zap.Logger) {
	if m == nil {
		return
	}
	go func() {
		<-ctx.Done()
		m.srv.Close()
	}()
	log.Info("serving /metrics on its own listener", zap.String("metrics_listen", m.ln.Addr().String()))
	if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics listener", zap.Error(err))
	}
}

// actionGetMetrics is the forgelink action that reads /metrics.
const actionGetMetrics = "forgelink:GetMetrics"

// metricsSigningName is the SigV4 signing name of /metrics.
const metricsSigningName = "forgelink"

// guardMetrics puts /metrics on the main listener behind the access keys:
// a GET signed with SigV4 (signing name forgelink) by a key allowed
// forgelink:GetMetrics. Metrics name connections. A daemon without
// credentials (loopback only) serves them to anyone.
func guardMetrics(metrics http.Handler, verifier controlplane.Authenticator, auth *policy.Authorizer, log *zap.Logger) http.Handler {
	if verifier == nil {
		return metrics
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keyID, err := verifier.Verify(r, nil, metricsSigningName)
		var se *sigv4.Error
		switch {
		case errors.As(err, &se):
			log.Info("refused /metrics: bad signature", zap.String("code", se.Code), zap.String("remote", r.RemoteAddr))
			writeAWSError(w, se.Status(), se.Code, se.Message)
			return
		case err != nil:
			log.Error("verify /metrics signature", zap.Error(err))
			writeAWSError(w, http.StatusInternalServerError, "InternalServerException", "internal error; see the forgelink log")
			return
		}
		if auth.Authorize(keyID, policy.Request{Action: actionGetMetrics, Resource: "*"}) != policy.Allowed {
			log.Info("refused /metrics: not allowed", zap.String("access_key_id", keyID))
			writeAWSError(w, http.StatusForbidden, "AccessDeniedException",
				fmt.Sprintf("access key %s is not authorized to perform: %s on resource: *", keyID, actionGetMetrics))
			return
		}
		metrics.ServeHTTP(w, r)
	})
}

// writeAWSError answers as an AWS JSON service does, so that SDKs show it.
func writeAWSError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// localOnly keeps a daemon without root credentials to requests addressed
// to localhost or a loopback literal (DNS rebinding), except webhooks,
// which are HMAC-verified and may come through a tunnel under any name,
// and /healthz.
func localOnly(cfg *config.Config, h http.Handler, log *zap.Logger) http.Handler {
	if !cfg.Authless() {
		return h
	}
	// Cleaned first, so that /webhooks/../console/ is not exempt (the mux
	// would only redirect it, but the exemption should not depend on that).
	exempt := func(p string) bool {
		p = path.Clean(p)
		return strings.HasPrefix(p, "/webhooks/") || p == "/healthz"
	}
	return localonly.Handler(h, exempt, log)
}
