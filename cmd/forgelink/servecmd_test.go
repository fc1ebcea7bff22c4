package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeFlagErrors checks that a bad value is reported under the name
// it was given by: the flag, the environment variable or the file's field.
func TestServeFlagErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "forgelink.yaml")
	if err := os.WriteFile(file, []byte("listen: nowhere\nlog:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string
		wantNot []string
	}{{
		name: "flags",
		args: []string{"--listen", "bogus", "--log-level", "loud"},
		want: []string{`--listen: want host:port, got "bogus"`, `--log-level: want debug, info, warn or error, got "loud"`},
	}, {
		name: "environment",
		env:  map[string]string{"FORGELINK_LOG_LEVEL": "noisy"},
		want: []string{`FORGELINK_LOG_LEVEL: want debug, info, warn or error, got "noisy"`},
	}, {
		name:    "flag beats environment",
		args:    []string{"--log-level", "loud"},
		env:     map[string]string{"FORGELINK_LOG_LEVEL": "noisy"},
		want:    []string{`--log-level: want debug, info, warn or error, got "loud"`},
		wantNot: []string{"FORGELINK_LOG_LEVEL"},
	}, {
		name:    "file, one field overridden",
		args:    []string{"--config", file, "--log-level", "debug"},
		want:    []string{file + `:1: listen: want host:port, got "nowhere"`},
		wantNot: []string{"log.level", "--log-level"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"FORGELINK_CONFIG", "FORGELINK_LISTEN", "FORGELINK_LOG_LEVEL", "FORGELINK_DATA_DIR"} {
				t.Setenv(k, tc.env[k])
			}
			args := append([]string{"serve", "--data-dir", t.TempDir()}, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), args, &stdout, &stderr); code != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", code, &stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not say %q:\n%s", want, &stderr)
				}
			}
			for _, not := range tc.wantNot {
				if strings.Contains(stderr.String(), not) {
					t.Errorf("stderr names %q:\n%s", not, &stderr)
				}
			}
		})
	}
}
