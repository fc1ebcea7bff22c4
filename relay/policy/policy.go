// Package policy evaluates IAM-style policies for forgelink's access keys:
// statements that allow or deny actions (codeconnections:GetConnection,
// codeconnections:Get*, forgelink:ListEvents, *) on resources (ARNs with
// wildcards, or "*"), under conditions on the request (IAM's Condition
// block: codeconnections:FullRepositoryId, aws:ResourceTag/<key>, ...).
//
// Evaluation follows IAM: a request is allowed when some Allow statement
// matches it and no Deny statement does; an explicit Deny always wins, and
// a request no statement matches is denied (the default deny). A statement
// matches when one of its actions, one of its resources and all of its
// conditions do.
//
// Actions: CodeConnections' under codeconnections: (alias
// codestar-connections:), including AWS's permission-only ones
// (UseConnection, GetConnectionToken, PassConnection, the set-up
// handshakes); forgelink's own operations under forgelink:
// (ForgelinkActions).
//
// What forgelink supports of IAM's policy language: Effect, Action,
// Resource and Condition, as lists; '*' and '?' wildcards; the condition
// operators String(Not)Equals(IgnoreCase), String(Not)Like,
// Arn(Not)Equals, Arn(Not)Like, Bool and Null, with the ForAnyValue: and
// ForAllValues: qualifiers and the IfExists suffix. Not: NotAction,
// NotResource, Principal, policy variables, numeric, date and IP address
// operators.
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

// Bounds on a policy, so that no configuration makes evaluation slow.
const (
	// maxEntry bounds one action or resource; ARNs in the CodeConnections
	// model are at most 1011 characters.
	maxEntry      = 2048
	maxStatements = 128
	maxListLen    = 128 // actions or resources of a statement
)

// Statement is one statement of a policy, as written in the configuration.
type Statement struct {
	Effect     Effect     `yaml:"effect"`
	Actions    []string   `yaml:"actions"`
	Resources  []string   `yaml:"resources"`
	Conditions Conditions `yaml:"conditions,omitempty"`
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
// value; aws:TagKeys may have several (no values is the same as absent).
// Keys may be spelled in any case and with either service prefix (the Key
// constants are AWS's spelling); values are compared as given, and a key
// with several values is matched as IAM matches a multi-valued key
// without ForAnyValue:/ForAllValues: (one matching value suffices; for a
// negated operator none may match).
type Context map[string][]string

// Evaluate decides whether the policy allows the request. Statements are
// expected to have passed Validate; one that did not matches as best it
// can, and never grants more than a valid one could: an effect other than
// Allow counts as Deny, and a condition that does not validate fails in an
// Allow statement and holds in a Deny statement.
//
// Evaluate prepares the policy on every call; NewAuthorizer prepares each
// policy once.
func (p Policy) Evaluate(r Request) Decision { return compile(p).evaluate(r) }

// MayAllow reports whether some Allow statement names the action, on any
// resource and under any condition: a listing that is not allowed on "*"
// is then filtered record by record rather than denied outright.
func (p Policy) MayAllow(action string) bool { return compile(p).mayAllow(action) }

// arnSegments splits an ARN into its six colon-separated segments
// (arn:partition:service:region:account:resource); the resource segment
// keeps any further colons. The service is compared as written: a policy
// names a resource by its own prefix (codeconnections or the legacy
// codestar-connections, fixed when the resource was created), as IAM does.
func arnSegments(arn string) ([]string, bool) {
	seg := strings.SplitN(arn, ":", 6)
	if len(seg) != 6 || seg[0] != "arn" {
		return nil, false
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
	return ok && matchSegments(ps, rs)
}

// matchSegments matches the segments of a pattern ARN with a resource's.
func matchSegments(pattern, resource []string) bool {
	for i := range pattern {
		if !match(pattern[i], resource[i]) {
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
	switch {
	case len(p.Statements) == 0:
		bad("statements", "a policy needs at least one statement")
	case len(p.Statements) > maxStatements:
		bad("statements", "at most %d statements, got %d", maxStatements, len(p.Statements))
	}
	for i, s := range p.Statements {
		path := fmt.Sprintf("statements[%d]", i)
		if s.Effect != Allow && s.Effect != Deny {
			bad(path+".effect", "want Allow or Deny, got %q", s.Effect)
		}
		checkList(path+".actions", "action", s.Actions, CheckAction, bad)
		checkList(path+".resources", "resource", s.Resources, CheckResource, bad)
		checkConditions(path+".conditions", s.Conditions, bad)
	}
	if len(probs) > 0 {
		return probs
	}
	return nil
}

// Warnings lists what is valid but probably not meant, such as
// ForAllValues: on a single-valued key in an Allow statement (it holds
// whenever the request lacks the key); nil when there is nothing to say.
func (p Policy) Warnings() Problems {
	var warns Problems
	warn := func(path, format string, args ...any) {
		warns = append(warns, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	for i, s := range p.Statements {
		conditionWarnings(fmt.Sprintf("statements[%d].conditions", i), s.Conditions, s.Effect == Allow, warn)
	}
	return warns
}

func checkList(path, what string, entries []string, check func(string) error, bad func(path, format string, args ...any)) {
	switch {
	case len(entries) == 0:
		bad(path, "a statement needs at least one %s", what)
	case len(entries) > maxListLen:
		bad(path, "at most %d %ss in a statement, got %d", maxListLen, what, len(entries))
	}
	for j, e := range entries {
		if err := check(e); err != nil {
			bad(fmt.Sprintf("%s[%d]", path, j), "%v", err)
		}
	}
}

// CheckResource validates a resource pattern: "*", or an ARN of
// CodeConnections resources, arn:<partition>:codeconnections:<region>:
// <account>:<type>/<id>, in which any segment may hold wildcards. The
// service segment may also be codestar-connections (the prefix of
// resources created through the legacy API) or a wildcard.
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
	if seg[2] != Service && seg[2] != LegacyService && !strings.ContainsAny(seg[2], "*?") {
		return fmt.Errorf("service %q names no forgelink resource; want %s or %s in %q", seg[2], Service, LegacyService, r)
	}
	return nil
}
