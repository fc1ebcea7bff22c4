package policy

import "slices"

// compiled is a policy prepared for evaluation: action patterns folded,
// resource patterns split into segments, conditions parsed.
type compiled struct {
	statements []compiledStatement
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
