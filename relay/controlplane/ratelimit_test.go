package controlplane

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/store"
)

// throttledFixture serves an API whose callers get limit, on a clock that
// moves only when the test says.
func throttledFixture(t *testing.T, auth bool, limits RateLimits) (*fixture, *clocktest.Clock, *Metrics) {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	m := NewMetrics(prometheus.NewRegistry())
	f := newFixture(t, Limits{}, auth, func(o *Options) {
		o.RateLimits, o.Now, o.Metrics = limits, clock.Now, m
	})
	return f, clock, m
}

// TestThrottlingException: a caller past its bucket is answered
// ThrottlingException, typed by the SDK where the operation's model lists
// it (the repository-link operations), a generic API error with the same
// code elsewhere; nothing runs, and the next token lets it through.
func TestThrottlingException(t *testing.T) {
	linkID := "9c1e0f5e-8a52-4d0f-a3a8-0b5d3c7e7c11"
	for _, tc := range []struct {
		name  string
		call  func(ctx context.Context, cc *codeconnections.Client) error
		typed bool
	}{
		{"GetRepositoryLink", func(ctx context.Context, cc *codeconnections.Client) error {
			_, err := cc.GetRepositoryLink(ctx, &codeconnections.GetRepositoryLinkInput{RepositoryLinkId: &linkID})
			return err
		}, true},
		{"ListRepositoryLinks", func(ctx context.Context, cc *codeconnections.Client) error {
			_, err := cc.ListRepositoryLinks(ctx, &codeconnections.ListRepositoryLinksInput{})
			return err
		}, true},
		{"ListConnections", func(ctx context.Context, cc *codeconnections.Client) error {
			_, err := cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{})
			return err
		}, false},
		{"CreateConnection", func(ctx context.Context, cc *codeconnections.Client) error {
			_, err := cc.CreateConnection(ctx, &codeconnections.CreateConnectionInput{ConnectionName: aws.String("c"), ProviderType: cctypes.ProviderTypeGithub})
			return err
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, clock, m := throttledFixture(t, true, RateLimits{Key: RateLimit{PerSecond: 1, Burst: 1}})
			ctx := t.Context()
			if _, err := f.cc.ListHosts(ctx, &codeconnections.ListHostsInput{}); err != nil {
				t.Fatalf("first request: %v", err)
			}
			err := tc.call(ctx, f.cc)
			var te *cctypes.ThrottlingException
			if errors.As(err, &te) != tc.typed || apiCode(err) != codeThrottling {
				t.Fatalf("over the limit: %v (typed %v, want %v)", err, errors.As(err, &te), tc.typed)
			}
			if n, _ := f.store.ListConnections(ctx, store.ConnectionFilter{}, store.Page{}); len(n) != 0 {
				t.Errorf("a throttled request ran: %d connections", len(n))
			}
			if got := throttledCount(t, m, kindAccessKey); got != 1 {
				t.Errorf("forgelink_api_throttled_total{key_kind=access_key} = %v, want 1", got)
			}
			clock.Add(time.Second)
			if err := tc.call(ctx, f.cc); apiCode(err) == codeThrottling {
				t.Errorf("after a second: still throttled")
			}
		})
	}
}

// TestThrottlingWire: what a raw client sees: 400, the error type in the
// header and body, x-amz-retry-after in milliseconds, no Retry-After.
func TestThrottlingWire(t *testing.T) {
	f, _, m := throttledFixture(t, false, RateLimits{Key: RateLimit{PerSecond: 2, Burst: 1}})
	target := "CodeConnections_20231201.ListConnections"
	if status, out := f.post(t, target, "{}"); status != http.StatusOK {
		t.Fatalf("first request: %d %v", status, out)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != codeThrottling {
		t.Errorf("throttled: %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if ms, err := strconv.Atoi(resp.Header.Get("X-Amz-Retry-After")); err != nil || ms < 500 || ms > 501 {
		t.Errorf("x-amz-retry-after %q, want 500 ms (half a second to the next token)", resp.Header.Get("X-Amz-Retry-After"))
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		t.Errorf("Retry-After %q: AWS does not send it", v)
	}
	if status, out := f.post(t, target, "{}"); status != http.StatusBadRequest || out["__type"] != codeThrottling || out["message"] != "Rate exceeded" {
		t.Errorf("body: %d %v", status, out)
	}
	if got := throttledCount(t, m, kindLocal); got != 2 {
		t.Errorf("forgelink_api_throttled_total{key_kind=local} = %v, want 2", got)
	}
}

// TestThrottledBurstSucceedsThroughSDKRetries: a burst well beyond the
// bucket, sent through the SDK's standard retryer (3 attempts), all
// succeeds: the retryer backs off on ThrottlingException, at least as long
// as x-amz-retry-after says, so its retry finds a token.
func TestThrottledBurstSucceedsThroughSDKRetries(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	f := newFixture(t, Limits{}, true, func(o *Options) {
		o.RateLimits, o.Metrics = RateLimits{Key: RateLimit{PerSecond: 20, Burst: 2}}, m
	})
	cc := codeconnections.New(codeconnections.Options{
		BaseEndpoint: aws.String(f.srv.URL), Region: testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	})
	for i := range 8 {
		if _, err := cc.ListConnections(t.Context(), &codeconnections.ListConnectionsInput{}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := throttledCount(t, m, kindAccessKey); got == 0 {
		t.Errorf("no request was throttled: the test proves nothing")
	}
}

// TestRefusedCallersThrottledByAddress: requests refused before their
// caller is known use up their remote address's bucket; then the address
// is throttled before its signature is looked at. Other addresses, and
// loopback, are not; IPv6 addresses share their /64.
func TestRefusedCallersThrottledByAddress(t *testing.T) {
	f, _, m := throttledFixture(t, true, RateLimits{Refused: RateLimit{PerSecond: 0.01, Burst: 3}})
	api := f.srv.Config.Handler
	send := func(addr string) string {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		req.RemoteAddr = addr
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "CodeConnections_20231201.ListConnections")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		return w.Header().Get("X-Amzn-ErrorType")
	}
	for _, tc := range []struct{ addr, want string }{
		{"203.0.113.7:1000", "MissingAuthenticationTokenException"},
		{"203.0.113.7:1001", "MissingAuthenticationTokenException"},
		{"203.0.113.7:1002", "MissingAuthenticationTokenException"},
		{"203.0.113.7:1003", codeThrottling},
		{"198.51.100.1:1000", "MissingAuthenticationTokenException"},
		{"[2001:db8::1]:1000", "MissingAuthenticationTokenException"},
		{"[2001:db8::2]:1000", "MissingAuthenticationTokenException"},
		{"[2001:db8::3]:1000", "MissingAuthenticationTokenException"},
		{"[2001:db8::4]:1000", codeThrottling},
		{"[2001:db8:0:1::1]:1000", "MissingAuthenticationTokenException"},
	} {
		if got := send(tc.addr); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.addr, got, tc.want)
		}
	}
	for i := range 10 {
		if got := send("127.0.0.1:1000"); got == codeThrottling {
			t.Fatalf("loopback throttled at request %d", i)
		}
	}
	if got := throttledCount(t, m, kindRefused); got != 2 {
		t.Errorf("forgelink_api_throttled_total{key_kind=refused} = %v, want 2", got)
	}
}

// TestBucketsBounded: a sender cycling keys cannot grow the buckets past
// their bound; the least recently used goes first.
func TestBucketsBounded(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBuckets(RateLimit{PerSecond: 1, Burst: 1}, 2)
	for _, k := range []string{"a", "b", "a", "c"} { // b is the least recent when c comes
		b.take(k, now)
	}
	if len(b.byKey) != 2 || b.lru.Len() != 2 {
		t.Fatalf("%d buckets, want 2", len(b.byKey))
	}
	if _, ok := b.byKey["b"]; ok {
		t.Errorf("b kept, a least recently used")
	}
	if b.exhausted("a", now) == 0 || b.exhausted("c", now) == 0 {
		t.Errorf("a and c should be empty")
	}
	if ok, _ := b.take("b", now); !ok {
		t.Errorf("b, evicted, comes back full")
	}
	if newBuckets(RateLimit{}, 0) != nil {
		t.Errorf("a zero rate is no limit")
	}
}

func TestSourceOf(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"203.0.113.7:443", "203.0.113.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.7]:443", "203.0.113.7"},
		{"127.0.0.1:443", ""},
		{"[::1]:443", ""},
		{"[::ffff:127.0.0.1]:443", ""},
		{"not an address", ""},
	} {
		r := &http.Request{RemoteAddr: tc.remote}
		if got := sourceOf(r); got != tc.want {
			t.Errorf("sourceOf(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

func throttledCount(t *testing.T, m *Metrics, kind string) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.throttled.WithLabelValues(kind).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue()
}

// TestAuthenticatedRequestsSpareTheAddress: signed requests take nothing
// from their address's refused bucket; a wrong secret from the same
// address does, and once it is used up the address is throttled for all.
func TestAuthenticatedRequestsSpareTheAddress(t *testing.T) {
	f, clock, _ := throttledFixture(t, true, RateLimits{Refused: RateLimit{PerSecond: 1, Burst: 3}})
	api := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "203.0.113.9:4000" // as if from afar
		api.ServeHTTP(w, r)
	})
	ctx := t.Context()
	for i := range 10 {
		if _, err := f.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{}); err != nil {
			t.Fatalf("signed request %d: %v", i, err)
		}
	}
	wrong := codeconnections.New(codeconnections.Options{
		BaseEndpoint: aws.String(f.srv.URL), Region: testRegion, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, "wrong-secret", ""),
	})
	for i, want := range []string{"InvalidSignatureException", "InvalidSignatureException", "InvalidSignatureException", codeThrottling} {
		if _, err := wrong.ListConnections(ctx, &codeconnections.ListConnectionsInput{}); apiCode(err) != want {
			t.Errorf("wrong secret, request %d: %v, want %s", i, err, want)
		}
	}
	if _, err := f.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{}); apiCode(err) != codeThrottling {
		t.Errorf("signed request from the throttled address: %v", err)
	}
	clock.Add(time.Second)
	if _, err := f.cc.ListConnections(ctx, &codeconnections.ListConnectionsInput{}); err != nil {
		t.Errorf("a second later: %v", err)
	}
}

// BenchmarkBucketsTake: the cost a request pays for its limit, over as
// many keys as the LRU holds.
func BenchmarkBucketsTake(b *testing.B) {
	bk := newBuckets(RateLimit{PerSecond: 1e9, Burst: 100}, defaultMaxTracked)
	keys := make([]string, defaultMaxTracked)
	for i := range keys {
		keys[i] = "AKID" + strconv.Itoa(i)
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bk.take(keys[i%len(keys)], now)
		i++
	}
}
