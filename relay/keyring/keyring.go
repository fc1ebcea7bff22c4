// Package keyring seals secrets at rest (webhook secrets, provider tokens)
// with AES-256-GCM under a master key that lives outside the store, so a
// copy of the database alone reveals no secret.
package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
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

// keyCheckConstant is the plaintext, and the associated data, of the key
// check value.
const keyCheckConstant = "forgelink key check"

// ErrWrongKey means the key check value stored with the data does not
// open under this master key: the data were sealed under another one.
var ErrWrongKey = errors.New("the data were sealed under another master key")

// KeyCheck returns a new key check value: a constant sealed under the
// master key. Stored with the data, it tells a later start whether its key
// is the one the data were sealed under.
func (k *Keyring) KeyCheck() []byte {
	return k.Seal([]byte(keyCheckConstant), []byte(keyCheckConstant))
}

// VerifyKeyCheck returns ErrWrongKey unless sealed is a key check value
// made under this master key.
func (k *Keyring) VerifyKeyCheck(sealed []byte) error {
	plain, err := k.Open(sealed, []byte(keyCheckConstant))
	if err != nil || subtle.ConstantTimeCompare(plain, []byte(keyCheckConstant)) != 1 {
		return ErrWrongKey
	}
	return nil
}

// ErrKeyFileMode means a key file can be read or written by users other
// than its owner.
var ErrKeyFileMode = errors.New("is accessible to group or others")

// CheckFileMode refuses a key file whose mode gives group or others any
// access (mode & 077); the error names the file and the fix.
func CheckFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("master key %s (mode %04o) %w: run chmod 600 %s, or allow it with --allow-insecure-key-file (allowInsecureKeyFile: true)",
			path, m, ErrKeyFileMode, path)
	}
	return nil
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
