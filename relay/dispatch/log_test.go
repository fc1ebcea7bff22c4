package dispatch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

// Failed attempts are logged at warn, dead deliveries at error, each with
// what tells the operator which build did not trigger and why.
func TestFailureLogs(t *testing.T) {
	two := 2
	exit2 := notify.Result{Err: errors.New("/usr/local/bin/ci-build: exit status 2"), ExitStatus: &two,
		Output: "make: *** [build] Error 2\n\x1b[31mfailed\x1b[0m\n"}
	unavailable := retryable
	unavailable.Output = "upstream\r\ndown"
	tests := []struct {
		name   string
		script func(context.Context, *notify.Message, int) notify.Result
		retry  Retry
		age    time.Duration // of the event when the engine starts
		// warn and dead are the fields of the lines expected, in order.
		warn []map[string]any
		dead map[string]any
	}{
		{
			name:   "retryable, then delivered",
			script: results(unavailable),
			retry:  testRetry,
			warn:   []map[string]any{{"attempt": int64(1), "status": int64(503), "output": "upstream  down", "error": errTarget.Error()}},
		},
		{
			name:   "exit status not retryable",
			script: results(exit2),
			retry:  testRetry,
			dead: map[string]any{"attempt": int64(1), "exit_code": int64(2), "output": "make: *** [build] Error 2 ?[31mfailed?[0m",
				"error": exit2.Err.Error(), "reason": "exit status 2 is not in retryableExitCodes"},
		},
		{
			name:   "client error",
			script: results(notify.Result{Err: errTarget, StatusCode: 404, Output: "no such job"}),
			retry:  testRetry,
			dead:   map[string]any{"status": int64(404), "output": "no such job", "reason": "HTTP status 404 is not retried (408, 429 and 5xx are)"},
		},
		{
			name:   "attempts exhausted",
			script: results(retryable, retryable),
			retry:  Retry{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxAttempts: 2, MaxAge: time.Hour},
			warn:   []map[string]any{{"attempt": int64(1), "status": int64(503)}},
			dead:   map[string]any{"attempt": int64(2), "status": int64(503), "reason": "attempts exhausted (retry.maxAttempts 2)"},
		},
		{
			name:   "max age",
			script: results(retryable),
			retry:  testRetry,
			age:    2 * time.Hour,
			dead:   map[string]any{"attempt": int64(1), "status": int64(503), "reason": "the next attempt would pass retry.maxAge 1h0m0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t)
			core, logs := observer.New(zap.DebugLevel)
			tg := target("ci", &fake{script: tt.script}, 1)
			tg.Retry = tt.retry
			d := v.pushAt(time.Now().Add(-tt.age), build, "main")
			run(t, v.engine(Options{Log: zap.New(core)}, tg), time.Second)

			last := "delivered"
			if tt.dead != nil {
				last = "delivery dead: no more attempts"
			}
			waitFor(t, "the delivery's last log line", func() bool { return logs.FilterMessage(last).Len() > 0 })
			warns := logs.FilterLevelExact(zapcore.WarnLevel).AllUntimed()
			if len(warns) != len(tt.warn) {
				t.Fatalf("warn lines = %+v, want %d", warns, len(tt.warn))
			}
			for i, want := range tt.warn {
				checkLine(t, warns[i], "delivery attempt failed", d.ID, want)
			}
			errs := logs.FilterLevelExact(zapcore.ErrorLevel).AllUntimed()
			if tt.dead == nil {
				if len(errs) != 0 {
					t.Errorf("error lines = %+v, want none", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("error lines = %+v, want 1", errs)
			}
			checkLine(t, errs[0], "delivery dead: no more attempts", d.ID, tt.dead)
		})
	}
}

// checkLine checks a failure's log line: its message, the fields that name
// the delivery, and want.
func checkLine(t *testing.T, e observer.LoggedEntry, msg, delivery string, want map[string]any) {
	t.Helper()
	got := e.ContextMap()
	if e.Message != msg {
		t.Errorf("message = %q, want %q", e.Message, msg)
	}
	named := map[string]any{"pipeline": "build", "target": "ci", "delivery": delivery, "repository": "octo/api"}
	for _, fields := range []map[string]any{named, want} {
		for k, w := range fields {
			if got[k] != w {
				t.Errorf("%s: %s = %v, want %v (line %v)", msg, k, got[k], w, got)
			}
		}
	}
}

func TestOutputTail(t *testing.T) {
	long := strings.Repeat("x", 1000) + "the end"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"short", "error: missing go.sum entry", "error: missing go.sum entry"},
		{"lines and tabs", "a\n\tb\r\nc\n", "a  b  c"},
		{"escape sequences", "\x1b]0;pwned\x07ok", "?]0;pwned?ok"},
		{"bidi override", "abc\u202edef", "abc?def"},
		{"invalid UTF-8", "a\xffb", "a?b"},
		{"long: the end kept", long, "…" + long[len(long)-maxLoggedOutput:]},
		// The cut falls inside the first é: the tail starts at the next rune.
		{"cut at a rune start", "é" + strings.Repeat("é", maxLoggedOutput/2-1) + "z", "…" + strings.Repeat("é", maxLoggedOutput/2-1) + "z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outputTail(tt.in); got != tt.want {
				t.Errorf("outputTail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// A delivery that succeeds sets its pipeline's last-success time; one that
// fails does not, and a pipeline removed by a reload loses its series.
func TestLastSuccessMetric(t *testing.T) {
	v := newEnv(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, v.st.DeliveryStats)
	c := &clock{}
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	c.Set(at)
	failing := &fake{script: func(context.Context, *notify.Message, int) notify.Result {
		return notify.Result{Err: errTarget, StatusCode: 400}
	}}
	e := v.engine(Options{Metrics: m, Now: c.Now}, target("ci", &fake{}, 1), target("broken", failing, 1))
	ok := v.push(build, "main")
	dead := v.push(pipe{"deploy", "broken", "PARALLEL"}, "main")
	run(t, e, time.Second)

	v.waitState(dead.ID, store.DeliveryDead)
	v.waitState(ok.ID, store.DeliverySucceeded)
	want := map[string]float64{"build": float64(at.Unix())}
	waitFor(t, fmt.Sprintf("the last-success metric to be %v", want), func() bool { return maps.Equal(lastSuccess(t, reg), want) })

	e.RetainPipelines([]string{"deploy"})
	if got := lastSuccess(t, reg); len(got) != 0 {
		t.Errorf("after build was removed: last success = %v, want no series", got)
	}
}

// lastSuccess gathers forgelink_pipeline_last_success_timestamp_seconds
// from reg by pipeline.
func lastSuccess(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	return gauge(t, reg, "forgelink_pipeline_last_success_timestamp_seconds")
}

// gauge gathers the gauge name from reg by its first label's value ("" for
// a gauge without labels).
func gauge(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			label := ""
			if ls := s.GetLabel(); len(ls) > 0 {
				label = ls[0].GetValue()
			}
			out[label] = s.GetGauge().GetValue()
		}
	}
	return out
}

// On an owned store an attempt in flight is still pending in the store:
// the queue gauges count it in flight from the engine.
func TestQueueGaugesInFlight(t *testing.T) {
	v := newEnv(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, v.st.DeliveryStats)
	release := make(chan struct{})
	f := &fake{script: func(ctx context.Context, _ *notify.Message, _ int) notify.Result { return hold(ctx, release) }}
	for range 5 {
		v.push(build, "main")
	}
	run(t, v.engine(Options{Metrics: m}, target("ci", f, 2)), time.Second)
	waitFor(t, "two attempts in flight", func() bool { return f.inFlight() == 2 })
	inFlight, pending := gauge(t, reg, "forgelink_deliveries_in_flight")[""], gauge(t, reg, "forgelink_deliveries_pending")[""]
	if inFlight != 2 || pending != 3 {
		t.Errorf("%v in flight, %v pending; want 2 and 3", inFlight, pending)
	}
	close(release)
}
