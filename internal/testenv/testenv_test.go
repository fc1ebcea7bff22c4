package testenv_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/internal/testenv"
)

func TestCI(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"", false},
		{"false", false},
		{"FALSE", false},
		{" false ", false},
		{"true", true},
		{"1", true},
		{"yes", true},
		{"0", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("CI=%q", tt.value), func(t *testing.T) {
			t.Setenv("CI", tt.value)
			if got := testenv.CI(); got != tt.want {
				t.Errorf("CI() = %v, want %v", got, tt.want)
			}
		})
	}
}

// recorder is a testing.TB that records how a test would end.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestMissing(t *testing.T) {
	tests := []struct {
		ci          string
		wantFailed  bool
		wantMessage string
	}{
		{ci: "", wantMessage: "PostgreSQL not reachable; start it, or set CI=true to make this a failure"},
		{ci: "false", wantMessage: "PostgreSQL not reachable; start it, or set CI=true"},
		{ci: "true", wantFailed: true, wantMessage: "PostgreSQL not reachable; start it (CI is set"},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			testenv.Missing(r, "PostgreSQL not reachable", "start it")
			got, other := r.skipped, r.failed
			if tt.wantFailed {
				got, other = r.failed, r.skipped
			}
			if !strings.HasPrefix(got, tt.wantMessage) || other != "" {
				t.Errorf("skipped %q, failed %q; want %s %q", r.skipped, r.failed, map[bool]string{true: "failed", false: "skipped"}[tt.wantFailed], tt.wantMessage)
			}
		})
	}
}
