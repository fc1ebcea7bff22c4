package ingress

import (
	"net/http"
	"sync"
	"time"
)

// ReplayGuarded is a Provider whose signatures carry a timestamp (GitLab's
// signing token). ReplayKey names one signed attempt of a delivery, ""
// when it is not signed so; a verified attempt seen again within keepFor
// is a replay and is refused (401) without being recorded. A provider's
// own resend is signed anew, with a new timestamp, and is de-duplicated by
// its delivery id in the store instead.
type ReplayGuarded interface {
	ReplayKey(h http.Header) (key string, keepFor time.Duration)
}

// replaySweepEvery is how often remembered attempts past their time are
// dropped; the set holds at most keepFor's worth of signed deliveries.
const replaySweepEvery = time.Minute

// replays remembers the signed attempts verified recently, per
// connection. It is per process: a replay sent to another replica passes
// it and is still recorded only once (the store's (connection, delivery
// id) uniqueness).
type replays struct {
	mu        sync.Mutex
	seen      map[string]time.Time // connection + key → forget after
	lastSweep time.Time
}

// first records an attempt and reports whether it is the first one seen.
func (r *replays) first(conn, key string, keepFor time.Duration, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]time.Time{}
	}
	if now.Sub(r.lastSweep) >= replaySweepEvery {
		for k, until := range r.seen {
			if !now.Before(until) {
				delete(r.seen, k)
			}
		}
		r.lastSweep = now
	}
	k := conn + "\x00" + key
	if until, ok := r.seen[k]; ok && now.Before(until) {
		return false
	}
	r.seen[k] = now.Add(keepFor)
	return true
}

// checkReplay refuses a verified delivery whose signed attempt was seen
// before.
func (h *Handler) checkReplay(d delivery, header http.Header) error {
	g, ok := d.provider.(ReplayGuarded)
	if !ok {
		return nil
	}
	key, keepFor := g.ReplayKey(header)
	if key == "" || h.replays.first(d.conn.ID, key, keepFor, h.opts.Now()) {
		return nil
	}
	return refuse(http.StatusUnauthorized, outcomeBadSignature, "replayed delivery: this signed attempt was already received")
}
