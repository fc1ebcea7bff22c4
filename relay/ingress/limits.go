package ingress

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the limits on what a sender can cost before its signature
// is checked.
const (
	// DefaultMaxInFlightBytes bounds the body bytes held by all requests
	// at once: five of GitHub's largest payloads. Real deliveries are
	// mostly under 100 KiB, so it is reached only under attack or a storm.
	DefaultMaxInFlightBytes = 128 << 20
	// DefaultMaxConcurrentPerSource bounds one remote address's requests
	// in flight. GitHub and GitLab.com deliver from a few addresses, so it
	// is generous; a single attacker's sockets cannot starve others.
	DefaultMaxConcurrentPerSource = 64
	// DefaultBodyReadTimeout bounds a webhook request from its headers to
	// its last body byte. GitHub and GitLab give up after 10 s anyway, so a
	// slower body is an answer nobody waits for.
	DefaultBodyReadTimeout = 10 * time.Second
)

// retryAfter is the Retry-After of a shed request, in seconds: long enough
// for the deliveries in flight to finish.
const retryAfter = "10"

// Reasons a request is shed, as counted by forgelink_webhooks_shed_total.
const (
	shedBudget     = "inflight_bytes"     // the global budget is spent
	shedConnection = "connection_bytes"   // the connection's share is spent
	shedSource     = "source_concurrency" // too many requests from one address
	shedTimeout    = "body_timeout"       // the body did not arrive in time
)

// budget counts body bytes held by requests in flight, globally and per
// key (a connection, or an App): a request reserves its buffer's capacity
// before growing it, so a slow sender holds only about what it has sent.
type budget struct {
	metrics       *Metrics
	total, perKey int64
	mu            sync.Mutex
	used          int64
	byKey         map[string]int64
}

func newBudget(total, perKey int64, m *Metrics) *budget {
	return &budget{metrics: m, total: total, perKey: perKey, byKey: map[string]int64{}}
}

// take reserves n more bytes for key, or returns the reason it cannot.
func (b *budget) take(key string, n int64) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.byKey[key]+n > b.perKey:
		return shedConnection
	case b.used+n > b.total:
		return shedBudget
	}
	b.used += n
	b.byKey[key] += n
	b.metrics.inflightBytes(b.used)
	return ""
}

func (b *budget) give(key string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.byKey[key] -= n; b.byKey[key] <= 0 {
		delete(b.byKey, key)
	}
	b.metrics.inflightBytes(b.used)
}

// reservation is one request's share of the budget.
type reservation struct {
	b   *budget
	key string
	n   int64
}

// resize makes the reservation n bytes, or returns the shed reason.
func (r *reservation) resize(n int64) string {
	if n <= r.n {
		return ""
	}
	if reason := r.b.take(r.key, n-r.n); reason != "" {
		return reason
	}
	r.n = n
	return ""
}

func (r *reservation) release() {
	if r.n > 0 {
		r.b.give(r.key, r.n)
		r.n = 0
	}
}

// sources counts requests in flight per remote address. X-Forwarded-For is
// not trusted: any sender could name any address in it.
type sources struct {
	max           int
	limitLoopback bool
	mu            sync.Mutex
	n             map[string]int
}

func (s *sources) acquire(addr string) bool {
	if !s.limitLoopback && isLoopback(addr) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[addr] >= s.max {
		return false
	}
	s.n[addr]++
	return true
}

func (s *sources) release(addr string) {
	if !s.limitLoopback && isLoopback(addr) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[addr]--; s.n[addr] <= 0 {
		delete(s.n, addr)
	}
}

func isLoopback(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	return err == nil && ip.Unmap().IsLoopback()
}

// sourceOf is the remote IP, without the port: one host's sockets share
// its limit.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func shed(reason string) *refusal {
	return &refusal{status: http.StatusServiceUnavailable, outcome: outcomeShed, shed: reason,
		reason: "too many webhook requests in flight (" + reason + "); retry later"}
}

// admit applies the limits every webhook route shares before anything
// else is done: requests per source, and the deadline of the whole body.
// done must be called when the request is answered.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (done func(), err error) {
	src := sourceOf(r)
	if !h.sources.acquire(src) {
		return func() {}, shed(shedSource)
	}
	h.opts.Metrics.requestStarted()
	// The server's own read timeout is for the control plane's slow
	// clients; a webhook body must arrive within the providers' timeout.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(h.opts.BodyReadTimeout))
	return func() {
		h.opts.Metrics.requestDone()
		h.sources.release(src)
	}, nil
}

// defaultLimits fills in the zero limits of o. A connection's share is
// never below the body limit: the largest allowed body must fit.
func defaultLimits(o *Options) {
	if o.MaxInFlightBytes <= 0 {
		o.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if o.MaxInFlightPerConnection <= 0 {
		o.MaxInFlightPerConnection = o.MaxInFlightBytes / 4
	}
	o.MaxInFlightPerConnection = max(o.MaxInFlightPerConnection, o.MaxBody)
	o.MaxInFlightBytes = max(o.MaxInFlightBytes, o.MaxInFlightPerConnection)
	if o.MaxConcurrentPerSource <= 0 {
		o.MaxConcurrentPerSource = DefaultMaxConcurrentPerSource
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = DefaultBodyReadTimeout
	}
}
