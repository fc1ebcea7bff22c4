package keyring

import (
	"bytes"
	"testing"
)

func TestDeriveSeparatesPurposesAndKeys(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, KeySize))
	a2, _ := New(bytes.Repeat([]byte{1}, KeySize))
	b, _ := New(bytes.Repeat([]byte{2}, KeySize))
	tests := []struct {
		name      string
		x, y      []byte
		wantEqual bool
	}{
		{"same key, same purpose", a.Derive("p"), a2.Derive("p"), true},
		{"same key, other purpose", a.Derive("p"), a.Derive("q"), false},
		{"other key, same purpose", a.Derive("p"), b.Derive("p"), false},
		{"tag: same input", a.Tag("p", []byte("id")), a2.Tag("p", []byte("id")), true},
		{"tag: other data", a.Tag("p", []byte("id")), a.Tag("p", []byte("id2")), false},
		{"tag: other purpose", a.Tag("p", []byte("id")), a.Tag("q", []byte("id")), false},
		{"tag: other key", a.Tag("p", []byte("id")), b.Tag("p", []byte("id")), false},
		{"derived key is not the master key", a.Derive("p"), bytes.Repeat([]byte{1}, KeySize), false},
	}
	for _, tc := range tests {
		if got := bytes.Equal(tc.x, tc.y); got != tc.wantEqual {
			t.Errorf("%s: equal = %v, want %v", tc.name, got, tc.wantEqual)
		}
		if len(tc.x) != 32 {
			t.Errorf("%s: %d bytes, want 32", tc.name, len(tc.x))
		}
	}
}
