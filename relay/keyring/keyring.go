// Package keyring seals secrets at rest (webhook secrets, provider tokens)
// with AES-256-GCM under a master key that lives outside the store, so a
// copy of the database alone reveals no secret.
package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// KeySize is the master key length: AES-256.
const KeySize = 32

// version prefixes every sealed value so that the format (or a future
// master-key rotation) can change without guessing.
const version byte = 1

// ErrOpen means a sealed value cannot be opened: wrong master key,
// corruption, or a value moved to another record.
var ErrOpen = errors.New("cannot open sealed value")

// Keyring seals and opens values under one master key.
type Keyring struct {
	aead cipher.AEAD
	prk  []byte // HKDF pseudorandom key for Derive and Tag (derive.go)
}

// New returns a keyring for a 32-byte master key.
func New(key []byte) (*Keyring, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key: want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Keyring{aead: aead, prk: extract(key)}, nil
}

// Seal encrypts plaintext. The associated data (a record id, say) binds the
// sealed value to its record: opened under other data, it fails.
func (k *Keyring) Seal(plaintext, associated []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), 1+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	rand.Read(nonce)
	out := append([]byte{version}, nonce...)
	return k.aead.Seal(out, nonce, plaintext, associated)
}

// Open decrypts a value made by Seal with the same associated data.
func (k *Keyring) Open(sealed, associated []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < 1+n+k.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], associated)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// LoadFile reads a master key file: 32 bytes, raw or base64 (standard
// encoding, surrounding whitespace ignored).
func LoadFile(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	key := data
	if len(data) != KeySize {
		key, err = base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
		if err != nil {
			return nil, fmt.Errorf("master key %s: neither %d raw bytes nor base64", path, KeySize)
		}
	}
	k, err := New(key)
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreate reads the master key at path, creating it with a fresh random
// key (mode 0600, base64) when it does not exist. created reports the latter,
// so the caller can warn that the key must be backed up with the data.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	k, err = LoadFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create master key: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("create master key: %w", err)
	}
	k, err = New(key)
	return k, true, err
}
