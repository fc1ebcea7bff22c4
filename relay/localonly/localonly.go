// Package localonly keeps a daemon without credentials to its own host: it
// serves only requests whose Host header names this machine's loopback, so
// that a web page which rebinds its DNS name to 127.0.0.1 (DNS rebinding)
// cannot drive it from a browser.
package localonly

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"go.uber.org/zap"
)

// Message is the refusal's text; it says what to do about it.
const Message = "this forgelink has no root credentials and serves only requests addressed to localhost or a loopback address " +
	"(Host header); set FORGELINK_ROOT_ACCESS_KEY_ID and FORGELINK_ROOT_SECRET_ACCESS_KEY to serve other names"

// Handler passes to next the requests whose Host is local (IsLocal) or
// whose path exempt accepts, and refuses the rest with 403: as the AWS JSON
// error AccessDeniedException on the API path "/", as text elsewhere.
func Handler(next http.Handler, exempt func(path string) bool, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsLocal(r.Host) || exempt(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		log.Info("refused a request for a non-local host name", zap.String("host", r.Host),
			zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
		if r.URL.Path == "/" {
			writeAccessDenied(w)
			return
		}
		http.Error(w, Message, http.StatusForbidden)
	})
}

// writeAccessDenied answers as an AWS JSON 1.0 service does, so that SDKs
// and the CLI show the message.
func writeAccessDenied(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
	w.WriteHeader(http.StatusForbidden)
	json.NewEncoder(w).Encode(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{"AccessDeniedException", Message})
}

// IsLocal reports whether host, a Host header value, is "localhost" or a
// loopback IP literal, with or without a port. Names that merely resolve
// to loopback (127.0.0.1.nip.io, localhost.example.com) are not local: a
// rebinding attacker controls what they resolve to.
func IsLocal(host string) bool {
	name := host
	if h, port, err := net.SplitHostPort(host); err == nil {
		if !isPort(port) {
			return false
		}
		name = h
	} else if inner, ok := strings.CutPrefix(host, "["); ok {
		// A bracketed IPv6 literal without a port.
		if name, ok = strings.CutSuffix(inner, "]"); !ok {
			return false
		}
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(name)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// isPort reports whether s is a port as RFC 3986 allows it: digits, maybe
// none.
func isPort(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
