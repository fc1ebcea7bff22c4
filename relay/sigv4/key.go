package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
)

// maxCachedKeys bounds the signing-key cache. A key is valid for one
// (secret, day, region, service), so a few per active access key suffice.
const maxCachedKeys = 256

type signingKey [sha256.Size]byte

// keyCache memoizes derived signing keys: derivation costs four HMACs, while
// a key stays the same for a whole day. The zero value is ready to use.
type keyCache struct {
	mu   sync.Mutex
	keys map[keyID]signingKey
}

// keyID identifies a signing key by a digest of the secret, so the cache
// holds no secrets and a rotated secret never hits a stale entry.
type keyID struct {
	secret [sha256.Size]byte
	scope  scope
}

func (c *keyCache) get(secret string, sc scope) signingKey {
	id := keyID{secret: sha256.Sum256([]byte(secret)), scope: sc}
	c.mu.Lock()
	key, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return key
	}
	key = deriveKey(secret, sc)
	c.put(id, key)
	return key
}

func (c *keyCache) put(id keyID, key signingKey) {
	// Clone so the cache does not pin the request's Authorization header.
	id.scope = scope{
		date:    strings.Clone(id.scope.date),
		region:  strings.Clone(id.scope.region),
		service: strings.Clone(id.scope.service),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[keyID]signingKey)
	}
	if len(c.keys) >= maxCachedKeys {
		// Evict an arbitrary entry; map iteration order is unspecified,
		// which makes this a cheap random eviction.
		for old := range c.keys {
			delete(c.keys, old)
			break
		}
	}
	c.keys[id] = key
}

func deriveKey(secret string, sc scope) signingKey {
	k := hmacSHA256([]byte("AWS4"+secret), sc.date)
	k = hmacSHA256(k, sc.region)
	k = hmacSHA256(k, sc.service)
	return signingKey(hmacSHA256(k, terminator))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
