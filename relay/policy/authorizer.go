package policy

// Authorizer decides for forgelink's access keys: the root key may do
// everything, each configured key what its policy allows, and any other
// key nothing. It is immutable and safe for concurrent use.
type Authorizer struct {
	root     string
	policies map[string]*compiled
}

// NewAuthorizer returns the Authorizer for the root access key id (empty
// when there is none) and the policies of the other keys, by access key id.
// Each policy is prepared for evaluation once, here; the prepared form
// shares condition values with policies, which the caller must not change
// afterwards.
func NewAuthorizer(root string, policies map[string]Policy) *Authorizer {
	a := &Authorizer{root: root, policies: make(map[string]*compiled, len(policies))}
	for id, p := range policies {
		a.policies[id] = compile(p)
	}
	return a
}

// Authorize evaluates the request for the access key accessKeyID, which
// authentication has already verified.
func (a *Authorizer) Authorize(accessKeyID string, r Request) Decision {
	if a.root != "" && accessKeyID == a.root {
		return Allowed
	}
	p, ok := a.policies[accessKeyID]
	if !ok {
		return NotAllowed
	}
	return p.evaluate(r)
}

// MayAllow reports whether the key's policy has an Allow statement for the
// action at all (see Policy.MayAllow); the root key may do everything.
func (a *Authorizer) MayAllow(accessKeyID, action string) bool {
	if a.root != "" && accessKeyID == a.root {
		return true
	}
	p, ok := a.policies[accessKeyID]
	return ok && p.mayAllow(action)
}

// UsesKey reports whether the key's policy could read, for the action, a
// condition key that begins with keyPrefix: whether some statement that
// names the action has a condition on such a key. Keys are compared as
// evaluation compares them (case-insensitively, codestar-connections: as
// codeconnections:). When it reports false, the request's context keys
// with that prefix change no decision Authorize makes on the action, so a
// caller may skip gathering them (aws:ResourceTag/ needs a store lookup).
// The root key and unknown keys read none.
func (a *Authorizer) UsesKey(accessKeyID, action, keyPrefix string) bool {
	if a.root != "" && accessKeyID == a.root {
		return false
	}
	p, ok := a.policies[accessKeyID]
	return ok && p.usesKey(action, keyPrefix)
}
