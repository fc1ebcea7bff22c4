package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/forgelink/forgelink/internal/spell"
)

// checker walks a YAML node tree against the Go type it decodes into,
// collecting every unknown key and kind mismatch with its line and field
// path. yaml.v3 alone stops at the first unknown key, and words its type
// errors in its own terms.
type checker struct {
	file     string
	problems ValidationError
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
	// linePrefix is how custom unmarshalers (relay/policy) place an error,
	// syntaxPrefix how yaml.v3 places a syntax error.
	linePrefix   = regexp.MustCompile(`^line (\d+): `)
	syntaxPrefix = regexp.MustCompile(`^yaml: line (\d+): `)
)

func (c *checker) bad(line int, field, format string, args ...any) {
	if field == "" {
		field = "(top level)"
	}
	c.problems = append(c.problems, FieldError{File: c.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// check reports what in n cannot decode into t and cuts it out of the tree,
// so that the real decode that follows sees only what fits. It reports
// whether n fits; line is where the field is named (its key's line).
func (c *checker) check(n *yaml.Node, t reflect.Type, field string, line int) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case isNull(n) || t.Kind() == reflect.Interface:
		return true
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return c.checkUnmarshaler(n, t, field, line)
	case t.Kind() == reflect.Pointer:
		return c.check(n, t.Elem(), field, line)
	case t.Kind() == reflect.Struct:
		return c.want(n, yaml.MappingNode, "a mapping", field, line) && c.checkStruct(n, t, field)
	case t.Kind() == reflect.Map:
		return c.want(n, yaml.MappingNode, "a mapping", field, line) && c.checkMap(n, t, field)
	case t.Kind() == reflect.Slice:
		return c.want(n, yaml.SequenceNode, "a list", field, line) && c.checkSlice(n, t, field)
	}
	return c.want(n, yaml.ScalarNode, scalarName(t), field, line) && c.checkScalar(n, t, field, line)
}

func (c *checker) want(n *yaml.Node, kind yaml.Kind, what, field string, line int) bool {
	if n.Kind == kind {
		return true
	}
	c.bad(line, field, "want %s, got %s", what, nodeKind(n))
	return false
}

func (c *checker) checkStruct(n *yaml.Node, t reflect.Type, field string) bool {
	fields := yamlFields(t)
	seen := map[string]int{}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := joinField(field, k.Value)
		sf, known := fields[k.Value]
		switch {
		case k.ShortTag() == "!!merge":
			c.checkMerge(v, t, field)
			kept = append(kept, k, v)
		case !known:
			c.bad(k.Line, path, "unknown field%s", suggest(k.Value, fields))
		case seen[k.Value] > 0:
			c.bad(k.Line, path, "set twice (first at line %d)", seen[k.Value])
		default:
			seen[k.Value] = k.Line
			if c.check(v, sf.Type, path, k.Line) {
				kept = append(kept, k, v)
			}
		}
	}
	n.Content = kept
	return true
}

// checkMerge checks what a merge key (<<: *defaults) brings in: a mapping
// or a list of them.
func (c *checker) checkMerge(v *yaml.Node, t reflect.Type, field string) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind != yaml.SequenceNode {
		c.check(v, t, field, v.Line)
		return
	}
	for _, m := range v.Content {
		c.check(m, t, field, m.Line)
	}
}

func (c *checker) checkMap(n *yaml.Node, t reflect.Type, field string) bool {
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := joinField(field, k.Value)
		if c.check(k, t.Key(), path, k.Line) && c.check(v, t.Elem(), path, k.Line) {
			kept = append(kept, k, v)
		}
	}
	n.Content = kept
	return true
}

func (c *checker) checkSlice(n *yaml.Node, t reflect.Type, field string) bool {
	for i, item := range n.Content {
		if !c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", field, i), item.Line) {
			// A zero item, not none: dropping it would shift the indices
			// that later problems are reported under.
			n.Content[i] = zeroNode(t.Elem())
		}
	}
	return true
}

// zeroNode is the YAML of t's zero value (of what it points to).
func zeroNode(t reflect.Type) *yaml.Node {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var n yaml.Node
	if err := n.Encode(reflect.Zero(t).Interface()); err != nil {
		return &yaml.Node{Kind: yaml.MappingNode}
	}
	return &n
}

// checkUnmarshaler lets a type that decodes itself judge its node, and
// reports its error at the line it names, else at the field's.
func (c *checker) checkUnmarshaler(n *yaml.Node, t reflect.Type, field string, line int) bool {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return true
	}
	msg := err.Error()
	if m := linePrefix.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	c.bad(line, field, "%s", msg)
	return false
}

func (c *checker) checkScalar(n *yaml.Node, t reflect.Type, field string, line int) bool {
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		c.bad(line, field, "want %s, got %q", scalarName(t), n.Value)
		return false
	}
	return true
}

// yamlFields maps a struct's YAML keys to its fields, as yaml.v3 names them.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = f
	}
	return fields
}

func joinField(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// suggest names the known key a misspelled one was probably meant to be.
func suggest(key string, fields map[string]reflect.StructField) string {
	best, bestDist := "", 3 // more than two edits is no longer a misspelling
	for name := range fields {
		if d := spell.Distance(strings.ToLower(key), strings.ToLower(name)); d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// nodeKind names what a node is, quoting a scalar's text.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func scalarName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == durationType {
			return "a duration such as 30s, 5m or 1h30m"
		}
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a string"
}

// decodeProblems turns a decode error the walk did not foresee into
// problems, so that none is lost.
func decodeProblems(file string, err error) ValidationError {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return ValidationError{{File: file, Field: "(file)", Msg: err.Error()}}
	}
	var out ValidationError
	for _, msg := range te.Errors {
		fe := FieldError{File: file, Field: "(file)", Msg: msg}
		if m := linePrefix.FindStringSubmatch(msg); m != nil {
			fe.Line, _ = strconv.Atoi(m[1])
			fe.Msg = msg[len(m[0]):]
		}
		out = append(out, fe)
	}
	return out
}

// syntaxError places a YAML syntax error as file:line: reason.
func syntaxError(file string, err error) error {
	msg := err.Error()
	if m := syntaxPrefix.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("parse config: %s:%s: %s", file, m[1], msg[len(m[0]):])
	}
	return fmt.Errorf("parse config %s: %w", file, err)
}
