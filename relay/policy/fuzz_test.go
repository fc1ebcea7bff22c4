package policy

import (
	"strings"
	"testing"
)

// Pools the fuzzer draws policies and requests from: valid and invalid
// spellings, wildcards, case variants and the legacy prefix.
var (
	fuzzOperators = func() []string {
		var ops []string
		for _, base := range []string{"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
			"StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool", "Null"} {
			for _, prefix := range []string{"", "ForAnyValue:", "ForAllValues:"} {
				ops = append(ops, prefix+base, prefix+base+"IfExists")
			}
		}
		return append(ops, "StringEqual", "stringequals", "", "IfExists")
	}()
	fuzzKeys = []string{
		"codeconnections:FullRepositoryId", "CODESTAR-CONNECTIONS:fullrepositoryid", "codeconnections:ProviderPermissionsRequired",
		"codeconnections:HostArn", "aws:ResourceTag/team", "AWS:resourcetag/Team", "aws:TagKeys", "codeconnections:ProviderType",
		"aws:SourceIp", "aws:ResourceTag/",
	}
	fuzzValues = []string{
		"acme/app", "acme/*", "ACME/APP", "read_only", "read_write", "read_*", "true", "false", "TRUE",
		"arn:aws:codeconnections:us-east-1:123456789012:host/h-1", "arn:aws:codestar-connections:*:*:host/*", "*", "", "t?am", "team",
		"GitHub", "github", "${x}",
	}
	fuzzPolicyActions  = []string{"*", "codeconnections:*", "codeconnections:UseConnection", "forgelink:*", "codestar-connections:Get*", "forgelink:ListEvents"}
	fuzzRequestActions = []string{"codeconnections:UseConnection", "CodeStar-Connections:GetConnection", "forgelink:ListEvents", "codeconnections:ListEvents"}
	fuzzPolicyRes      = []string{"*", arnA, "arn:aws:codeconnections:*:*:connection/*", "not-an-arn", "arn:aws:codeconnections:us-east-1:123456789012:host/*"}
	fuzzRequestRes     = []string{arnA, arnB, "*", strings.Replace(arnA, "codeconnections", "codestar-connections", 1), arnHost}
	fuzzEffects        = []Effect{Allow, Deny, Allow, Deny, "allow"}
)

// fuzzSource turns fuzz bytes into choices; exhausted, it chooses 0.
type fuzzSource []byte

func (s *fuzzSource) pick(n int) int {
	if len(*s) == 0 {
		return 0
	}
	b := (*s)[0]
	*s = (*s)[1:]
	return int(b) % n
}

func pickFrom[T any](s *fuzzSource, pool []T) T { return pool[s.pick(len(pool))] }

func (s *fuzzSource) strings(pool []string, max int) []string {
	out := make([]string, s.pick(max+1))
	for i := range out {
		out[i] = pickFrom(s, pool)
	}
	return out
}

func (s *fuzzSource) statement() Statement {
	st := Statement{Effect: pickFrom(s, fuzzEffects), Actions: s.strings(fuzzPolicyActions, 2), Resources: s.strings(fuzzPolicyRes, 2)}
	for range s.pick(4) {
		if st.Conditions == nil {
			st.Conditions = Conditions{}
		}
		op := pickFrom(s, fuzzOperators)
		if st.Conditions[op] == nil {
			st.Conditions[op] = map[string]Values{}
		}
		for range s.pick(3) {
			st.Conditions[op][pickFrom(s, fuzzKeys)] = s.strings(fuzzValues, 3)
		}
	}
	return st
}

func (s *fuzzSource) request() Request {
	r := Request{Action: pickFrom(s, fuzzRequestActions), Resource: pickFrom(s, fuzzRequestRes)}
	if n := s.pick(4); n > 0 {
		r.Context = Context{}
		for range n {
			r.Context[pickFrom(s, fuzzKeys)] = s.strings(fuzzValues, 2)
		}
	}
	return r
}

// FuzzEvaluateConditions checks Evaluate against referenceEvaluate and
// IAM's monotonicity: Deny statements never grant, and an added Allow
// statement never takes a grant away.
func FuzzEvaluateConditions(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0})
	f.Add([]byte{3, 0, 1, 2, 1, 1, 3, 50, 2, 4, 1, 2, 1, 3, 2, 0, 6, 1, 14, 0, 3, 2, 0, 1, 5, 1, 1, 9})
	f.Add([]byte("a fuzzer's seed of arbitrary bytes, long enough to reach conditions and contexts"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := fuzzSource(data)
		var p Policy
		for range 1 + src.pick(3) {
			p.Statements = append(p.Statements, src.statement())
		}
		r := src.request()
		extra := src.statement()

		got := p.Evaluate(r)
		if want := referenceEvaluate(p, r); got != want {
			t.Fatalf("Evaluate = %v, reference says %v\npolicy %+v\nrequest %+v", got, want, p, r)
		}
		if a := NewAuthorizer("", map[string]Policy{"K": p}).Authorize("K", r); a != got {
			t.Fatalf("Authorize = %v, Evaluate %v", a, got)
		}
		var denies, allows Policy
		for _, s := range p.Statements {
			if s.Effect == Allow {
				allows.Statements = append(allows.Statements, s)
			} else {
				denies.Statements = append(denies.Statements, s)
			}
		}
		if d := denies.Evaluate(r); d == Allowed {
			t.Fatalf("Deny statements alone allowed %+v: %+v", r, denies)
		}
		if got == Allowed && allows.Evaluate(r) != Allowed {
			t.Fatalf("removing Deny statements took a grant away: %+v", p)
		}
		extra.Effect = Allow
		more := Policy{Statements: append(p.Statements[:len(p.Statements):len(p.Statements)], extra)}
		if got == Allowed && more.Evaluate(r) != Allowed {
			t.Fatalf("adding %+v took a grant away from %+v", extra, p)
		}
		extra.Effect = Deny
		more.Statements[len(more.Statements)-1] = extra
		if got != Allowed && more.Evaluate(r) == Allowed {
			t.Fatalf("adding %+v granted %+v", extra, r)
		}
	})
}

// referenceEvaluate is IAM's evaluation written as plainly as possible,
// independent of the compiled evaluator: any applicable Deny denies, else
// any applicable Allow allows, else the default deny.
func referenceEvaluate(p Policy, r Request) Decision {
	decision := NotAllowed
	for _, s := range p.Statements {
		if !referenceApplies(s, r) {
			continue
		}
		if s.Effect != Allow {
			return Denied
		}
		decision = Allowed
	}
	return decision
}

func referenceApplies(s Statement, r Request) bool {
	actionOK, resourceOK := false, false
	for _, a := range s.Actions {
		if match(strings.ToLower(foldLegacy(a)), strings.ToLower(foldLegacy(r.Action))) {
			actionOK = true
		}
	}
	for _, res := range s.Resources {
		if matchResource(res, r.Resource) {
			resourceOK = true
		}
	}
	if !actionOK || !resourceOK {
		return false
	}
	for op, keys := range s.Conditions {
		if len(keys) == 0 && s.Effect == Allow {
			return false // an operator without keys is broken
		}
		for key, values := range keys {
			if !referenceCondition(op, key, values, r.Context, s.Effect == Allow) {
				return false
			}
		}
	}
	return true
}

// referenceCondition evaluates one operator-key pair. A pair that does
// not validate holds in a Deny statement and fails in an Allow statement.
func referenceCondition(op, key string, values Values, ctx Context, allow bool) bool {
	alone := Policy{Statements: []Statement{{Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"}, Conditions: Conditions{op: {key: values}}}}}
	if alone.Validate() != nil {
		return !allow
	}
	var set string
	name := op
	if rest, ok := strings.CutPrefix(name, "ForAnyValue:"); ok {
		set, name = "any", rest
	}
	if rest, ok := strings.CutPrefix(name, "ForAllValues:"); ok {
		set, name = "all", rest
	}
	name, ifExists := strings.CutSuffix(name, "IfExists")
	negated := strings.Contains(name, "Not")

	var got []string // the request's values, whatever the spelling of the key
	for k, v := range ctx {
		if strings.EqualFold(foldLegacy(k), foldLegacy(key)) {
			got = append(got, v...)
		}
	}
	if name == "Null" {
		for _, want := range values {
			if strings.EqualFold(want, "true") == (len(got) == 0) {
				return true
			}
		}
		return false
	}
	if len(got) == 0 {
		switch {
		case ifExists, set == "all":
			return true
		case set == "any":
			return false
		}
		return negated
	}
	matches := func(policyValue, v string) bool {
		switch name {
		case "StringEquals", "StringNotEquals":
			return policyValue == v
		case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "Bool":
			return strings.EqualFold(policyValue, v)
		case "StringLike", "StringNotLike":
			return match(policyValue, v)
		}
		return matchResource(policyValue, v) // the Arn operators
	}
	anyValueMatches := func(v string) bool {
		for _, pv := range values {
			if matches(pv, v) {
				return true
			}
		}
		return false
	}
	switch set {
	case "any":
		for _, v := range got {
			if anyValueMatches(v) != negated {
				return true
			}
		}
		return false
	case "all":
		for _, v := range got {
			if anyValueMatches(v) == negated {
				return false
			}
		}
		return true
	}
	found := false
	for _, v := range got {
		if anyValueMatches(v) {
			found = true
		}
	}
	return found != negated
}

// foldLegacy writes the legacy prefix as codeconnections, in any case.
func foldLegacy(s string) string {
	if len(s) > len(LegacyService) && strings.EqualFold(s[:len(LegacyService)+1], LegacyService+":") {
		return Service + s[len(LegacyService):]
	}
	return s
}
