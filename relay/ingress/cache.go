package ingress

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/forgelink/forgelink/store"
)

// cacheTTL bounds how stale a cached connection may be: a status change,
// rotation or deletion made by another replica shows within it. Changes
// made through this daemon invalidate at once (Handler.Invalidate).
const cacheTTL = 2 * time.Second

// maxCached bounds the cache; past it, the cache starts over.
const maxCached = 10000

// target is a connection with its webhook secrets opened, as verification
// needs them on every delivery.
type target struct {
	conn    store.Connection
	secrets []openSecret
	expires time.Time // of the cache entry
}

type openSecret struct {
	secret    []byte
	expiresAt time.Time // zero: the current secret
}

// validAt returns the secrets valid at now.
func (t *target) validAt(now time.Time) [][]byte {
	out := make([][]byte, 0, len(t.secrets))
	for _, s := range t.secrets {
		if s.expiresAt.IsZero() || s.expiresAt.After(now) {
			out = append(out, s.secret)
		}
	}
	return out
}

// targetCache saves two store reads and the AES-GCM opens per delivery.
type targetCache struct {
	mu      sync.Mutex
	entries map[string]*target
}

func (c *targetCache) get(id string, now time.Time) *target {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.entries[id]
	if t == nil || now.After(t.expires) {
		return nil
	}
	return t
}

func (c *targetCache) put(t *target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCached {
		c.entries = make(map[string]*target)
	}
	c.entries[t.conn.ID] = t
}

func (c *targetCache) drop(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// Invalidate forgets what is cached about a connection; the control plane
// calls it when it deletes a connection, rotates its secret or changes its
// status.
func (h *Handler) Invalidate(connID string) { h.cache.drop(connID) }

// load reads a connection and opens its secrets.
func (h *Handler) load(ctx context.Context, conn store.Connection, now time.Time) (*target, error) {
	sealed, err := h.opts.Store.WebhookSecrets(ctx, conn.ID, now)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	t := &target{conn: conn, expires: now.Add(cacheTTL)}
	for _, s := range sealed {
		secret, err := h.opts.Keyring.Open(s.Sealed, []byte(conn.ID))
		if err != nil {
			return nil, fmt.Errorf("open webhook secret: %w", err)
		}
		t.secrets = append(t.secrets, openSecret{secret: secret, expiresAt: s.ExpiresAt})
	}
	return t, nil
}
