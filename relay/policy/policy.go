// Package policy evaluates IAM-style policies for forgelink's access keys:
// statements that allow or deny actions (codeconnections:GetConnection,
// codeconnections:Get*, codeconnections:*) on resources (ARNs with
// wildcards, or "*").
//
// Evaluation follows IAM: a request is allowed when some Allow statement
// matches it and no Deny statement does; an explicit Deny always wins, and
// a request no statement matches is denied (the default deny).
//
// What forgelink supports of IAM's policy language: Effect, Action and
// Resource, as lists; '*' and '?' wildcards. Not: NotAction, NotResource,
// Condition, Principal, policy variables.
package policy

import (
	"fmt"
	"strings"
	"unicode"
)

// Effect is what a statement does to the requests it matches.
type Effect string

// The two effects, spelled as IAM spells them (case matters).
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Service is the action and ARN prefix of every forgelink action;
// LegacyService is accepted as an alias for it, because both API
// namespaces reach the same records.
const (
	Service       = "codeconnections"
	LegacyService = "codestar-connections"
)

// maxEntry bounds one action or resource; ARNs in the CodeConnections
// model are at most 1011 characters.
const maxEntry = 2048

// Statement is one statement of a policy, as written in the configuration.
type Statement struct {
	Effect    Effect   `yaml:"effect"`
	Actions   []string `yaml:"actions"`
	Resources []string `yaml:"resources"`
}

// Policy is an access key's list of statements.
type Policy struct {
	Statements []Statement `yaml:"statements"`
}

// Decision is the outcome of evaluating a request against a policy.
type Decision uint8

const (
	// NotAllowed: no statement allows the request (IAM's default deny).
	NotAllowed Decision = iota
	// Allowed: an Allow statement matches and no Deny statement does.
	Allowed
	// Denied: a Deny statement matches (IAM's explicit deny).
	Denied
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case Denied:
		return "explicitly denied"
	}
	return "not allowed"
}

// Request is one thing to authorise: an action on a resource, with the
// condition keys the operation knows after decoding its input. An
// operation that touches several resources is several Requests, each of
// which must be allowed.
type Request struct {
	// Action is "<service>:<Action>", e.g. "codeconnections:GetConnection".
	Action string
	// Resource is an ARN, or "*" for an operation on no single resource.
	Resource string
	// Context holds the request's condition keys ("codeconnections:
	// ProviderType", "aws:ResourceTag/team", "aws:TagKeys"); a key absent
	// from it is absent from the request, as IAM's condition operators
	// distinguish.
	Context Context
}

// Context maps condition keys to their values. Single-valued keys have one
// value; aws:TagKeys may have several.
type Context map[string][]string

// Evaluate decides whether the policy allows the request. Statements are
// expected to have passed Validate; one that did not matches as best it
// can, and an effect other than Allow counts as Deny, so that a broken
// statement never grants more.
func (p Policy) Evaluate(r Request) Decision {
	action, resource := normalizeAction(r.Action), r.Resource
	decision := NotAllowed
	for _, s := range p.Statements {
		if !s.matches(action, resource) {
			continue
		}
		if s.Effect != Allow {
			return Denied
		}
		decision = Allowed
	}
	return decision
}

// MayAllow reports whether some Allow statement names the action, on any
// resource and under any condition: a listing that is not allowed on "*"
// is then filtered record by record rather than denied outright.
func (p Policy) MayAllow(action string) bool {
	action = normalizeAction(action)
	for _, s := range p.Statements {
		if s.Effect == Allow && anyMatch(s.Actions, func(pattern string) bool { return match(normalizeAction(pattern), action) }) {
			return true
		}
	}
	return false
}

func (s Statement) matches(action, resource string) bool {
	return anyMatch(s.Actions, func(pattern string) bool { return match(normalizeAction(pattern), action) }) &&
		anyMatch(s.Resources, func(pattern string) bool { return matchResource(pattern, resource) })
}

func anyMatch(patterns []string, m func(string) bool) bool {
	for _, p := range patterns {
		if m(p) {
			return true
		}
	}
	return false
}

// normalizeAction folds case (IAM action names are case-insensitive) and
// the legacy service prefix into the one form matching compares.
func normalizeAction(a string) string {
	a = strings.ToLower(a)
	if rest, ok := strings.CutPrefix(a, LegacyService+":"); ok {
		return Service + ":" + rest
	}
	return a
}

// arnSegments splits an ARN into its six colon-separated segments
// (arn:partition:service:region:account:resource); the resource segment
// keeps any further colons. The legacy service is folded into Service.
func arnSegments(arn string) ([]string, bool) {
	seg := strings.SplitN(arn, ":", 6)
	if len(seg) != 6 || seg[0] != "arn" {
		return nil, false
	}
	if seg[2] == LegacyService {
		seg[2] = Service
	}
	return seg, true
}

// matchResource matches a resource pattern segment by segment, so that a
// wildcard never reaches across the colons that delimit region and
// account: "arn:aws:codeconnections:*:111111111111:connection/*" cannot
// match an ARN of another account however its other segments are spelled.
// ARNs are case-sensitive, as in IAM.
func matchResource(pattern, resource string) bool {
	if pattern == "*" {
		return true
	}
	ps, ok := arnSegments(pattern)
	if !ok {
		return false
	}
	rs, ok := arnSegments(resource)
	if !ok {
		return false
	}
	for i := range ps {
		if !match(ps[i], rs[i]) {
			return false
		}
	}
	return true
}

// Problem is one invalid part of a policy. Path names it relative to the
// policy, as the YAML spells it: "statements[1].actions[0]".
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) Error() string { return p.Path + ": " + p.Msg }

// Problems lists every problem Validate found; it is never empty.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return "invalid policy: " + strings.Join(msgs, "; ")
}

// Validate checks every statement and returns Problems, or nil.
func (p Policy) Validate() error {
	var probs Problems
	bad := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if len(p.Statements) == 0 {
		bad("statements", "a policy needs at least one statement")
	}
	for i, s := range p.Statements {
		path := fmt.Sprintf("statements[%d]", i)
		if s.Effect != Allow && s.Effect != Deny {
			bad(path+".effect", "want Allow or Deny, got %q", s.Effect)
		}
		checkList(path+".actions", "action", s.Actions, CheckAction, bad)
		checkList(path+".resources", "resource", s.Resources, CheckResource, bad)
	}
	if len(probs) > 0 {
		return probs
	}
	return nil
}

func checkList(path, what string, entries []string, check func(string) error, bad func(path, format string, args ...any)) {
	if len(entries) == 0 {
		bad(path, "a statement needs at least one %s", what)
	}
	for j, e := range entries {
		if err := check(e); err != nil {
			bad(fmt.Sprintf("%s[%d]", path, j), "%v", err)
		}
	}
}

// CheckAction validates an action pattern: "*", or
// "codeconnections:<name>" (or "codestar-connections:<name>") where the
// name is letters and digits with '*' and '?' wildcards.
func CheckAction(a string) error {
	if a == "*" {
		return nil
	}
	service, name, ok := strings.Cut(a, ":")
	if !ok || (!strings.EqualFold(service, Service) && !strings.EqualFold(service, LegacyService)) {
		return fmt.Errorf("want %s:<Operation> (wildcards * and ? allowed in the operation) or *, got %q", Service, a)
	}
	if name == "" || len(name) > 128 {
		return fmt.Errorf("want 1-128 characters after %q, got %q", service+":", a)
	}
	for _, r := range name {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '*' || r == '?') {
			return fmt.Errorf("an operation name has only letters, digits and the wildcards * and ?, got %q", a)
		}
	}
	return nil
}

// CheckResource validates a resource pattern: "*", or an ARN of
// CodeConnections resources, arn:<partition>:codeconnections:<region>:
// <account>:<type>/<id>, in which any segment may hold wildcards. The
// service segment may also be codestar-connections (the same records) or
// a wildcard.
func CheckResource(r string) error {
	if r == "*" {
		return nil
	}
	if len(r) > maxEntry {
		return fmt.Errorf("at most %d characters, got %d", maxEntry, len(r))
	}
	for _, c := range r {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' ' {
			return fmt.Errorf("an ARN has only visible ASCII characters, got %q", r)
		}
	}
	seg, ok := arnSegments(r)
	if !ok || seg[1] == "" || seg[5] == "" {
		return fmt.Errorf("want * or an ARN such as arn:aws:%s:us-east-1:123456789012:connection/* (wildcards * and ? allowed), got %q", Service, r)
	}
	if seg[2] != Service && !strings.ContainsAny(seg[2], "*?") {
		return fmt.Errorf("service %q names no forgelink resource; want %s or %s in %q", seg[2], Service, LegacyService, r)
	}
	return nil
}
