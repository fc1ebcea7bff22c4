//go:build unix

package main_test

import (
	"strings"
	"testing"
)

// A second daemon on a data directory in use is refused before it serves
// anything: on SQLite the running daemon owns every delivery in memory,
// and two would each deliver everything. The first keeps serving.
func TestE2ESecondDaemonRefused(t *testing.T) {
	e2e(t)
	d := startDaemon(t, daemonOptions{})
	res := runCommand(t, environ(append([]string{"FORGELINK_LOG_FORMAT=json"}, rootEnv()...)...), forgelinkBin,
		"serve", "--listen", "127.0.0.1:0", "--data-dir", d.dataDir)
	if res.code == 0 {
		t.Errorf("second daemon: exit status 0, want non-zero")
	}
	if !strings.Contains(res.stderr, "in use by another process") || strings.Contains(res.stdout+res.stderr, "forgelink ready") {
		t.Errorf("second daemon's output does not refuse the directory in use:\nstdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
	readState(t, d) // the first still answers
}
