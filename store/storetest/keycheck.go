package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

// testKeyCheck: the first value stored stays; later ones (another
// replica's, or a start with another key) get the stored one back.
func testKeyCheck(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	noSecret := func(connID string, _ []byte) error {
		t.Errorf("fits called with connection %s of an empty store", connID)
		return nil
	}
	first := []byte("sealed under the first key")
	got, err := s.EnsureKeyCheck(ctx, first, noSecret)
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("EnsureKeyCheck on an empty store = %q, %v; want %q", got, err, first)
	}
	got, err = s.EnsureKeyCheck(ctx, []byte("sealed under another key"), noSecret)
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("EnsureKeyCheck again = %q, %v; want the stored %q", got, err, first)
	}

	// Replicas starting together agree on one value.
	s = open(t)
	var wg sync.WaitGroup
	results := make([][]byte, 4)
	for i := range results {
		wg.Go(func() {
			v, err := s.EnsureKeyCheck(ctx, []byte{byte('a' + i)}, noSecret)
			if err != nil {
				t.Errorf("concurrent EnsureKeyCheck: %v", err)
			}
			results[i] = v
		})
	}
	wg.Wait()
	for _, v := range results[1:] {
		if !bytes.Equal(v, results[0]) {
			t.Fatalf("concurrent EnsureKeyCheck returned %q; want one value for all", results)
		}
	}
}

// testKeyCheckUpgrade: a store that holds secrets but no key check value
// (written before it existed) records one only if the caller's key opens
// the newest secret; a refusal writes nothing.
func testKeyCheckUpgrade(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	c := mustCreateSecretConnection(t, s, "upgraded")
	mustRotate(t, s, c.ID, 1, overlapEnd)
	wrongKey := errors.New("does not open")
	var offered []string
	refuse := func(connID string, sealed []byte) error {
		offered = append(offered, connID+"/"+string(sealed))
		return wrongKey
	}
	if got, err := s.EnsureKeyCheck(ctx, []byte("wrong"), refuse); !errors.Is(err, wrongKey) || got != nil {
		t.Fatalf("EnsureKeyCheck refused by fits = %q, %v; want %v", got, err, wrongKey)
	}
	if want := c.ID + "/" + string(sealed(1)); len(offered) != 1 || offered[0] != want {
		t.Errorf("fits was offered %q, want the newest secret %q", offered, want)
	}
	accept := func(string, []byte) error { return nil }
	if got, err := s.EnsureKeyCheck(ctx, []byte("right"), accept); err != nil || string(got) != "right" {
		t.Fatalf("EnsureKeyCheck after a refusal = %q, %v; want the new value (the refusal wrote nothing)", got, err)
	}
}
