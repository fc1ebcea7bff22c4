package policy

import (
	"slices"
	"strings"
)

// compiled is a policy prepared for evaluation: action patterns folded,
// resource patterns split into segments, conditions parsed.
type compiled struct {
	statements []compiledStatement
	// reading are the indexes of the statements with a condition that
	// reads the request's context (most policies have none), so that
	// usesKey looks at these only.
	reading []int
}

type compiledStatement struct {
	allow      bool
	actions    []string   // normalised patterns
	resources  [][]string // segments; nil for "*", empty for a pattern that is no ARN
	conditions []condition
}

func compile(p Policy) *compiled {
	c := &compiled{statements: make([]compiledStatement, len(p.Statements))}
	for i, s := range p.Statements {
		cs := compiledStatement{allow: s.Effect == Allow, conditions: compileConditions(s.Conditions)}
		for _, a := range s.Actions {
			cs.actions = append(cs.actions, normalizeAction(a))
		}
		for _, r := range s.Resources {
			seg, ok := arnSegments(r)
			switch {
			case r == "*":
				seg = nil
			case !ok:
				seg = []string{}
			}
			cs.resources = append(cs.resources, seg)
		}
		c.statements[i] = cs
		if slices.ContainsFunc(cs.conditions, func(cd condition) bool { return !cd.broken }) {
			c.reading = append(c.reading, i)
		}
	}
	return c
}

// evaluate applies IAM's logic: an explicit Deny wins, else an Allow
// grants, else the default deny.
func (c *compiled) evaluate(r Request) Decision {
	action := normalizeAction(r.Action)
	resource, isARN := arnSegments(r.Resource)
	var ctx Context // normalised on first use
	decision := NotAllowed
	for i := range c.statements {
		s := &c.statements[i]
		if s.allow && decision == Allowed {
			continue // only a Deny could still change the outcome
		}
		if !s.matchesAction(action) || !s.matchesResource(resource, isARN) {
			continue
		}
		if len(s.conditions) > 0 {
			if ctx == nil {
				ctx = normalizeContext(r.Context)
			}
			if !s.conditionsHold(ctx) {
				continue
			}
		}
		if !s.allow {
			return Denied
		}
		decision = Allowed
	}
	return decision
}

func (c *compiled) mayAllow(action string) bool {
	action = normalizeAction(action)
	return slices.ContainsFunc(c.statements, func(s compiledStatement) bool { return s.allow && s.matchesAction(action) })
}

// usesKey reports whether a statement naming the action has a condition
// on a key that begins with prefix in one of its spellings. A broken
// condition reads nothing (see condition.holds).
func (c *compiled) usesKey(action, prefix string) bool {
	if len(c.reading) == 0 {
		return false
	}
	action, prefix = normalizeAction(action), normalizeKey(prefix)
	// A prefix that "codestar-connections:" begins with ("codestar") also
	// begins the legacy spelling of every codeconnections: key, which
	// evaluation treats as the same key.
	legacy := strings.HasPrefix(LegacyService+":", prefix)
	reads := func(cd condition) bool {
		return !cd.broken && (strings.HasPrefix(cd.key, prefix) || legacy && strings.HasPrefix(cd.key, Service+":"))
	}
	return slices.ContainsFunc(c.reading, func(i int) bool {
		s := &c.statements[i]
		return s.matchesAction(action) && slices.ContainsFunc(s.conditions, reads)
	})
}

func (s *compiledStatement) matchesAction(action string) bool {
	return slices.ContainsFunc(s.actions, func(p string) bool { return match(p, action) })
}

func (s *compiledStatement) matchesResource(resource []string, isARN bool) bool {
	return slices.ContainsFunc(s.resources, func(p []string) bool {
		return p == nil || (isARN && len(p) == len(resource) && matchSegments(p, resource))
	})
}

func (s *compiledStatement) conditionsHold(ctx Context) bool {
	for i := range s.conditions {
		if !s.conditions[i].holds(ctx, s.allow) {
			return false
		}
	}
	return true
}
