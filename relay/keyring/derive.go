package keyring

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// derivationSalt separates forgelink's derived keys from any other use of
// the master key with HKDF.
const derivationSalt = "forgelink keyring derivation v1"

func extract(key []byte) []byte {
	prk, err := hkdf.Extract(sha256.New, key, []byte(derivationSalt))
	if err != nil {
		panic("keyring: hkdf extract: " + err.Error()) // only for a bad hash, never for a key
	}
	return prk
}

// Derive returns a 32-byte key for one purpose (HKDF-SHA256 expanded from
// the master key with purpose as info): keys of different purposes are
// independent, and none reveals the master key.
func (k *Keyring) Derive(purpose string) []byte {
	out, err := hkdf.Expand(sha256.New, k.prk, purpose, sha256.Size)
	if err != nil {
		panic("keyring: hkdf expand: " + err.Error()) // 32 bytes is always within HKDF's limit
	}
	return out
}

// Tag returns HMAC-SHA256 of data under the key derived for purpose: a
// value anyone holding the master key can recompute and nobody else can
// forge or guess.
func (k *Keyring) Tag(purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, k.Derive(purpose))
	m.Write(data)
	return m.Sum(nil)
}
