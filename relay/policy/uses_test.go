package policy

import (
	"maps"
	"strings"
	"testing"
)

func TestUsesKey(t *testing.T) {
	tagged := func(effect Effect, action, op, key string) Statement {
		return Statement{Effect: effect, Actions: []string{action}, Resources: []string{"*"},
			Conditions: Conditions{op: {key: {"a"}}}}
	}
	plain := Statement{Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"}}
	policies := map[string]Policy{
		"PLAIN": {Statements: []Statement{plain}},
		"GET":   {Statements: []Statement{plain, tagged(Allow, "codeconnections:Get*", "StringEquals", "aws:ResourceTag/team")}},
		"DENY":  {Statements: []Statement{plain, tagged(Deny, "codestar-connections:Delete?onnection", "StringNotEqualsIfExists", "AWS:RESOURCETAG/Team")}},
		"REPO":  {Statements: []Statement{tagged(Allow, "codeconnections:UseConnection", "StringLike", "codestar-connections:FullRepositoryId")}},
		"NULL": {Statements: []Statement{{Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"},
			Conditions: Conditions{"Null": {"aws:ResourceTag/team": {"false"}}}}}},
		"BROKEN": {Statements: []Statement{tagged(Allow, "*", "StringEqual", "aws:ResourceTag/team"), tagged(Allow, "*", "StringEquals", "aws:SourceIp")}},
	}
	a := NewAuthorizer("ROOT", policies)
	const tag = KeyResourceTagPrefix
	tests := []struct {
		name, key, action, prefix string
		want                      bool
	}{
		{"root reads nothing", "ROOT", "codeconnections:GetConnection", tag, false},
		{"unknown key", "NOBODY", "codeconnections:GetConnection", tag, false},
		{"no conditions", "PLAIN", "codeconnections:GetConnection", tag, false},
		{"wildcard action with a tag condition", "GET", "codeconnections:GetConnection", tag, true},
		{"action case and legacy prefix", "GET", "CODESTAR-CONNECTIONS:getconnection", tag, true},
		{"other action", "GET", "codeconnections:ListConnections", tag, false},
		{"forgelink action", "GET", "forgelink:GetEvent", tag, false},
		{"prefix in any case", "GET", "codeconnections:GetHost", "AWS:resourcetag/", true},
		{"full key as prefix", "GET", "codeconnections:GetHost", "aws:ResourceTag/TEAM", true},
		{"longer prefix", "GET", "codeconnections:GetHost", "aws:ResourceTag/teams", false},
		{"other prefix", "GET", "codeconnections:GetHost", KeyRequestTagPrefix, false},
		{"empty prefix: any condition", "GET", "codeconnections:GetHost", "", true},
		{"deny statements count", "DENY", "codeconnections:DeleteConnection", tag, true},
		{"question mark matches one character", "DENY", "codeconnections:DeleteXonnection", tag, true},
		{"deny, other action", "DENY", "codeconnections:DeleteHost", tag, false},
		{"legacy key, current prefix", "REPO", "codeconnections:UseConnection", KeyFullRepositoryID, true},
		{"legacy key, legacy prefix", "REPO", "codeconnections:UseConnection", "codestar-connections:Full", true},
		{"part of the legacy service", "REPO", "codeconnections:UseConnection", "CodeStar", true},
		{"service prefix alone", "REPO", "codeconnections:UseConnection", "codeconnections:", true},
		{"repository key is no tag", "REPO", "codeconnections:UseConnection", tag, false},
		{"Null reads the key", "NULL", "forgelink:ListEvents", tag, true},
		{"broken conditions read nothing", "BROKEN", "codeconnections:GetConnection", tag, false},
		{"a condition on an unknown key is broken", "BROKEN", "codeconnections:GetConnection", "aws:", false},
	}
	for _, tt := range tests {
		if got := a.UsesKey(tt.key, tt.action, tt.prefix); got != tt.want {
			t.Errorf("%s: UsesKey(%s, %s, %q) = %v, want %v", tt.name, tt.key, tt.action, tt.prefix, got, tt.want)
		}
	}
}

// fuzzPrefixes are key prefixes a caller may ask UsesKey about.
var fuzzPrefixes = []string{
	KeyResourceTagPrefix, "AWS:RESOURCETAG/", "aws:ResourceTag/te", "aws:", "", "codestar", "codestar-connections:",
	"CodeConnections:Full", "codestar-connections:ProviderPermissions", "aws:TagKeys", "aws:ResourceTag/team",
}

// FuzzUsesKey checks that UsesKey never answers false for a key a
// condition reads: leaving out the context keys it says no condition
// reads never changes a decision.
func FuzzUsesKey(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 1, 1, 0, 1, 4, 1, 1, 3, 4, 2, 0, 1, 1, 4, 0, 0})
	f.Add([]byte("a fuzzer's seed of arbitrary bytes, long enough to reach conditions and contexts"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := fuzzSource(data)
		prefix := pickFrom(&src, fuzzPrefixes)
		var p Policy
		for range 1 + src.pick(3) {
			p.Statements = append(p.Statements, src.statement())
		}
		r := src.request()
		a := NewAuthorizer("", map[string]Policy{"K": p})
		if a.UsesKey("K", r.Action, prefix) {
			return
		}
		without := r
		without.Context = maps.Clone(r.Context)
		maps.DeleteFunc(without.Context, func(k string, _ []string) bool { return spelledWith(k, prefix) })
		if got, want := a.Authorize("K", without), a.Authorize("K", r); got != want {
			t.Fatalf("UsesKey(%s, %q) = false, yet without those keys the decision is %v, with them %v\npolicy %+v\nrequest %+v",
				r.Action, prefix, got, want, p, r)
		}
	})
}

// spelledWith reports whether some spelling of the condition key k
// begins with prefix: keys are case-insensitive, and the two service
// prefixes name the same keys.
func spelledWith(k, prefix string) bool {
	k, prefix = strings.ToLower(k), strings.ToLower(prefix)
	spellings := []string{k}
	for _, pair := range [][2]string{{"codeconnections:", "codestar-connections:"}, {"codestar-connections:", "codeconnections:"}} {
		if rest, ok := strings.CutPrefix(k, pair[0]); ok {
			spellings = append(spellings, pair[1]+rest)
		}
	}
	for _, s := range spellings {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
