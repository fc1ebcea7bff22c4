package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyCheck(t *testing.T) {
	k, _ := New(bytes.Repeat([]byte{7}, KeySize))
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	check := k.KeyCheck()
	tests := []struct {
		name   string
		k      *Keyring
		sealed []byte
		want   error
	}{
		{"same key", k, check, nil},
		{"fresh value, same key", k, k.KeyCheck(), nil},
		{"other key", other, check, ErrWrongKey},
		{"another constant sealed", k, k.Seal([]byte("not the check"), []byte(keyCheckConstant)), ErrWrongKey},
		{"other associated data", k, k.Seal([]byte(keyCheckConstant), []byte("conn-1")), ErrWrongKey},
		{"empty", k, nil, ErrWrongKey},
		{"truncated", k, check[:len(check)-1], ErrWrongKey},
	}
	for _, tt := range tests {
		if err := tt.k.VerifyKeyCheck(tt.sealed); !errors.Is(err, tt.want) {
			t.Errorf("%s: VerifyKeyCheck = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestCheckFileMode(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o604, false}, {0o644, false}, {0o620, false}, {0o601, false}} {
		path := filepath.Join(dir, tt.mode.String())
		if err := os.WriteFile(path, []byte("key"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckFileMode(path)
		if tt.ok {
			if err != nil {
				t.Errorf("mode %04o: %v, want nil", tt.mode, err)
			}
			continue
		}
		if !errors.Is(err, ErrKeyFileMode) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v, want ErrKeyFileMode naming %s and chmod 600", tt.mode, err, path)
		}
	}
	if err := CheckFileMode(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}
