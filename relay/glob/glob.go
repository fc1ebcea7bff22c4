// Package glob implements the pattern language of CodePipeline trigger
// filters, which is Java NIO PathMatcher's "glob" syntax:
//
//	pattern  matches
//	-------  -------
//	*        zero or more characters within one path segment (never '/')
//	**       zero or more characters across segments: "**" matches
//	         everything, "dir/**" everything under dir, "dir/*" only
//	         direct children
//	?        exactly one character, not '/'
//	[...]    one character of a set, with ranges (a-z); '!' first negates;
//	         '-' is literal first (or first after '!') or last; '*', '?',
//	         '\', '{' and ',' are literal inside; a class never matches '/'
//	{a,b}    any one of the comma-separated alternatives; no nesting
//	\        makes the next character literal
//
// A pattern matches the whole string. As in Java, "**/*.js" needs at least
// one '/', so it does not match "app.js" at the root: list "*.js" as well.
// '}' and ',' outside a group and ']' outside a class are literal.
// Patterns are UTF-8 and '?' and classes match one code point; a byte of
// the matched string that is not UTF-8 counts as one character that only
// '?', stars and negated classes match.
//
// Matching simulates the compiled automaton over all its states at once, so
// it takes time proportional to len(s) × len(pattern) whatever the pattern:
// "**a**a**a**b" cannot backtrack exponentially.
package glob

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pattern is a compiled glob. It is immutable and safe for concurrent use.
type Pattern struct {
	src  string
	prog []inst
	// prefix is the literal text every match starts with, suffix the one
	// every match ends with (when the pattern is more than a literal).
	// prog[prefixLen:suffixStart] runs on what lies between, unless tail
	// says it need not.
	prefix, suffix         string
	prefixLen, suffixStart int
	tail                   tailKind
}

// tailKind names the common shapes of what follows the literal prefix,
// which need no automaton: "main", "release/**", "feature/*".
type tailKind uint8

const (
	tailProgram tailKind = iota // anything else: run the program
	tailEmpty                   // nothing: the pattern is a literal
	tailAny                     // "**"
	tailSegment                 // "*"
)

// SyntaxError reports an invalid pattern.
type SyntaxError struct {
	Pattern string
	Pos     int // 1-based position, in characters, of the offending character
	Msg     string
}

func (e *SyntaxError) Error() string {
	if e.Pos == 0 {
		return fmt.Sprintf("glob %q: %s", e.Pattern, e.Msg)
	}
	return fmt.Sprintf("glob %q: %s at position %d", e.Pattern, e.Msg, e.Pos)
}

// Compile parses a pattern.
func Compile(pattern string) (*Pattern, error) {
	if pattern == "" {
		return nil, &SyntaxError{Pattern: pattern, Msg: "empty pattern"}
	}
	if !utf8.ValidString(pattern) {
		return nil, &SyntaxError{Pattern: pattern, Msg: "not valid UTF-8"}
	}
	c := compiler{src: pattern}
	if err := c.compile(); err != nil {
		return nil, err
	}
	return newPattern(pattern, c.prog), nil
}

func newPattern(src string, prog []inst) *Pattern {
	p := &Pattern{src: src, prog: prog}
	var prefix strings.Builder
	for p.prefixLen < len(prog) && prog[p.prefixLen].op == opRune {
		prefix.WriteRune(prog[p.prefixLen].r)
		p.prefixLen++
	}
	p.prefix = prefix.String()
	switch rest := prog[p.prefixLen:]; {
	case rest[0].op == opMatch:
		p.tail = tailEmpty
	case rest[1].op == opMatch && rest[0].op == opAnyStar:
		p.tail = tailAny
	case rest[1].op == opMatch && rest[0].op == opStar:
		p.tail = tailSegment
	}
	p.suffixStart = len(prog) - 1
	if p.tail == tailEmpty {
		return p
	}
	// Jumps land right after a group, so never inside a trailing run of
	// literals: matching may stop where the run starts.
	for prog[p.suffixStart-1].op == opRune {
		p.suffixStart--
	}
	var suffix strings.Builder
	for _, in := range prog[p.suffixStart : len(prog)-1] {
		suffix.WriteRune(in.r)
	}
	p.suffix = suffix.String()
	return p
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.src }

// Match reports whether the pattern matches all of s.
func (p *Pattern) Match(s string) bool {
	rest, ok := strings.CutPrefix(s, p.prefix)
	switch {
	case !ok:
		return false
	case p.tail == tailEmpty:
		return rest == ""
	case p.tail == tailAny:
		return true
	case p.tail == tailSegment:
		return !strings.Contains(rest, "/")
	}
	rest, ok = strings.CutSuffix(rest, p.suffix)
	return ok && p.run(rest)
}
