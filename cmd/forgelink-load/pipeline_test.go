package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flconfig "github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers/github"
	fldispatch "github.com/forgelink/forgelink/relay/dispatch"
	"github.com/forgelink/forgelink/relay/route"
)

const testARN = "arn:aws:codeconnections:us-east-1:000000000000:connection/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

// loadConfig writes content as a configuration file and loads and
// validates it as the daemon does.
func loadConfig(t *testing.T, content string) *flconfig.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "forgelink.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := flconfig.Load(path, nil)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("the daemon refuses the configuration: %v\n%s", err, content)
	}
	return cfg
}

func TestDaemonConfig(t *testing.T) {
	ts := loadTargetSettings(16)
	before := loadConfig(t, daemonConfig("http://127.0.0.1:9/github/", "http://127.0.0.1:9/deliver", "", ts))
	if len(before.Pipelines) != 0 || len(before.Targets) != 1 || before.Providers.GitHubAPI() != "http://127.0.0.1:9/github/" {
		t.Errorf("before the connection exists: %d pipelines, %d targets, GitHub API %s", len(before.Pipelines), len(before.Targets), before.Providers.GitHubAPI())
	}
	cfg := loadConfig(t, daemonConfig("http://127.0.0.1:9/github/", "http://127.0.0.1:9/deliver", testARN, ts))
	tg := cfg.Targets[0]
	want := flconfig.Target{Name: targetName, Type: flconfig.TargetHTTP, Concurrency: 16,
		Retry:          flconfig.Retry{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxAttempts: 1000, MaxAge: time.Hour},
		CircuitBreaker: flconfig.CircuitBreaker{FailureThreshold: 10, Cooldown: time.Second}}
	if tg.Name != want.Name || tg.Type != want.Type || tg.Concurrency != want.Concurrency || tg.Retry != want.Retry || tg.CircuitBreaker != want.CircuitBreaker ||
		tg.HTTP == nil || tg.HTTP.URL != "http://127.0.0.1:9/deliver" || tg.HTTP.Format != "forgelink" || tg.HTTP.Timeout != 5*time.Second {
		t.Errorf("target = %+v (http %+v)", tg, tg.HTTP)
	}
	if len(cfg.Pipelines) != 1 {
		t.Fatalf("%d pipelines, want 1", len(cfg.Pipelines))
	}
	// Concurrency 0 leaves the daemon's default, which the figures are about.
	def := loadConfig(t, daemonConfig("http://127.0.0.1:9/github/", "http://127.0.0.1:9/deliver", testARN, loadTargetSettings(0)))
	if n := def.Targets[0].Concurrency; n != 8 {
		t.Errorf("target concurrency with --target-concurrency 0 = %d, want the daemon's default 8", n)
	}
	p := cfg.Pipelines[0]
	if p.Name != pipelineName || p.ConnectionArn != testARN || p.Repository != loadRepo || p.ExecutionMode != flconfig.ModeParallel || p.Target != targetName {
		t.Errorf("pipeline = %+v", p)
	}

	// The load's push triggers it, and what the target receives is what
	// the receiver reads.
	ev, err := github.Webhooks{}.Parse(http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"d-1"}}, pushPayload())
	if err != nil {
		t.Fatal(err)
	}
	router, err := route.New(cfg.Pipelines)
	if err != nil {
		t.Fatal(err)
	}
	connID := testARN[strings.LastIndexByte(testARN, '/')+1:]
	matches := router.Route(connID, &ev)
	if len(matches) != 1 {
		t.Fatalf("the push matches %d pipelines, want 1", len(matches))
	}
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
	eventID := "0190a1b2-c3d4-7e5f-8a9b-000000000001"
	ds := fldispatch.Plan(fldispatch.Recorded{EventID: eventID, ConnectionID: connID, ConnectionARN: testARN, ReceivedAt: at, Event: &ev}, matches)
	m, err := scanMessage(ds[0].Message)
	if err != nil || m.DeliveryID != ds[0].ID || m.EventID != eventID || !m.CreatedAt.Equal(at) {
		t.Errorf("scanMessage = %+v, %v; want delivery %s, event %s, created %v", m, err, ds[0].ID, eventID, at)
	}
}

func TestScanMessage(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 5, time.UTC)
	// A commit message quoting the keys: inside a JSON string their quotes
	// are escaped, so they cannot be mistaken for the message's own.
	msg := map[string]any{
		"deliveryId": "d-1",
		"attempt":    1,
		"push":       map[string]any{"headCommit": map[string]any{"message": `"eventId":"evil" "createdAt":"1999-01-01T00:00:00Z"`}},
		"eventId":    "e-1",
		"createdAt":  at,
	}
	body, _ := json.Marshal(msg)
	m, err := scanMessage(body)
	if err != nil || m.DeliveryID != "d-1" || m.EventID != "e-1" || !m.CreatedAt.Equal(at) {
		t.Errorf("scanMessage = %+v, %v", m, err)
	}
	// A value with an escape goes through encoding/json.
	msg["deliveryId"] = `d-"2"`
	body, _ = json.Marshal(msg)
	if m, err := scanMessage(body); err != nil || m.DeliveryID != `d-"2"` {
		t.Errorf("escaped value: scanMessage = %+v, %v", m, err)
	}
	for _, bad := range []string{`{}`, `not json`, `{"deliveryId":"d","eventId":"e"}`} {
		if _, err := scanMessage([]byte(bad)); err == nil {
			t.Errorf("scanMessage(%s) succeeded", bad)
		}
	}
}

func TestReceiver(t *testing.T) {
	r := newReceiver()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+deliverPath, r.deliver)
	mux.HandleFunc("GET "+githubPrefix+"user", r.fakeGitHub)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	created := time.Now().Add(-3 * time.Millisecond).UTC()
	post := func(delivery, event string) int {
		body, _ := json.Marshal(map[string]any{"deliveryId": delivery, "eventId": event, "createdAt": created})
		resp, err := http.Post(srv.URL+deliverPath, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	r.setFailing(true)
	if code := post("d-1", "e-1"); code != http.StatusServiceUnavailable {
		t.Errorf("failing receiver answered %d, want 503", code)
	}
	if got := r.missing([]string{"e-1"}); len(got) != 1 {
		t.Errorf("a refused delivery counts as received")
	}
	r.setFailing(false)
	for _, id := range []string{"d-1", "d-1", "d-2"} {
		if code := post(id, "e"+id[1:]); code != http.StatusOK {
			t.Errorf("receiver answered %d, want 200", code)
		}
	}
	if got := r.missing([]string{"e-1", "e-2", "e-3"}); len(got) != 1 || got[0] != "e-3" {
		t.Errorf("missing = %v, want [e-3]", got)
	}
	arr := r.arrivals([]string{"e-1", "e-3"})
	if arr[0] == nil || arr[0].count != 2 || !arr[0].createdAt.Equal(created) || arr[0].at.Before(created) || arr[1] != nil {
		t.Errorf("arrivals = %+v, %+v", arr[0], arr[1])
	}
	c := r.counters()
	if c.Received != 3 || c.Events != 2 || c.Duplicates != 1 || c.Refused != 1 || c.Malformed != 0 {
		t.Errorf("counters = %+v", c)
	}

	resp, err := http.Get(srv.URL + githubPrefix + "user")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /user without a token: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+githubPrefix+"user", nil)
	req.Header.Set("Authorization", "Bearer "+loadToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var user struct{ Login string }
	if json.Unmarshal(body, &user); resp.StatusCode != http.StatusOK || user.Login != "load" {
		t.Errorf("GET /user: %d %s", resp.StatusCode, body)
	}
}

func TestGitHubTokenCheck(t *testing.T) {
	// The daemon checks the token with go-github against the fake API.
	r := newReceiver()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+githubPrefix+"user", r.fakeGitHub)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	account, err := github.CheckToken(t.Context(), srv.Client(), srv.URL+githubPrefix, loadToken)
	if err != nil || account != "load" {
		t.Errorf("CheckToken = %q, %v; want load", account, err)
	}
}

func TestAcceptedEventID(t *testing.T) {
	if id, err := acceptedEventID([]byte(`{"eventId":"e-1","status":"accepted"}` + "\n")); err != nil || id != "e-1" {
		t.Errorf("accepted: %q, %v", id, err)
	}
	for _, body := range []string{`{"eventId":"e-1","status":"held"}`, `{"status":"accepted"}`, `x`} {
		if _, err := acceptedEventID([]byte(body)); err == nil {
			t.Errorf("acceptedEventID(%s) succeeded", body)
		}
	}
}

func TestDeadTargetFigures(t *testing.T) {
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	p := &deadTargetPhase{Accepted: 5}
	p.drain([]*arrival{
		{at: at(0.5), count: 1}, {at: at(1.2), count: 2}, {at: at(1.5), count: 1}, {at: at(2.5), count: 1}, nil,
	}, t0)
	if p.Received != 4 || p.Duplicates != 1 || p.FirstDeliverySeconds != 0.5 || p.DrainSeconds != 2.5 ||
		p.PeakPerSecond != 2 || len(p.DrainPerSecondSeries) != 3 || p.DrainPerSecond != 4/2.5 {
		t.Errorf("drain figures = %+v", p)
	}
	p.lost([]string{"e-5"}, time.Minute)
	if p.Lost != 1 || !strings.Contains(p.LostNote, "e-5") {
		t.Errorf("lost = %d %q", p.Lost, p.LostNote)
	}

	var samples []rssSample
	for i := range 10 { // 1 MiB/s while accumulating, then flat
		samples = append(samples, rssSample{Seconds: float64(i), RSSMiB: 40 + float64(min(i, 6)), Drain: i >= 6,
			at: at(float64(i)), ticks: uint64(50 * i)})
	}
	p.memory(samples)
	if p.RSSStartMiB != 40 || p.RSSAtRecoveryMiB != 45 || p.RSSMaxMiB != 46 || p.RSSEndMiB != 46 ||
		p.RSSTrendMiBPerMinute != 60 || p.AccumulateCPUPercent != 50 || p.DrainCPUPercent != 50 {
		t.Errorf("memory figures = %+v", p)
	}
	if got := rssSeries(samples, 40); got != "40 41 42 43 44 45 | 46 46 46 46" {
		t.Errorf("rssSeries = %q", got)
	}
}

func TestPipelineFlags(t *testing.T) {
	base := []string{"--forgelink", "/tmp/forgelink"}
	cfg, err := parseFlags(append(base, "--pipeline"), io.Discard)
	if err != nil || !cfg.runs("deliver-saturate") || !cfg.runs("dead-target") || cfg.targetConcurrency != 0 || cfg.deadEvents != 100_000 {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseFlags(append(base, "--pipeline", "--phases", "deliver-steady"), io.Discard)
	if err != nil || cfg.runs("deliver-saturate") || !cfg.runs("deliver-steady") {
		t.Errorf("--phases deliver-steady: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"--dead-target-events", "10"}, // without --pipeline
		{"--pipeline", "--phases", "deliver-saturate,bogus"},
		{"--pipeline", "--dead-target-events", "0"},
		{"--pipeline", "--target-concurrency", "2000"},
		{"--pipeline", "--target-concurrency", "-1"},
		{"--pipeline", "--drain-timeout", "0s"},
	} {
		if _, err := parseFlags(append(base, bad...), io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func TestPipelineReport(t *testing.T) {
	r := &pipelineReport{
		Saturate: &deliveryPhase{Phase: "deliver-saturate", Requests: 100, Accepted: 100, Received: 100},
		Steady: &deliveryPhase{Phase: "deliver-steady", Requests: 100, Accepted: 100, Received: 99, Lost: 1,
			LostNote: "1 of 100 accepted events never reached the target"},
		DeadTarget: &deadTargetPhase{Phase: "dead-target", Requests: 100, Errors: 2, ErrorSample: "HTTP 500", Accepted: 98, Received: 98},
		Receiver:   counters{Malformed: 1, Sample: "decode message"},
	}
	f := r.check()
	if len(f) != 3 || !strings.Contains(f[0], "never reached") || !strings.Contains(f[1], "HTTP 500") || !strings.Contains(f[2], "decode message") {
		t.Errorf("check() = %q", f)
	}
	r.Failures = f
	var b strings.Builder
	if err := printPipelineReport(&b, r, false); err != nil || !strings.Contains(b.String(), "FAILED: deliver-steady") ||
		!strings.Contains(b.String(), "dead-target: 98 of 0 webhooks") {
		t.Errorf("table:\n%s", b.String())
	}
	b.Reset()
	var back struct {
		Pipeline struct {
			Target struct{ Timeout string }
		}
		Steady struct{ Lost int } `json:"deliverSteady"`
	}
	r.Pipeline.Target = loadTargetSettings(16)
	if err := printPipelineReport(&b, r, true); err != nil || json.Unmarshal([]byte(b.String()), &back) != nil ||
		back.Steady.Lost != 1 || back.Pipeline.Target.Timeout != "5s" {
		t.Errorf("json:\n%s", b.String())
	}
	var none pipelineReport
	if none.partial() != nil {
		t.Error("a report without phases is not nil")
	}
}

func TestParsePipelineMetrics(t *testing.T) {
	text := `forgelink_delivery_attempts_total{outcome="succeeded",pipeline="load",target_type="http"} 1200
forgelink_delivery_attempts_total{outcome="retry",pipeline="load",target_type="http"} 7
forgelink_deliveries_pending 100000
forgelink_deliveries_in_flight 1
forgelink_deliveries_dead 0
go_memstats_heap_inuse_bytes 7.340032e+06
go_goroutines 82
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if m.Attempts["succeeded"] != 1200 || m.Attempts["retry"] != 7 || m.Queue == nil || m.Queue.Pending != 100000 ||
		m.Queue.InFlight != 1 || m.HeapInuseBytes != 7340032 || m.Goroutines != 82 {
		t.Errorf("parseMetrics = %+v (queue %+v)", m, m.Queue)
	}
}
