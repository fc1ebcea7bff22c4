package policy

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// UnmarshalYAML decodes the block keeping each operator and key as
// written: YAML would otherwise read the operator Null as a null key.
func (c *Conditions) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if isNull(n) {
		*c = nil
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: conditions map operators to condition keys, got %s", n.Line, nodeKind(n))
	}
	out := make(Conditions, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		op, body := n.Content[i], resolveAlias(n.Content[i+1])
		if err := checkMapKey(op, "condition operator", out); err != nil {
			return err
		}
		keys, err := decodeKeys(body)
		if err != nil {
			return err
		}
		out[op.Value] = keys
	}
	*c = out
	return nil
}

// decodeKeys decodes one operator's mapping of condition keys to values.
func decodeKeys(n *yaml.Node) (map[string]Values, error) {
	keys := map[string]Values{}
	if isNull(n) {
		return keys, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: an operator maps condition keys to values, got %s", n.Line, nodeKind(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if err := checkMapKey(key, "condition key", keys); err != nil {
			return nil, err
		}
		var v Values
		if err := v.UnmarshalYAML(n.Content[i+1]); err != nil {
			return nil, err
		}
		keys[key.Value] = v
	}
	return keys, nil
}

// checkMapKey refuses a key that is no string or is in m already.
func checkMapKey[V any](k *yaml.Node, what string, m map[string]V) error {
	if k.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a %s is a string, got %s", k.Line, what, nodeKind(k))
	}
	if _, dup := m[k.Value]; dup {
		return fmt.Errorf("line %d: %s %q is listed twice", k.Line, what, k.Value)
	}
	return nil
}

// UnmarshalYAML accepts a scalar or a list of scalars; a null is no value
// at all (which Validate refuses). Scalars keep their text: 0123 stays
// "0123", true stays "true".
func (v *Values) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	switch {
	case isNull(n):
		*v = nil
		return nil
	case n.Kind == yaml.ScalarNode:
		*v = Values{n.Value}
		return nil
	case n.Kind == yaml.SequenceNode:
		vals := make(Values, 0, len(n.Content))
		for _, c := range n.Content {
			c = resolveAlias(c)
			if c.Kind != yaml.ScalarNode || isNull(c) {
				return fmt.Errorf("line %d: a condition value is a string, got %s", c.Line, nodeKind(c))
			}
			vals = append(vals, c.Value)
		}
		*v = vals
		return nil
	}
	return fmt.Errorf("line %d: condition values are a string or a list of strings, got %s", n.Line, nodeKind(n))
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// nodeKind names the kind of a node for messages.
func nodeKind(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "null"
	}
	return "a string"
}
