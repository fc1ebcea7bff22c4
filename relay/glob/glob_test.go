package glob

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		// CodePipeline's documented examples.
		{"main*", []string{"main", "main-2", "mainline"}, []string{"xmain", "main/x", "Main"}},
		{"release/**", []string{"release/1.0", "release/1/hotfix", "release/"}, []string{"release", "releases/1", "x/release/1"}},
		{"feature/*", []string{"feature/x", "feature/"}, []string{"feature/x/y", "feature"}},
		{"feature/**", []string{"feature/x", "feature/x/y"}, []string{"feature"}},
		{"*.java", []string{"A.java", ".java"}, []string{"src/A.java", "A.jav"}},
		{"*.*", []string{"a.b", "."}, []string{"ab", "a/b.c"}},
		{"*.{java,class}", []string{"A.java", "A.class"}, []string{"A.txt", "A.", "a/A.java"}},
		{"foo.?", []string{"foo.c", "foo.é"}, []string{"foo.cc", "foo.", "foo./"}},
		{"my-file.jar", []string{"my-file.jar"}, []string{"dir/my-file.jar", "my-file.jars"}},
		{"directory/subdirectory/my-file.jar", []string{"directory/subdirectory/my-file.jar"}, []string{"directory/my-file.jar"}},
		{"**", []string{"", "a", "a/b/c", "/"}, nil},
		{"directory/*", []string{"directory/a"}, []string{"directory/a/b", "directory"}},
		{"**/*.js", []string{"src/a.js", "a/b/c.js", "/a.js"}, []string{"a.js", "src/a.jsx", "src/a/js"}},
		{"src/**", []string{"src/a", "src/a/b.go"}, []string{"src", "lib/src/a"}},
		{"{a,b}", []string{"a", "b"}, []string{"ab", "", "c"}},
		// Stars.
		{"*", []string{"", "abc"}, []string{"a/b"}},
		{"*/*", []string{"a/b", "/"}, []string{"a/b/c", "ab"}},
		{"***", []string{"a/b/c"}, nil},
		{"a/**/b", []string{"a/x/b", "a/x/y/b", "a//b"}, []string{"a/b", "a/x/c"}},
		{"**a**a**a**b", []string{"aaab", "xaxa/xa/b"}, []string{"aab", "aaaa"}},
		{"*-{rc,beta}?", []string{"1-rc1", "x-beta2"}, []string{"1-rc", "1-rc12", "a/1-rc1"}},
		// Question mark.
		{"?", []string{"a", "é", "-"}, []string{"", "/", "ab"}},
		// Groups.
		{"{,x}y", []string{"y", "xy"}, []string{"xxy"}},
		{"v{1,2}.*", []string{"v1.0", "v2.x"}, []string{"v3.0", "v12.0"}},
		{"{release,hotfix}/**", []string{"release/1", "hotfix/a/b"}, []string{"feature/1"}},
		{"{src/*.go,docs/**}", []string{"src/a.go", "docs/a/b"}, []string{"src/x/a.go", "docs"}},
		{"{[ab],?c}", []string{"a", "b", "xc"}, []string{"c", "abc"}},
		{"{a\\,b,c}", []string{"a,b", "c"}, []string{"a", "b"}},
		// Classes.
		{"[abc]", []string{"a", "c"}, []string{"d", "", "ab"}},
		{"v[0-9].[0-9]", []string{"v1.2"}, []string{"va.2", "v12.3"}},
		{"[!a-c]", []string{"d", "é"}, []string{"a", "b", "/"}},
		{"[-a]", []string{"-", "a"}, []string{"b"}},
		{"[!-a]", []string{"b"}, []string{"-", "a"}},
		{"[a-]", []string{"a", "-"}, []string{"b"}},
		{"[*?\\]", []string{"*", "?", "\\"}, []string{"a"}},
		{"[{,}]", []string{"{", ",", "}"}, []string{"a"}},
		{"[^a]", []string{"^", "a"}, []string{"b"}},
		{"[a-cx-z]", []string{"b", "y"}, []string{"d", "w"}},
		{"[é-ü]", []string{"ö"}, []string{"e"}},
		{"[ -0]", []string{" ", ".", "0"}, []string{"/"}},
		// Escapes and characters that are special elsewhere.
		{"\\*", []string{"*"}, []string{"a", ""}},
		{"\\[a]", []string{"[a]"}, []string{"a"}},
		{"a\\{b,c\\}", []string{"a{b,c}"}, []string{"ab"}},
		{"\\a\\\\", []string{"a\\"}, []string{"a"}},
		{"a,b}]", []string{"a,b}]"}, []string{"a"}},
		{"a.b+(c)|^$", []string{"a.b+(c)|^$"}, []string{"axb+(c)|^$"}},
		{"fé*", []string{"féature"}, []string{"fe"}},
		// Literal prefixes and suffixes never overlap.
		{"a*a", []string{"aa", "aba"}, []string{"a", ""}},
		{"ab{c,}cd", []string{"abcd", "abccd"}, []string{"abd", "acd"}},
		{"x{a,b}yz", []string{"xayz"}, []string{"xyz", "xaz"}},
		// Bytes that are not UTF-8 are characters only wildcards match.
		{"?", []string{"\xff"}, nil},
		{"[!a]b", []string{"\xffb"}, nil},
		{"\uFFFD*", nil, []string{"\xff"}},
		{"*\uFFFD", nil, []string{"a\xff"}},
	}
	for _, tt := range tests {
		p, err := Compile(tt.pattern)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.pattern, err)
		}
		if p.String() != tt.pattern {
			t.Errorf("String() = %q, want %q", p.String(), tt.pattern)
		}
		for _, s := range tt.yes {
			if !p.Match(s) {
				t.Errorf("%q does not match %q", tt.pattern, s)
			}
		}
		for _, s := range tt.no {
			if p.Match(s) {
				t.Errorf("%q matches %q", tt.pattern, s)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		pattern string
		pos     int
		msg     string
	}{
		{"", 0, `glob "": empty pattern`},
		{"a\xff", 0, `glob "a\xff": not valid UTF-8`},
		{"release/[abc", 9, `glob "release/[abc": unclosed '[' at position 9`},
		{"[a-", 1, `glob "[a-": unclosed '[' at position 1`},
		{"[!", 1, `glob "[!": unclosed '[' at position 1`},
		{"v{1,2", 2, `glob "v{1,2": unclosed '{' at position 2`},
		{"{a,{b}}", 4, `glob "{a,{b}}": nested '{' (groups cannot nest) at position 4`},
		{"abc\\", 4, `glob "abc\\": trailing '\' escapes nothing at position 4`},
		{"[]", 1, `glob "[]": empty character class at position 1`},
		{"x[!]", 2, `glob "x[!]": empty character class at position 2`},
		{"[z-a]", 2, `glob "[z-a]": invalid range "z-a" (the end is before the start) at position 2`},
		{"[a/b]", 3, `glob "[a/b]": '/' in a character class (a class matches one character within a segment) at position 3`},
		{"[.-/]", 4, `glob "[.-/]": '/' in a character class (a class matches one character within a segment) at position 4`},
		{"é[a-c-e]", 6, `glob "é[a-c-e]": '-' in a character class must come first, last or between the ends of a range at position 6`},
	}
	for _, tt := range tests {
		p, err := Compile(tt.pattern)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) = %v, %v; want a *SyntaxError", tt.pattern, p, err)
			continue
		}
		if se.Pos != tt.pos || err.Error() != tt.msg {
			t.Errorf("Compile(%q):\n got %d %s\nwant %d %s", tt.pattern, se.Pos, err, tt.pos, tt.msg)
		}
	}
}

// TestMatchLinear: patterns that make a backtracking matcher explode run in
// time proportional to the input here. They end in a wildcard, so that no
// literal suffix check answers first. The bound is generous; an
// exponential matcher would not finish at all.
func TestMatchLinear(t *testing.T) {
	tests := []struct{ pattern, s string }{
		{"**a**a**a**b*", strings.Repeat("a", 100_000)},
		{strings.Repeat("*a", 40) + "b*", strings.Repeat("a", 100_000)},
		{strings.Repeat("{a,*}", 40) + "b?", strings.Repeat("a", 20_000)},
		{strings.Repeat("**/", 30) + "x*", strings.Repeat("a/", 20_000)},
	}
	for _, tt := range tests {
		p := mustCompile(t, tt.pattern)
		start := time.Now()
		if p.Match(tt.s) {
			t.Errorf("%q matches", tt.pattern)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%q took %s", tt.pattern, d)
		}
	}
}

func mustCompile(tb testing.TB, pattern string) *Pattern {
	tb.Helper()
	p, err := Compile(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func FuzzCompileMatch(f *testing.F) {
	for _, seed := range []struct{ pattern, s string }{
		{"main*", "main-2"},
		{"release/**", "release/1/2"},
		{"feature/*", "feature/x/y"},
		{"**/*.js", "src/a.js"},
		{"*.{java,class}", "A.class"},
		{"[!a-c-]x", "-x"},
		{"[-a]{,b}?", "-bc"},
		{"\\{a,b\\}", "{a,b}"},
		{"**a**a**a**b", "aaaaaaaaab"},
		{"[a-", "a"},
		{"{a,{b}}", "a"},
		{"x\\", "x"},
		{"?é[é-ü]", "aéö"},
		{"*", "\xff"},
		{"[ -0]", "/"},
	} {
		f.Add(seed.pattern, seed.s)
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		got := p.Match(s)
		if !utf8.ValidString(s) {
			return // the oracle reads invalid bytes as U+FFFD
		}
		re := oracle(t, pattern)
		if want := re.MatchString(s); got != want {
			t.Fatalf("Match(%q, %q) = %v; regexp %s says %v", pattern, s, got, re, want)
		}
	})
}

// oracle translates a valid pattern into a regular expression, the way
// Java's Globs.toRegexPattern does, as an independent check of the
// compiled matcher.
func oracle(t *testing.T, pattern string) *regexp.Regexp {
	rs := []rune(pattern)
	var b strings.Builder
	group := false
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; {
		case c == '\\':
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case c == '?':
			b.WriteString(`[^/]`)
		case c == '*' && i+1 < len(rs) && rs[i+1] == '*':
			for i+1 < len(rs) && rs[i+1] == '*' {
				i++
			}
			b.WriteString(`(?s:.*)`)
		case c == '*':
			b.WriteString(`[^/]*`)
		case c == '{':
			group = true
			b.WriteString(`(?:`)
		case c == ',' && group:
			b.WriteString(`|`)
		case c == '}' && group:
			group = false
			b.WriteString(`)`)
		case c == '[':
			i = oracleClass(&b, rs, i+1)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re, err := regexp.Compile(`\A` + b.String() + `\z`)
	if err != nil {
		t.Fatalf("oracle of %q: %v", pattern, err)
	}
	return re
}

// oracleClass writes the class that starts at rs[i], after '[', and
// returns the index of its ']'. Like Java, it intersects the class with
// [^/].
func oracleClass(b *strings.Builder, rs []rune, i int) int {
	negated := rs[i] == '!'
	if negated {
		i++
	}
	var ranges [][2]rune
	if rs[i] == '-' {
		ranges = append(ranges, [2]rune{'-', '-'})
		i++
	}
	for ; rs[i] != ']'; i++ {
		lo, hi := rs[i], rs[i]
		if rs[i+1] == '-' && rs[i+2] != ']' {
			hi = rs[i+2]
			i += 2
		}
		ranges = append(ranges, [2]rune{lo, hi})
	}
	b.WriteString(`[`)
	if negated {
		b.WriteString(`^/`)
	}
	for _, r := range ranges {
		if !negated && r[0] < '/' && '/' < r[1] {
			fmt.Fprintf(b, `\x{%x}-\x{%x}\x{%x}-\x{%x}`, r[0], '/'-1, '/'+1, r[1])
		} else {
			fmt.Fprintf(b, `\x{%x}-\x{%x}`, r[0], r[1])
		}
	}
	b.WriteString(`]`)
	return i
}

func BenchmarkMatch(b *testing.B) {
	benchmarks := []struct{ pattern, s string }{
		{"main", "main"},
		{"release/**", "release/2026.11/hotfix"},
		{"feature/*", "feature/JIRA-1234-add-the-thing"},
		{"**/*.js", "web/src/components/button/index.js"},
		{"{src,lib}/**/*.{go,mod}", "lib/relay/glob/match.go"},
		{"v[0-9]*.[0-9]*.[0-9]*", "v12.3.45"},
		{"**a**a**a**b", strings.Repeat("a", 256) + "b"},
		{"**a**a**a**b*", strings.Repeat("a", 256)},
	}
	for _, bm := range benchmarks {
		p := mustCompile(b, bm.pattern)
		b.Run(bm.pattern, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Match(bm.s)
			}
		})
	}
}
