// Package testenv decides what a test does when something it needs from
// the machine (a service, a browser, a tool) is missing: under CI, which
// provides everything, it fails; elsewhere it skips, saying what is
// missing and how to provide it, so that no skip goes unexplained.
package testenv

import (
	"os"
	"strings"
	"testing"
)

// CI reports whether the tests run under continuous integration: the
// environment variable CI set to anything but empty or "false" (any case).
func CI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	return v != "" && !strings.EqualFold(v, "false")
}

// Missing ends tb because something it needs is not there: what says what
// is missing (and why, if known), hint how to provide it. Under CI tb
// fails; elsewhere it is skipped.
func Missing(tb testing.TB, what, hint string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("%s; %s (CI is set: a missing requirement fails the test)", what, hint)
		return // for a testing.TB whose Fatalf returns
	}
	tb.Skipf("%s; %s, or set CI=true to make this a failure", what, hint)
}
