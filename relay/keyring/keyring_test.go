package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("webhook secret")
	sealed := k.Seal(secret, []byte("conn-1"))
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := k.Seal(secret, []byte("conn-1")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	got, err := k.Open(sealed, []byte("conn-1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other record":     func() ([]byte, error) { return k.Open(sealed, []byte("conn-2")) },
		"other master key": func() ([]byte, error) { return other.Open(sealed, []byte("conn-1")) },
		"tampered":         func() ([]byte, error) { return k.Open(flipped, []byte("conn-1")) },
		"truncated":        func() ([]byte, error) { return k.Open(sealed[:10], []byte("conn-1")) },
		"empty":            func() ([]byte, error) { return k.Open(nil, nil) },
	} {
		if _, err := open(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreate: created=%v err=%v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", info.Mode(), err)
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate: created=%v err=%v", created, err)
	}
	sealed := k1.Seal([]byte("x"), nil)
	if _, err := k2.Open(sealed, nil); err != nil {
		t.Fatalf("reloaded key cannot open: %v", err)
	}
}

func TestLoadFileFormats(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, KeySize)
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"raw", key, ""},
		{"base64 with newline", []byte(base64.StdEncoding.EncodeToString(key) + "\n"), ""},
		{"too short", []byte("c2hvcnQ="), "want 32 bytes"},
		{"garbage", []byte("not a key at all!"), "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			os.WriteFile(path, tc.content, 0o600)
			_, err := LoadFile(path)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
