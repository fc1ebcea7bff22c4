//go:build unix

package main_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

// Issue 13, finding 1: a failed attempt and a dead delivery are in the
// daemon's log with what names the build and says why it failed, and
// /metrics tells when each pipeline last succeeded.
func TestE2EFailuresInTheLog(t *testing.T) {
	e2e(t)
	cfgDir := t.TempDir()
	gh := fakeGitHub(t)
	d, cfgPath, base := startWithGitHubAPI(t, cfgDir, gh.URL)
	cli := cliFor(t, d)
	conn := newHookConn(t, cli, "failures", store.ProviderGitHub)
	writeFile(t, cfgPath, base+fmt.Sprintf(`targets:
  - name: compile
    type: exec
    exec:
      command: [/bin/sh, -c, 'echo "main.go:3: undefined: x" >&2; exit 2']
  - name: busy-runner
    type: exec
    exec:
      command: [/bin/sh, -c, 'if [ "$FORGELINK_ATTEMPT" = 1 ]; then echo "runner busy" >&2; exit 75; fi']
      retryableExitCodes: [75]
    retry: {initialInterval: 50ms, maxInterval: 100ms}
pipelines:
  - {name: broken, connectionArn: %[1]s, repository: octo-org/widget, target: compile}
  - {name: flaky, connectionArn: %[1]s, repository: octo-org/widget, target: busy-runner}
`, conn.arn))
	d.hup(t)
	cli.waitPipelines(t, []pipelineInfo{
		{"broken", conn.arn, "octo-org/widget", "QUEUED", "compile"},
		{"flaky", conn.arn, "octo-org/widget", "QUEUED", "busy-runner"},
	})
	cli.complete(t, conn)
	pushTo(t, http.DefaultClient, d, conn, pushEvent{"refs/heads/main", "octo-org/widget", randomCommit(), []string{"main.go"}}, http.StatusAccepted, "accepted")

	success := series("forgelink_pipeline_last_success_timestamp_seconds", "pipeline", "flaky")
	waitFor(t, "a dead delivery logged and flaky's success measured", 20*time.Second, func() (bool, string) {
		ok := hasSeries(scrape(t, d), success)
		dead := len(d.logEntries("delivery dead: no more attempts"))
		return ok && dead > 0, fmt.Sprintf("%d dead deliveries logged, %s present: %t", dead, success, ok)
	})
	checkEntries(t, d, "error", "delivery dead: no more attempts", map[string]any{
		"pipeline": "broken", "target": "compile", "repository": "octo-org/widget", "attempt": 1.0,
		"exit_code": 2.0, "output": "main.go:3: undefined: x", "reason": "exit status 2 is not in retryableExitCodes",
	})
	checkEntries(t, d, "warn", "delivery attempt failed", map[string]any{
		"pipeline": "flaky", "target": "busy-runner", "repository": "octo-org/widget", "attempt": 1.0,
		"exit_code": 75.0, "output": "runner busy",
	})
	m := scrape(t, d)
	if at := time.Unix(int64(m[success]), 0); time.Since(at) > time.Minute || time.Until(at) > time.Second {
		t.Errorf("%s = %v, want about now", success, at)
	}
	if broken := series("forgelink_pipeline_last_success_timestamp_seconds", "pipeline", "broken"); hasSeries(m, broken) {
		t.Errorf("/metrics has %s; the pipeline never succeeded", broken)
	}
}

func hasSeries(m map[string]float64, s string) bool {
	_, ok := m[s]
	return ok
}

// checkEntries checks that d logged msg exactly once, at level, with want
// and a delivery id.
func checkEntries(t *testing.T, d *daemon, level, msg string, want map[string]any) {
	t.Helper()
	es := d.logEntries(msg)
	if len(es) != 1 {
		t.Fatalf("%d log lines %q, want 1:\n%s", len(es), msg, d.out.String())
	}
	e := es[0]
	if e["level"] != level || e["delivery"] == "" || e["delivery"] == nil {
		t.Errorf("%q logged at %v with delivery %v, want %s and a delivery id", msg, e["level"], e["delivery"], level)
	}
	for k, w := range want {
		if e[k] != w {
			t.Errorf("%q: %s = %v, want %v", msg, k, e[k], w)
		}
	}
}
