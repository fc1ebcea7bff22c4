// Command testsummary reads `go test -json` on standard input and prints
// what a person reads in a CI log: each package's closing line, the
// output of every failed test, every skipped test with its reason, and a
// summary ending in "tests: N passed, N failed, N skipped". It exits 1 if
// a package or a test failed or, with -strict (as .ci/run runs it: under CI every
// requirement is installed, so a skip hides a test that did not run), if a
// test skipped without matching an -allow pattern.
//
//	go test -json ./... | go run .ci/testsummary/main.go
//	go test -json ./... | go run .ci/testsummary/main.go -strict -allow 'pkg\.TestX/case'
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json). Build output
// comes as events without a test, as package output does.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// summary counts what a run did.
type summary struct {
	packages, failedPackages int // failedPackages: also those failing outside any test (build, TestMain, timeout)
	passed, failed, skipped  int
	unexpected               []string // with -strict, skipped tests that no -allow pattern matches
}

// options are the command's flags.
type options struct {
	strict bool
	allow  patterns
}

// patterns are the -allow flags, each anchored at both ends.
type patterns []*regexp.Regexp

func (p *patterns) String() string { return fmt.Sprint(*p) }

func (p *patterns) Set(s string) error {
	re, err := regexp.Compile("^(?:" + s + ")$")
	if err != nil {
		return err
	}
	*p = append(*p, re)
	return nil
}

func (p patterns) match(name string) bool {
	for _, re := range p {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

func main() {
	var opts options
	flag.BoolVar(&opts.strict, "strict", false, "fail on a skipped test that no -allow pattern matches")
	flag.Var(&opts.allow, "allow", "a skip allowed under -strict, as `package.Test/subtest` (a regular expression matching all of it); repeatable")
	flag.Parse()
	s, err := summarise(os.Stdin, os.Stdout, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if s.failedPackages > 0 || s.failed > 0 || len(s.unexpected) > 0 {
		os.Exit(1)
	}
}

// summarise copies the readable part of the stream r to w and returns the
// counts, printing them last.
func summarise(r io.Reader, w io.Writer, opts options) (summary, error) {
	var s summary
	outputs := map[string]*strings.Builder{} // per package and test, until it ends
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// go test prints some failures (a package that fails to
			// load) as plain text.
			fmt.Fprintln(w, sc.Text())
			continue
		}
		s.record(e, w, outputs, opts)
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read: %w", err)
	}
	s.print(w)
	return s, nil
}

func (s *summary) record(e event, w io.Writer, outputs map[string]*strings.Builder, opts options) {
	if e.Test == "" {
		// Package-level output is go test's usual lines: "ok", "FAIL",
		// build errors, panics outside a test. The binary's own "PASS",
		// which go test prints only with -v, is left out.
		if e.Output != "PASS\n" {
			fmt.Fprint(w, e.Output)
		}
		switch e.Action {
		case "pass":
			s.packages++
		case "fail":
			s.packages++
			s.failedPackages++
		}
		return
	}
	key := e.Package + "." + e.Test
	switch e.Action {
	case "output":
		if outputs[key] == nil {
			outputs[key] = &strings.Builder{}
		}
		outputs[key].WriteString(e.Output)
	case "pass":
		s.passed++
		delete(outputs, key)
	case "fail":
		s.failed++
		fmt.Fprint(w, outputs[key])
		delete(outputs, key)
	case "skip":
		s.skipped++
		verdict := "skipped"
		switch {
		case opts.strict && opts.allow.match(key):
			verdict = "skip allowed"
		case opts.strict:
			verdict = "SKIP NOT ALLOWED under CI"
			s.unexpected = append(s.unexpected, key)
		}
		fmt.Fprintf(w, "%s: %s\n%s", key, verdict, withoutRunLines(outputs[key]))
		delete(outputs, key)
	}
}

// withoutRunLines is a test's output less test2json's framing lines.
func withoutRunLines(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	var kept strings.Builder
	for line := range strings.Lines(b.String()) {
		if !strings.HasPrefix(strings.TrimSpace(line), "=== ") {
			kept.WriteString(line)
		}
	}
	return kept.String()
}

func (s *summary) print(w io.Writer) {
	for _, name := range s.unexpected {
		fmt.Fprintf(w, "skipped under CI, not allowed in .ci/run: %s\n", name)
	}
	fmt.Fprintf(w, "summary: %d packages tested (%d failed), %d tests run (subtests included)\n",
		s.packages, s.failedPackages, s.passed+s.failed+s.skipped)
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}
