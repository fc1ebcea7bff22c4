package ingress

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/forgelink/forgelink/store"
)

// countingStore counts connection lookups, to show what is refused
// before the store is asked.
type countingStore struct {
	Store
	lookups atomic.Int64
}

func (c *countingStore) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	c.lookups.Add(1)
	return c.Store.GetConnection(ctx, id)
}

func TestWebhookPathToken(t *testing.T) {
	counting := &countingStore{}
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) { counting.Store = o.Store; o.Store = counting })
	body := []byte(`{"repo":"acme/app"}`)
	good := WebhookPath(f.kr, f.conn.ID)
	token := WebhookToken(f.kr, f.conn.ID)
	flipped := []byte(token)
	flipped[len(flipped)-1] ^= 1
	unknown := uuid.NewString()
	other := f.createConnection(t, store.StatusAvailable)
	tests := []struct {
		name, path string
		status     int
	}{
		{"no token (the path before tokens)", LegacyWebhookPath(f.conn.ID), http.StatusNotFound},
		{"empty token", "/webhooks/" + f.conn.ID + "/", http.StatusNotFound},
		{"one bit off", "/webhooks/" + f.conn.ID + "/" + string(flipped), http.StatusNotFound},
		{"another connection's token", "/webhooks/" + f.conn.ID + "/" + WebhookToken(f.kr, other.ID), http.StatusNotFound},
		{"token with a suffix", good + "x", http.StatusNotFound},
		{"unknown connection with its own token", WebhookPath(f.kr, unknown), http.StatusNotFound},
		{"the connection's path", good, http.StatusAccepted},
	}
	var notFound []byte
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := counting.lookups.Load()
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+tc.path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Test-Delivery", "d-"+tc.name)
			req.Header.Set("X-Test-Signature", hex.EncodeToString(sign(f.secret, body)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, got, tc.status)
			}
			if tc.status != http.StatusNotFound {
				return
			}
			// No oracle: every refusal reads the same, as an unknown connection's.
			if notFound == nil {
				notFound = got
			} else if !bytes.Equal(got, notFound) {
				t.Errorf("answer %q differs from %q", got, notFound)
			}
			if n := counting.lookups.Load() - before; n != 0 && tc.name != "unknown connection with its own token" {
				t.Errorf("%d store lookups before the token was checked", n)
			}
		})
	}
	if len(f.events(t)) != 1 {
		t.Errorf("want only the delivery to the right path recorded")
	}
	if len(token) != 22 || strings.ContainsAny(token, "+/=") {
		t.Errorf("token %q: want 128 bits in base64url without padding", token)
	}
}

// slowSender announces announced bytes on path and sends only sent of
// them, then waits, as a trickling attacker does. The connection is closed
// at the end of the test.
func slowSender(t *testing.T, f *fixture, path string, announced, sent int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-Test-Delivery: slow\r\n\r\n", path, announced)
	if _, err := c.Write(bytes.Repeat([]byte(" "), sent)); err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) inflightBytes() int64 {
	f.h.budget.mu.Lock()
	defer f.h.budget.mu.Unlock()
	return f.h.budget.used
}

func (f *fixture) sources(src string) int {
	f.h.sources.mu.Lock()
	defer f.h.sources.mu.Unlock()
	return f.h.sources.n[src]
}

// sendRaw posts a small signed test delivery and returns the response.
func (f *fixture) sendRaw(t *testing.T, conn, id string) *http.Response {
	t.Helper()
	body := []byte(`{"repo":"acme/app"}`)
	return f.post(t, conn, id, bytes.NewReader(body), body)
}

// post sends body, signed as signed, as delivery id to conn and returns
// the response, its body read.
func (f *fixture) post(t *testing.T, conn, id string, body io.Reader, signed []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.url(conn), body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Delivery", id)
	req.Header.Set("X-Test-Signature", hex.EncodeToString(sign(f.secret, signed)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestBudgetSheds(t *testing.T) {
	const chunk = 64 << 10
	reg := prometheus.NewRegistry()
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) {
		o.MaxBody, o.MaxInFlightPerConnection, o.MaxInFlightBytes = chunk, chunk, 2*chunk
		o.Metrics = NewMetrics(reg)
	})
	second := f.createConnection(t, store.StatusAvailable)
	third := f.createConnection(t, store.StatusAvailable)
	shedCount := func(reason string) float64 { return value(f.h.opts.Metrics.shedTotal.WithLabelValues(reason)) }

	// 40 KiB sent of 64 KiB: the buffer has grown to 64 KiB, the whole share.
	slowSender(t, f, WebhookPath(f.kr, f.conn.ID), chunk, 40<<10)
	eventually(t, "the first slow sender's reservation", func() bool { return f.inflightBytes() == chunk })
	tests := []struct {
		name   string
		conn   string
		status int
		reason string
	}{
		{"same connection, share spent", f.conn.ID, http.StatusServiceUnavailable, shedConnection},
		{"another connection", second.ID, http.StatusAccepted, ""},
	}
	for i, tc := range tests {
		resp := f.sendRaw(t, tc.conn, fmt.Sprint("b", i))
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.reason != "" && (resp.Header.Get("Retry-After") == "" || shedCount(tc.reason) != 1) {
			t.Errorf("%s: Retry-After %q, %s count %v", tc.name, resp.Header.Get("Retry-After"), tc.reason, shedCount(tc.reason))
		}
	}
	slowSender(t, f, WebhookPath(f.kr, second.ID), chunk, 40<<10)
	eventually(t, "the second slow sender's reservation", func() bool { return f.inflightBytes() == 2*chunk })
	if resp := f.sendRaw(t, third.ID, "b3"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("global budget spent: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := shedCount(shedBudget); n != 1 {
		t.Errorf("%s count %v, want 1", shedBudget, n)
	}
	if g := value(f.h.opts.Metrics.bytesGauge); g != 2*chunk {
		t.Errorf("in-flight bytes gauge %v, want %d", g, 2*chunk)
	}
	if n := len(f.events(t)); n != 1 {
		t.Errorf("%d events stored, want only the one accepted", n)
	}
}

func TestSourceConcurrencySheds(t *testing.T) {
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) { o.MaxConcurrentPerSource = 2 })
	a := slowSender(t, f, WebhookPath(f.kr, f.conn.ID), 1000, 10)
	slowSender(t, f, WebhookPath(f.kr, f.conn.ID), 1000, 10)
	eventually(t, "two requests in flight", func() bool { return f.sources("127.0.0.1") == 2 })
	resp := f.sendRaw(t, f.conn.ID, "s1")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request from one address: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	a.Close() // frees a slot
	eventually(t, "a slot freed", func() bool { return f.sources("127.0.0.1") == 1 })
	if resp := f.sendRaw(t, f.conn.ID, "s2"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after a slot freed: %d, want 202", resp.StatusCode)
	}
}

func TestBodyReadTimeout(t *testing.T) {
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) { o.BodyReadTimeout = 200 * time.Millisecond })
	c := slowSender(t, f, WebhookPath(f.kr, f.conn.ID), 1000, 10)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("answered after %v", waited)
	}
	eventually(t, "the reservation released", func() bool { return f.inflightBytes() == 0 && f.sources("127.0.0.1") == 0 })
}

// stallingBody yields n bytes, then fails as a read past the deadline does.
type stallingBody struct{ n int }

func (b *stallingBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	k := min(len(p), b.n)
	clear(p[:k])
	b.n -= k
	return k, nil
}

func (b *stallingBody) Close() error { return nil }

// TestAnnouncedLengthIsNotAllocated: a request that announces 25 MiB and
// sends 1 KiB costs kilobytes, not the announced length.
func TestAnnouncedLengthIsNotAllocated(t *testing.T) {
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) { o.MaxBody = DefaultMaxBody })
	path := WebhookPath(f.kr, f.conn.ID)
	serve := func() int {
		req := httptest.NewRequest(http.MethodPost, path, &stallingBody{n: 1 << 10})
		req.ContentLength = DefaultMaxBody
		req.Header.Set("Content-Type", "application/json")
		req.SetPathValue("connection", f.conn.ID)
		req.SetPathValue("token", WebhookToken(f.kr, f.conn.ID))
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		return w.Code
	}
	if code := serve(); code != http.StatusRequestTimeout { // warms the cache
		t.Fatalf("status %d, want 408", code)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 10
	for range runs {
		serve()
	}
	runtime.ReadMemStats(&after)
	if perRequest := (after.TotalAlloc - before.TotalAlloc) / runs; perRequest > 256<<10 {
		t.Errorf("%d bytes allocated per request, want well under the announced %d", perRequest, DefaultMaxBody)
	}
}

// TestDefaultBodyLimit pins the default limit at GitHub's cap: a body of
// exactly 25 MiB is accepted, one byte more is 413, announced or chunked.
func TestDefaultBodyLimit(t *testing.T) {
	if DefaultMaxBody != 25<<20 {
		t.Fatalf("DefaultMaxBody = %d, want 25 MiB (GitHub's payload cap)", DefaultMaxBody)
	}
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) { o.MaxBody = 0 })
	prefix, suffix := []byte(`{"repo":"acme/app","pad":"`), []byte(`"}`)
	body := func(size int) []byte {
		b := make([]byte, 0, size)
		b = append(b, prefix...)
		b = append(b, bytes.Repeat([]byte("x"), size-len(prefix)-len(suffix))...)
		return append(b, suffix...)
	}
	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"announced, exactly the limit", DefaultMaxBody, false, http.StatusAccepted},
		{"announced, one byte over", DefaultMaxBody + 1, false, http.StatusRequestEntityTooLarge},
		{"chunked, exactly the limit", DefaultMaxBody, true, http.StatusAccepted},
		{"chunked, one byte over", DefaultMaxBody + 1, true, http.StatusRequestEntityTooLarge},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := body(tc.size)
			var r io.Reader = bytes.NewReader(b)
			if tc.chunked {
				r = io.MultiReader(r) // hides the length: sent chunked
			}
			resp := f.post(t, f.conn.ID, fmt.Sprint("big", i), r, b)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if announced := resp.Request.ContentLength; tc.chunked == (announced > 0) {
				t.Fatalf("request announced %d bytes; chunked %v", announced, tc.chunked)
			}
		})
	}
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// TestLoopbackSourcesNotLimited: by default a loopback sender (a local
// reverse proxy carrying every delivery) is not held to the per-source
// limit; the byte budget still is.
func TestLoopbackSourcesNotLimited(t *testing.T) {
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) {
		o.MaxConcurrentPerSource = 1
		o.LimitLoopbackSources = false
	})
	slowSender(t, f, WebhookPath(f.kr, f.conn.ID), 1000, 10)
	eventually(t, "the slow sender's reservation", func() bool { return f.inflightBytes() > 0 })
	if resp := f.sendRaw(t, f.conn.ID, "lo1"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("second loopback request with a per-source limit of 1: %d, want 202", resp.StatusCode)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.0.0.1": false, "192.0.2.7": false, "2001:db8::1": false, "": false, "[::1]": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
