// Package webhook is the http pipeline target: it POSTs each delivery to a
// URL as forgelink's JSON, as a CloudEvent or as a templated body, signed
// per the Standard Webhooks spec when the target has a secret.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/notify"
)

const (
	// maxOutput bounds the response body kept in Result.Output.
	maxOutput = 4 << 10
	// maxDrain bounds what is read past Output so the connection can be
	// reused; a receiver sending more than that loses its connection.
	maxDrain = 64 << 10
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = time.Hour
	// defaultConns sizes the connection pool when Options leave it out:
	// the default target concurrency.
	defaultConns = 8
)

// Options carry what a Notifier needs beyond the target's configuration.
type Options struct {
	// Client replaces the notifier's own client (a proxy, tests). The
	// target's TLS settings apply to the notifier's own client only, so
	// setting both is refused.
	Client *http.Client
	// MaxConnsPerHost sizes the own client's keep-alive pool: the target's
	// concurrency (8 if zero).
	MaxConnsPerHost int
	Version         string // forgelink's version, for the User-Agent
	Now             func() time.Time
	Log             *zap.Logger
}

// Notifier delivers messages to one http target. It is safe for
// concurrent use.
type Notifier struct {
	url       string
	origin    string // scheme://host: for errors, free of credentials and tokens
	client    *http.Client
	transport *http.Transport // the own client's; nil with Options.Client
	encode    encoder
	header    http.Header // the configured extra headers and User-Agent
	key       []byte      // the Standard Webhooks key; nil: unsigned
	timeout   time.Duration
	now       func() time.Time
}

// New checks the target and prepares everything an attempt needs: the
// body encoder (a template is compiled here), the signing key (read from
// SecretFile once), the headers and the client.
func New(cfg config.HTTPTarget, opts Options) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may carry a token: it stays out of the error.
		return nil, errors.New("url: want an absolute http or https URL")
	}
	if opts.Client != nil && cfg.TLS != (config.TLS{}) {
		return nil, errors.New("tls settings need the notifier's own client")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	n := &Notifier{
		url:     cfg.URL,
		origin:  u.Scheme + "://" + u.Host,
		client:  opts.Client,
		timeout: cfg.Timeout,
		now:     opts.Now,
	}
	if n.encode, err = newEncoder(cfg); err != nil {
		return nil, err
	}
	if n.header, err = extraHeaders(cfg.Headers, opts.Version); err != nil {
		return nil, err
	}
	if cfg.SecretFile != "" {
		if n.key, err = readSecret(cfg.SecretFile); err != nil {
			return nil, err
		}
	}
	if n.client == nil {
		if n.client, n.transport, err = newClient(cfg.TLS, opts.MaxConnsPerHost); err != nil {
			return nil, err
		}
	}
	if cfg.TLS.InsecureSkipVerify {
		opts.Log.Warn("http target does not verify the server's certificate (tls.insecureSkipVerify)", zap.String("target", n.origin))
	}
	return n, nil
}

// Notify makes one attempt. It returns when the receiver has answered, the
// target's timeout (none if zero) has passed or ctx is done, whichever
// comes first.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) notify.Result {
	if n.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.timeout)
		defer cancel()
	}
	p, err := n.encode(ctx, m)
	if err != nil {
		// The same message would fail the same way on every attempt.
		return notify.Result{Err: fmt.Errorf("encode body: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(p.body))
	if err != nil {
		return notify.Result{Err: n.postError(err)}
	}
	req.Header = n.headers(m.DeliveryID, p)
	resp, err := n.client.Do(req)
	if err != nil {
		return notify.Result{Err: n.postError(err), Retryable: true}
	}
	return n.result(resp.StatusCode, resp.Header, readOutput(resp.Body))
}

// Close closes the own client's idle connections.
func (n *Notifier) Close() error {
	if n.transport != nil {
		n.transport.CloseIdleConnections()
	}
	return nil
}

// headers assembles one attempt's headers: the configured ones, the
// payload's, and the signature over the exact body sent.
func (n *Notifier) headers(id string, p payload) http.Header {
	h := n.header.Clone()
	for k, v := range p.header {
		h[k] = v
	}
	if n.key != nil {
		ts := strconv.FormatInt(n.now().Unix(), 10)
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sign(n.key, id, ts, p.body))
	}
	return h
}

// result maps the receiver's answer: 2xx delivered; 408, 429 and 5xx worth
// another attempt; any other status, a redirect included, final.
func (n *Notifier) result(code int, h http.Header, output string) notify.Result {
	r := notify.Result{StatusCode: code, Output: output}
	if code >= 200 && code < 300 {
		return r
	}
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || (code >= 500 && code < 600) {
		r.Retryable = true
		r.RetryAfter = retryAfter(h.Get("Retry-After"), n.now())
	}
	r.Err = fmt.Errorf("post to %s: status %d %s", n.origin, code, http.StatusText(code))
	return r
}

// postError names the target by its origin: *url.Error would repeat the
// whole URL, query tokens included.
func (n *Notifier) postError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("post to %s: %w", n.origin, err)
}

// readOutput keeps the head of the response body and drains a bounded
// rest so the keep-alive connection can be reused. Read errors only
// shorten the output: the status has already decided the attempt.
func readOutput(body io.ReadCloser) string {
	defer body.Close()
	head, _ := io.ReadAll(io.LimitReader(body, maxOutput))
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	// A one-byte replacement keeps the output within maxOutput.
	return strings.ToValidUTF8(string(head), "?")
}

// retryAfter parses a Retry-After value, delay-seconds or an HTTP-date,
// into a wait between zero and maxRetryAfter; anything else is zero.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	var d time.Duration
	// Out of range, ParseUint returns the largest uint32, which the cap
	// below brings down.
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil || errors.Is(err, strconv.ErrRange) {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// extraHeaders checks the configured headers and adds the User-Agent,
// which a configured one replaces.
// Headers that carry the body's type, its framing, its signature or its
// CloudEvents attributes are forgelink's to set.
func extraHeaders(configured map[string]string, version string) (http.Header, error) {
	ua := "forgelink"
	if version != "" {
		ua += "/" + version
	}
	h := http.Header{"User-Agent": {ua}}
	// Sorted, so that of several bad headers the same one is reported.
	for _, name := range slices.Sorted(maps.Keys(configured)) {
		value, key := configured[name], http.CanonicalHeaderKey(name)
		switch {
		case !validHeaderName(name):
			return nil, fmt.Errorf("header %q: invalid name", name)
		case !validHeaderValue(value):
			// The value may be a credential: it stays out of the error.
			return nil, fmt.Errorf("header %q: invalid value", name)
		case reservedHeader(key):
			return nil, fmt.Errorf("header %q is set by forgelink", name)
		}
		h.Set(key, value)
	}
	return h, nil
}

func reservedHeader(key string) bool {
	switch key {
	case "Content-Type", "Content-Length", "Transfer-Encoding", "Host",
		http.CanonicalHeaderKey(HeaderID), http.CanonicalHeaderKey(HeaderTimestamp), http.CanonicalHeaderKey(HeaderSignature):
		return true
	}
	return strings.HasPrefix(key, "Ce-")
}

// validHeaderName: a token (RFC 9110, section 5.6.2).
func validHeaderName(name string) bool {
	const punct = "!#$%&'*+-.^_`|~"
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return false
		}
	}
	return name != ""
}

// validHeaderValue: no control characters but tab (RFC 9110, section 5.5),
// so a value cannot smuggle another header.
func validHeaderValue(value string) bool {
	for _, c := range []byte(value) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// readSecret reads the Standard Webhooks secret: "whsec_" and base64, or
// the base64 alone.
func readSecret(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	key, err := parseSecret(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	return key, nil
}
