package ingress

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"testing/iotest"
)

// FuzzReadLimited: whatever the pieces a body arrives in, readLimited
// returns it whole within the limit, refuses it with 413 past the limit,
// and never holds more than twice what arrived (or the first chunk).
func FuzzReadLimited(f *testing.F) {
	f.Add([]byte(`{"repo":"acme/app"}`), uint16(100), false)
	f.Add(bytes.Repeat([]byte("x"), firstChunk+1), uint16(firstChunk), true)
	f.Add([]byte{}, uint16(0), true)
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, oneByte bool) {
		src := bytes.NewReader(data)
		r := iotest.HalfReader(src)
		if oneByte {
			r = iotest.OneByteReader(src)
		}
		res := &reservation{b: newBudget(1<<30, 1<<30, nil), key: "k"}
		body, err := readLimited(r, int64(limit), res)
		if len(data) > int(limit) {
			var rf *refusal
			if !errors.As(err, &rf) || rf.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes over a %d limit: %v, want 413", len(data), limit, err)
			}
			return
		}
		if err != nil || !bytes.Equal(body, data) {
			t.Fatalf("read %q, %v; want %q", body, err, data)
		}
		if held := res.n; held > int64(limit) || held > max(int64(firstChunk), 2*int64(len(data))) {
			t.Fatalf("holds %d bytes for %d read (limit %d)", held, len(data), limit)
		}
		res.release()
		if res.b.used != 0 {
			t.Fatalf("%d bytes still reserved after release", res.b.used)
		}
	})
}
