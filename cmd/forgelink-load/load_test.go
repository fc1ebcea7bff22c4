package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/providers/github"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, unsorted
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := summarize(d)
	if s.Count != 100 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 {
		t.Errorf("summarize(1..100 ms) = %+v", s)
	}
	for _, c := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 0, 7},
		{[]time.Duration{7}, 99, 7},
		{[]time.Duration{1, 2, 3}, 50, 2},
		{[]time.Duration{1, 2, 3}, 99, 3},
		{[]time.Duration{1, 2, 3, 4}, 50, 2}, // nearest rank: no interpolation
	} {
		if got := percentile(c.in, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
}

func TestPushPayload(t *testing.T) {
	body := pushPayload()
	if n := len(body); n < 6500 || n > 8000 {
		t.Errorf("payload is %d bytes, want about 7 KB", n)
	}
	var raw struct {
		Repository struct {
			CreatedAt json.Number `json:"created_at"`
			PushedAt  json.Number `json:"pushed_at"`
		}
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	if raw.Repository.CreatedAt == "" || raw.Repository.PushedAt == "" {
		t.Error("created_at and pushed_at must be Unix seconds, as in push events")
	}
	// The daemon's own parser must take it as a branch push.
	h := http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"d-1"}}
	ev, err := github.Webhooks{}.Parse(h, body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != providers.KindPush || ev.Repository.FullName != "acme/web" || len(ev.Pushes) != 1 {
		t.Fatalf("parsed as %+v", ev)
	}
	p := ev.Pushes[0]
	if p.RefName != "main" || len(p.Commits) != 3 || p.HeadCommit == nil || p.HeadCommit.ID != p.After || len(p.Files.Modified) == 0 {
		t.Errorf("push parsed as %+v", p)
	}
}

func TestSignature(t *testing.T) {
	secret, body := []byte("0123abcd"), pushPayload()
	sig := signature(secret, body)
	if !regexp.MustCompile(`^sha256=[0-9a-f]{64}$`).MatchString(sig) {
		t.Fatalf("signature %q: want sha256=<64 hex>", sig)
	}
	h := http.Header{"X-Hub-Signature-256": {sig}}
	if err := (github.Webhooks{}).Verify(h, body, [][]byte{secret}); err != nil {
		t.Errorf("the daemon's verifier refuses it: %v", err)
	}
	if !validSignature(secret, body, sig) {
		t.Error("the bare server refuses it")
	}
	if validSignature([]byte("other"), body, sig) || validSignature(secret, body[1:], sig) || validSignature(secret, body, sig[7:]) {
		t.Error("the bare server accepts a wrong secret, body or header")
	}
}

func TestDeliveryIDs(t *testing.T) {
	ids := newDeliveryIDs()
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := ids.next()
		if !guid.MatchString(id) || seen[id] {
			t.Fatalf("delivery id %q: not a fresh GUID", id)
		}
		seen[id] = true
	}
}

func TestBareHandler(t *testing.T) {
	secret, body := []byte("s3cret"), pushPayload()
	srv := httptest.NewServer(bareHandler(secret))
	defer srv.Close()
	for _, c := range []struct {
		secret []byte
		want   int
	}{{secret, http.StatusAccepted}, {[]byte("wrong"), http.StatusUnauthorized}} {
		a, _ := newTarget(srv.URL, c.secret, body).send(t.Context(), srv.Client(), "d-1", true)
		if a.status != c.want {
			t.Errorf("status %d, want %d", a.status, c.want)
		}
	}
}

// A command name with spaces and parentheses, as a process may set.
const fakeStat = "4242 (forge (l) ink) S 1 4242 4242 0 -1 4194560 12057 0 0 0 1234 567 0 0 20 0 9 0 1731 1417478144 8642 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0\n"

const fakeStatus = `Name:	forgelink
State:	S (sleeping)
VmPeak:	 1384256 kB
VmHWM:	   91520 kB
VmRSS:	   34568 kB
Threads:	9
`

func TestReadProc(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "stat"), []byte(fakeStat), 0o600)
	os.WriteFile(filepath.Join(dir, "status"), []byte(fakeStatus), 0o600)
	s, err := readProc(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.ticks != 1234+567 || s.rssKiB != 34568 || s.hwmKiB != 91520 {
		t.Errorf("readProc = %+v", s)
	}
	later := procSample{at: s.at.Add(2 * time.Second), ticks: s.ticks + 300}
	if got := cpuPercent(s, later); got != 150 {
		t.Errorf("3 s of CPU in 2 s = %v%%, want 150%%", got)
	}
}

func TestParseProcErrors(t *testing.T) {
	for _, stat := range []string{"", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 u 12 13"} {
		if _, err := parseStat([]byte(stat)); err == nil {
			t.Errorf("parseStat(%q) succeeded", stat)
		}
	}
	for _, status := range []string{"", "VmRSS:\t12 kB\n", "VmRSS:\t12 MB\nVmHWM:\t12 kB\n"} {
		if _, _, err := parseStatus([]byte(status)); err == nil {
			t.Errorf("parseStatus(%q) succeeded", status)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_sched_gomaxprocs_threads The current runtime.GOMAXPROCS setting.
# TYPE go_sched_gomaxprocs_threads gauge
go_sched_gomaxprocs_threads 2
forgelink_webhooks_received_total{connection="c1",outcome="held",provider="GitHub"} 1.2345e+06
forgelink_webhooks_received_total{connection="c2",outcome="held",provider="GitHub"} 5
forgelink_webhooks_received_total{connection="c1",outcome="duplicate",provider="GitHub"} 1
forgelink_webhook_ingest_duration_seconds_bucket{outcome="held",provider="GitHub",le="0.001"} 7
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if m.GOMAXPROCS != 2 || m.Outcomes["held"] != 1234505 || m.Outcomes["duplicate"] != 1 || len(m.Outcomes) != 2 {
		t.Errorf("parseMetrics = %+v", m)
	}
}

func TestLogStats(t *testing.T) {
	log := `{"level":"warn","msg":"no root credentials configured"}
{"level":"info","msg":"forgelink ready","listen":"127.0.0.1:40001"}
{"level":"error","msg":"webhook failed","error":"disk full"}
{"level":"error","msg":"webhook failed","error":"disk full"}
panic: runtime error
`
	var s logStats
	ready := make(chan string, 1)
	s.scan(strings.NewReader(log), ready)
	if addr := <-ready; addr != "127.0.0.1:40001" {
		t.Errorf("ready address %q", addr)
	}
	sum := s.summary()
	if sum.Warn != 1 || sum.Error != 2 || sum.Unparsed != 1 || sum.Messages["error: webhook failed"] != 2 {
		t.Errorf("summary = %+v", sum)
	}
}

func TestRecorder(t *testing.T) {
	t0 := time.Now()
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	r := &recorder{w: window{start: sec(1), end: sec(2)}}
	r.add(sec(0.5), sec(0.6), nil)          // warm-up: counted as a request only
	r.add(sec(0.9), sec(1.1), nil)          // answered in the window, started before it
	r.add(sec(1.5), sec(1.6), nil)          // wholly inside
	r.add(sec(1.95), sec(2.5), nil)         // started inside, answered after
	r.add(sec(1.2), sec(1.3), errTest("x")) // errors: counted, never timed
	if r.requests != 5 || r.errors != 1 || r.accepted != 2 || len(r.lat) != 2 || r.sample != "x" {
		t.Errorf("recorder = %+v", r)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestValidate(t *testing.T) {
	ok := config{forgelink: "/tmp/forgelink", concurrency: 32, duration: 10 * time.Second, warmup: 2 * time.Second, rate: 1000}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*config){
		func(c *config) { c.forgelink = "" },
		func(c *config) { c.concurrency = 0 },
		func(c *config) { c.serverCPU = "0" }, // without --client-cpu
		func(c *config) { c.serverCPU, c.clientCPU = "0", "1;rm" },
	} {
		c := ok
		bad(&c)
		if c.validate() == nil {
			t.Errorf("validate accepts %+v", c)
		}
	}
}

func TestReportCheck(t *testing.T) {
	r := &report{
		Saturate: &phaseResult{Phase: "saturate", Server: "forgelink", Requests: 1000, Errors: 10}, // 1%: passes
		Steady:   &phaseResult{Phase: "steady", Server: "forgelink", Requests: 1000, Errors: 11, ErrorSample: "HTTP 500"},
		Ceiling:  &phaseResult{Phase: "ceiling", Server: "bare"},
	}
	f := r.check()
	if len(f) != 2 || !strings.Contains(f[0], "steady") || !strings.Contains(f[0], "HTTP 500") || !strings.Contains(f[1], "no requests") {
		t.Errorf("check() = %q", f)
	}
	var b strings.Builder
	if err := printReport(&b, r, false); err != nil || !strings.Contains(b.String(), "first error: HTTP 500") {
		t.Errorf("table:\n%s", b.String())
	}
	if got := thousands(1234567.4); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
}
