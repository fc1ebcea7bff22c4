package policy

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	arnA    = "arn:aws:codeconnections:us-east-1:123456789012:connection/aaaa"
	arnB    = "arn:aws:codeconnections:us-east-1:123456789012:connection/bbbb"
	arnHost = "arn:aws:codeconnections:us-east-1:123456789012:host/gl-0123abcd"
	arnElse = "arn:aws:codeconnections:us-east-1:999999999999:connection/aaaa"
)

func TestEvaluate(t *testing.T) {
	readA := Policy{Statements: []Statement{
		{Effect: Allow, Actions: []string{"codeconnections:Get*", "codeconnections:UseConnection"}, Resources: []string{arnA}},
	}}
	all := Policy{Statements: []Statement{
		{Effect: Allow, Actions: []string{"codeconnections:*"}, Resources: []string{"*"}},
		{Effect: Deny, Actions: []string{"codeconnections:Delete*"}, Resources: []string{"arn:aws:codeconnections:*:*:connection/*"}},
	}}
	legacy := Policy{Statements: []Statement{
		{Effect: Allow, Actions: []string{"codestar-connections:GetConnection"}, Resources: []string{"arn:aws:codestar-connections:us-east-1:123456789012:connection/*"}},
	}}
	question := Policy{Statements: []Statement{
		{Effect: Allow, Actions: []string{"codeconnections:?etHost"}, Resources: []string{"arn:aws:codeconnections:us-east-?:123456789012:host/gl-*"}},
	}}
	denyOnly := Policy{Statements: []Statement{{Effect: Deny, Actions: []string{"*"}, Resources: []string{"*"}}}}
	broken := Policy{Statements: []Statement{{Effect: "allow", Actions: []string{"*"}, Resources: []string{"*"}}}}
	tests := []struct {
		name     string
		p        Policy
		action   string
		resource string
		want     Decision
	}{
		{"exact resource, wildcard action", readA, "codeconnections:GetConnection", arnA, Allowed},
		{"use on A", readA, "codeconnections:UseConnection", arnA, Allowed},
		{"use on B", readA, "codeconnections:UseConnection", arnB, NotAllowed},
		{"action not listed", readA, "codeconnections:DeleteConnection", arnA, NotAllowed},
		{"list needs *", readA, "codeconnections:ListConnections", "*", NotAllowed},
		{"actions are case-insensitive", readA, "CodeConnections:getconnection", arnA, Allowed},
		{"ARNs are case-sensitive", readA, "codeconnections:GetConnection", strings.ToUpper(arnA), NotAllowed},
		{"other account", readA, "codeconnections:GetConnection", arnElse, NotAllowed},
		// A policy names a resource by the prefix it was created with.
		{"legacy ARN is not the codeconnections one", readA, "codeconnections:GetConnection", strings.Replace(arnA, "codeconnections", "codestar-connections", 1), NotAllowed},
		{"all allows list", all, "codeconnections:ListConnections", "*", Allowed},
		{"all allows host delete", all, "codeconnections:DeleteHost", arnHost, Allowed},
		{"explicit deny wins", all, "codeconnections:DeleteConnection", arnA, Denied},
		{"deny on connection, not on list", all, "codeconnections:DeleteConnection", "*", Allowed},
		{"legacy prefixes in the policy", legacy, "codeconnections:GetConnection", strings.Replace(arnB, "codeconnections", "codestar-connections", 1), Allowed},
		{"legacy resource prefix names no codeconnections resource", legacy, "codeconnections:GetConnection", arnB, NotAllowed},
		{"legacy policy, other action", legacy, "codeconnections:GetHost", arnHost, NotAllowed},
		{"question marks", question, "codeconnections:GetHost", arnHost, Allowed},
		{"question mark is one character", question, "codeconnections:GetHost", "arn:aws:codeconnections:us-east-10:123456789012:host/gl-x", NotAllowed},
		{"deny only", denyOnly, "codeconnections:GetConnection", arnA, Denied},
		{"empty policy", Policy{}, "codeconnections:GetConnection", arnA, NotAllowed},
		{"unknown effect counts as deny", broken, "codeconnections:GetConnection", arnA, Denied},
		{"not an ARN", readA, "codeconnections:GetConnection", "connection/aaaa", NotAllowed},
	}
	for _, tc := range tests {
		if got := tc.p.Evaluate(Request{Action: tc.action, Resource: tc.resource}); got != tc.want {
			t.Errorf("%s: Evaluate(%s, %s) = %v, want %v", tc.name, tc.action, tc.resource, got, tc.want)
		}
	}
}

// TestSegmentsDoNotSpan: a wildcard in one ARN segment cannot absorb the
// colons after it, even where the resource id is spelled to look like
// further segments.
func TestSegmentsDoNotSpan(t *testing.T) {
	p := Policy{Statements: []Statement{{Effect: Allow, Actions: []string{"*"},
		Resources: []string{"arn:aws:codeconnections:*:123456789012:connection/*"}}}}
	for _, r := range []string{
		"arn:aws:codeconnections:us-east-1:999999999999:connection/x:123456789012:connection/y",
		"arn:aws:codeconnections:us-east-1:123456789012:host/x",
	} {
		if got := p.Evaluate(Request{Action: "codeconnections:GetConnection", Resource: r}); got != NotAllowed {
			t.Errorf("%s: %v, want not allowed", r, got)
		}
	}
}

func TestAuthorizer(t *testing.T) {
	a := NewAuthorizer("ROOTKEY", map[string]Policy{
		"READER": {Statements: []Statement{{Effect: Allow, Actions: []string{"codeconnections:Get*"}, Resources: []string{"*"}}}},
	})
	tests := []struct {
		key, action string
		want        Decision
	}{
		{"ROOTKEY", "codeconnections:DeleteConnection", Allowed},
		{"READER", "codeconnections:GetConnection", Allowed},
		{"READER", "codeconnections:DeleteConnection", NotAllowed},
		{"STRANGER", "codeconnections:GetConnection", NotAllowed},
		{"", "codeconnections:GetConnection", NotAllowed},
	}
	for _, tc := range tests {
		if got := a.Authorize(tc.key, Request{Action: tc.action, Resource: arnA}); got != tc.want {
			t.Errorf("%q %s: %v, want %v", tc.key, tc.action, got, tc.want)
		}
	}
	if got := NewAuthorizer("", nil).Authorize("", Request{Action: "codeconnections:GetConnection", Resource: arnA}); got != NotAllowed {
		t.Errorf("no root: empty key id %v", got)
	}
}

func TestValidate(t *testing.T) {
	good := Policy{Statements: []Statement{
		{Effect: Allow, Actions: []string{"*", "codeconnections:Get*", "CodeStar-Connections:UseConnection", "codeconnections:?et*"},
			Resources: []string{"*", arnA, "arn:aws:codestar-connections:*:*:connection/*", "arn:*:*:*:*:*"}},
		{Effect: Deny, Actions: []string{"codeconnections:DeleteHost"}, Resources: []string{"arn:aws:codeconnections:us-east-1::host/x"}},
	}}
	if err := good.Validate(); err != nil {
		t.Errorf("good policy: %v", err)
	}
	bad := Policy{Statements: []Statement{
		{Effect: "allow", Actions: []string{"s3:GetObject", "codeconnections:", "codeconnections:Get Connection", "GetConnection"},
			Resources: []string{"connection/*", "arn:aws:s3:::bucket", "arn:aws:codeconnections:us-east-1:1", "arn:aws:codeconnections:us-east-1:1:", "arn: x"}},
		{Effect: Allow},
	}}
	err := bad.Validate()
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("Validate = %v, want Problems", err)
	}
	got := map[string]bool{}
	for _, p := range probs {
		got[p.Path] = true
	}
	want := []string{
		"statements[0].effect",
		"statements[0].actions[0]", "statements[0].actions[1]", "statements[0].actions[2]", "statements[0].actions[3]",
		"statements[0].resources[0]", "statements[0].resources[1]", "statements[0].resources[2]", "statements[0].resources[3]", "statements[0].resources[4]",
		"statements[1].actions", "statements[1].resources",
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no problem reported at %s; got %v", w, probs)
		}
	}
	if len(probs) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(probs), len(want), probs)
	}
	if err := (Policy{}).Validate(); err == nil || !strings.Contains(err.Error(), "statements: a policy needs at least one statement") {
		t.Errorf("empty policy: %v", err)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at/all", true},
		{"a*", "a", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbc", false},
		{"a*b*c", "abbbcbc", true},
		{"*a*a*a*b", strings.Repeat("a", 50), false},
		{"?", "é", true},
		{"??", "é", false},
		{"é*", "éa", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"**", "x", true},
		{"*?", "", false},
	}
	for _, tc := range tests {
		if got := match(tc.pattern, tc.s); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// TestMatchLinear: a pattern that makes backtracking matchers exponential
// takes well under a second on a long string.
func TestMatchLinear(t *testing.T) {
	pattern := strings.Repeat("*a", 30) + "*b"
	s := strings.Repeat("a", 2000)
	start := time.Now()
	if match(pattern, s) {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s", d)
	}
}

// FuzzMatch compares the matcher with Go's regexp (RE2, itself linear)
// on the equivalent expression.
func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"*", ""}, {"a*b?c", "axxbyc"}, {"arn:aws:*:*", "arn:aws:x:y"}, {"*a*a*b", "aaaaab"}, {"é?*", "éab"}, {"?*?", "x"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) || len(pattern) > 200 {
			t.Skip("outside the matcher's domain: not UTF-8, or a pattern over 200 bytes")
		}
		var expr strings.Builder
		expr.WriteString(`^(?s)`)
		for _, r := range pattern {
			switch r {
			case '*':
				expr.WriteString(`.*`)
			case '?':
				expr.WriteString(`.`)
			default:
				expr.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		expr.WriteString(`$`)
		want := regexp.MustCompile(expr.String()).MatchString(s)
		if got := match(pattern, s); got != want {
			t.Errorf("match(%q, %q) = %v, regexp %s says %v", pattern, s, got, expr.String(), want)
		}
	})
}
