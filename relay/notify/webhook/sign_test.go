package webhook

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzVerify: untrusted headers and bodies never panic Verify, and only
// the exact signed triple verifies.
func FuzzVerify(f *testing.F) {
	secret := newSecret(f)
	key, err := parseSecret(secret)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_790_000_000, 0)
	f.Add("msg_1", "1790000000", "v1,AAAA", []byte(`{"a":1}`))
	f.Add("msg_1", "1790000000", " v1, v1a,x ,,", []byte{})
	f.Add("", "-1", "", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sigs)
		if Verify(secret, h, body, 5*time.Minute, now) == nil && !bytes.Contains([]byte(sigs), []byte(sign(key, id, ts, body))) {
			t.Fatalf("verified a signature that was not made: %q", sigs)
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if id == "" || err != nil || sec != now.Unix() {
			return
		}
		h.Set(HeaderSignature, sign(key, id, ts, body))
		if err := Verify(secret, h, body, 5*time.Minute, now); err != nil {
			t.Fatalf("Verify of a fresh signature: %v", err)
		}
	})
}
