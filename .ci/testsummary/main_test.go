package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSummarise(t *testing.T) {
	const (
		pass      = `{"Action":"pass","Package":"p","Test":"TestA"}`
		fail      = `{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: broken\n"}` + "\n" + `{"Action":"fail","Package":"p","Test":"TestB"}`
		skip      = `{"Action":"output","Package":"p","Test":"TestC/root","Output":"=== RUN   TestC/root\n"}` + "\n" + `{"Action":"output","Package":"p","Test":"TestC/root","Output":"    c_test.go:3: no chromium\n"}` + "\n" + `{"Action":"skip","Package":"p","Test":"TestC/root"}`
		pkgOK     = `{"Action":"output","Package":"p","Output":"PASS\n"}` + "\n" + `{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}` + "\n" + `{"Action":"pass","Package":"p"}`
		plainText = `# p` + "\n" + `p.go:1: syntax error`
		buildFail = `{"ImportPath":"p [p.test]","Action":"build-output","Output":"p.go:1: syntax error\n"}` + "\n" +
			`{"Action":"output","Package":"p","Output":"FAIL\tp [build failed]\n"}` + "\n" + `{"Action":"fail","Package":"p"}`
	)
	tests := []struct {
		name      string
		in        string
		strict    bool
		allow     []string
		want      summary
		wantLines []string
	}{
		{
			name:      "passes",
			in:        pass + "\n" + pkgOK,
			want:      summary{packages: 1, passed: 1},
			wantLines: []string{"ok  \tp\t0.1s", "summary: 1 packages tested (0 failed), 1 tests run (subtests included)", "tests: 1 passed, 0 failed, 0 skipped"},
		},
		{
			name:      "a failure shows its output",
			in:        pass + "\n" + fail,
			want:      summary{passed: 1, failed: 1},
			wantLines: []string{"    b_test.go:9: broken", "tests: 1 passed, 1 failed, 0 skipped"},
		},
		{
			name:      "a skip, not strict",
			in:        skip,
			want:      summary{skipped: 1},
			wantLines: []string{"p.TestC/root: skipped", "    c_test.go:3: no chromium", "tests: 0 passed, 0 failed, 1 skipped"},
		},
		{
			name:      "a skip not allowed",
			in:        skip,
			strict:    true,
			want:      summary{skipped: 1, unexpected: []string{"p.TestC/root"}},
			wantLines: []string{"p.TestC/root: SKIP NOT ALLOWED under CI", "    c_test.go:3: no chromium", "skipped under CI, not allowed in .ci/run: p.TestC/root"},
		},
		{
			name:      "an allowed skip",
			in:        skip,
			strict:    true,
			allow:     []string{`p\.TestC/.*`},
			want:      summary{skipped: 1},
			wantLines: []string{"p.TestC/root: skip allowed", "tests: 0 passed, 0 failed, 1 skipped"},
		},
		{
			name:      "a pattern matches the whole name",
			in:        skip,
			strict:    true,
			allow:     []string{`p\.TestC`},
			want:      summary{skipped: 1, unexpected: []string{"p.TestC/root"}},
			wantLines: []string{"p.TestC/root: SKIP NOT ALLOWED under CI"},
		},
		{
			name:      "plain text passes through",
			in:        plainText,
			wantLines: []string{"# p", "p.go:1: syntax error", "tests: 0 passed, 0 failed, 0 skipped"},
		},
		{
			name:      "a package that fails to build",
			in:        buildFail,
			want:      summary{packages: 1, failedPackages: 1},
			wantLines: []string{"p.go:1: syntax error", "FAIL\tp [build failed]", "summary: 1 packages tested (1 failed), 0 tests run (subtests included)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options{strict: tt.strict}
			for _, p := range tt.allow {
				if err := opts.allow.Set(p); err != nil {
					t.Fatal(err)
				}
			}
			var out strings.Builder
			got, err := summarise(strings.NewReader(tt.in), &out, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.packages != tt.want.packages || got.failedPackages != tt.want.failedPackages || got.passed != tt.want.passed || got.failed != tt.want.failed ||
				got.skipped != tt.want.skipped || strings.Join(got.unexpected, ",") != strings.Join(tt.want.unexpected, ",") {
				t.Errorf("summary = %+v, want %+v", got, tt.want)
			}
			lines := strings.Split(out.String(), "\n")
			for _, want := range tt.wantLines {
				if !slices.Contains(lines, want) {
					t.Errorf("no line %q in\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "=== RUN") || slices.Contains(lines, "PASS") {
				t.Errorf("framing lines printed:\n%s", out.String())
			}
		})
	}
}
