package storetest

import (
	"bytes"
	"sync"
	"testing"
)

// testKeyCheck: the first value stored stays; later ones (another
// replica's, or a start with another key) get the stored one back.
func testKeyCheck(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	first := []byte("sealed under the first key")
	got, err := s.EnsureKeyCheck(ctx, first)
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("EnsureKeyCheck on an empty store = %q, %v; want %q", got, err, first)
	}
	got, err = s.EnsureKeyCheck(ctx, []byte("sealed under another key"))
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("EnsureKeyCheck again = %q, %v; want the stored %q", got, err, first)
	}

	// Replicas starting together agree on one value.
	s = open(t)
	var wg sync.WaitGroup
	results := make([][]byte, 4)
	for i := range results {
		wg.Go(func() {
			v, err := s.EnsureKeyCheck(ctx, []byte{byte('a' + i)})
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
