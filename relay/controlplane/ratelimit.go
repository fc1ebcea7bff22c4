package controlplane

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is the shape of a token bucket: PerSecond requests refill it,
// Burst is its size. A zero PerSecond means no limit.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// RateLimits are the control plane's request rate limits.
type RateLimits struct {
	// Key limits each caller: an access key (or the one local caller of a
	// daemon without credentials).
	Key RateLimit
	// Refused limits, per remote address (IPv6 by /64), the requests that
	// fail before a caller is known (bad signature, unknown key, malformed
	// request); an address that has used it up is throttled before its
	// signatures are checked. Loopback is exempt: behind a local proxy
	// every client comes from there.
	Refused RateLimit
	// MaxTracked bounds the buckets kept per limit; the least recently
	// used goes first, so a sender cycling addresses cannot grow memory.
	MaxTracked int
}

// Label values of forgelink_api_throttled_total's key_kind: never the key
// id or the address, so the label set stays fixed.
const (
	kindAccessKey = "access_key"
	kindLocal     = "local"
	kindRefused   = "refused"
)

// defaultMaxTracked bounds a limiter's buckets when RateLimits does not.
const defaultMaxTracked = 10000

// buckets holds one token bucket per key, at most max of them (LRU).
type buckets struct {
	shape RateLimit
	max   int
	mu    sync.Mutex
	lru   *list.List // of *bucket, most recently used first
	byKey map[string]*list.Element
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newBuckets(shape RateLimit, max int) *buckets {
	if shape.PerSecond <= 0 {
		return nil
	}
	if max <= 0 {
		max = defaultMaxTracked
	}
	return &buckets{shape: shape, max: max, lru: list.New(), byKey: map[string]*list.Element{}}
}

// get returns key's limiter, creating it full; the caller holds mu.
func (b *buckets) get(key string) *rate.Limiter {
	if e, ok := b.byKey[key]; ok {
		b.lru.MoveToFront(e)
		return e.Value.(*bucket).lim
	}
	if b.lru.Len() >= b.max {
		oldest := b.lru.Back()
		b.lru.Remove(oldest)
		delete(b.byKey, oldest.Value.(*bucket).key)
	}
	lim := rate.NewLimiter(rate.Limit(b.shape.PerSecond), max(b.shape.Burst, 1))
	b.byKey[key] = b.lru.PushFront(&bucket{key: key, lim: lim})
	return lim
}

// take takes a token from key's bucket; when there is none it returns
// how long until there will be one. A nil buckets allows everything.
func (b *buckets) take(key string, now time.Time) (ok bool, wait time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	lim := b.get(key)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / b.shape.PerSecond * float64(time.Second))
}

// exhausted returns how long until key's bucket has a token again (0:
// it has one now), without taking one.
func (b *buckets) exhausted(key string, now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byKey[key]
	if !ok {
		return 0
	}
	tokens := e.Value.(*bucket).lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / b.shape.PerSecond * float64(time.Second))
}

// limiter applies RateLimits to requests.
type limiter struct {
	keys    *buckets
	refused *buckets
}

func newLimiter(l RateLimits) limiter {
	return limiter{keys: newBuckets(l.Key, l.MaxTracked), refused: newBuckets(l.Refused, l.MaxTracked)}
}

// sourceOf is the refused bucket's key for r: its remote address, an IPv6
// one by /64 (what one host usually holds); "" for loopback, which is
// exempt, and for an address that cannot be read.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Unmap().IsLoopback() {
		return ""
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// throttled is AWS's answer (400, "Rate exceeded") plus
// x-amz-retry-after: the AWS SDK for Go's retryer (aws/retry, 2026
// retries) waits at least that long before its next attempt, so it
// arrives when a token is there. No Retry-After: AWS JSON services do not
// send it and the SDKs do not read it.
func throttled(wait time.Duration) *apiError {
	e := newError(codeThrottling, "Rate exceeded")
	e.retryAfter = wait
	return e
}

// admitSource throttles a remote address that used up its bucket of
// refused requests, before its signature costs anything.
func (a *API) admitSource(r *http.Request) error {
	src := sourceOf(r)
	if src == "" {
		return nil
	}
	wait := a.rate.refused.exhausted(src, a.opts.Now())
	if wait == 0 {
		return nil
	}
	a.opts.Metrics.throttle(kindRefused)
	return throttled(wait)
}

// chargeSource counts a request refused before its caller was known
// against its remote address. A daemon without credentials serves
// loopback only, which is exempt.
func (a *API) chargeSource(r *http.Request) {
	if src := sourceOf(r); src != "" && a.opts.Auth != nil {
		a.rate.refused.take(src, a.opts.Now())
	}
}

// admitCaller takes a token from the authenticated caller's bucket.
func (a *API) admitCaller(ctx context.Context) error {
	ok, wait := a.rate.keys.take(callerOf(ctx), a.opts.Now())
	if ok {
		return nil
	}
	kind := kindAccessKey
	if a.opts.Auth == nil {
		kind = kindLocal
	}
	a.opts.Metrics.throttle(kind)
	return throttled(wait)
}
