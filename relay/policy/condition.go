package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Conditions is a statement's condition block as IAM writes it: condition
// operator → condition key → values. Every operator must hold, and within
// an operator every key; a key holds when one of its values matches (for a
// negated operator: when none does).
type Conditions map[string]map[string]Values

// Values are a condition key's values. In YAML they are a scalar or a
// list of scalars, as IAM accepts a string or an array.
type Values []string

// comparison is how an operator compares a policy value with a request's.
type comparison uint8

const (
	cmpString comparison = iota
	cmpStringIgnoreCase
	cmpStringLike
	cmpArn
	cmpBool
	cmpNull
)

// match compares a policy value (a pattern for the Like and Arn
// comparisons) with a request value. Null never compares values.
func (c comparison) match(policyValue, requestValue string) bool {
	switch c {
	case cmpString:
		return policyValue == requestValue
	case cmpStringIgnoreCase, cmpBool:
		return strings.EqualFold(policyValue, requestValue)
	case cmpStringLike:
		return match(policyValue, requestValue)
	case cmpArn:
		// IAM matches ArnEquals like ArnLike: segment by segment, with
		// wildcards in each.
		return matchResource(policyValue, requestValue)
	}
	return false
}

// baseOperators are the condition operators without set qualifier and
// IfExists suffix.
var baseOperators = map[string]struct {
	cmp     comparison
	negated bool
}{
	"StringEquals":              {cmpString, false},
	"StringNotEquals":           {cmpString, true},
	"StringEqualsIgnoreCase":    {cmpStringIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {cmpStringIgnoreCase, true},
	"StringLike":                {cmpStringLike, false},
	"StringNotLike":             {cmpStringLike, true},
	"ArnEquals":                 {cmpArn, false},
	"ArnLike":                   {cmpArn, false},
	"ArnNotEquals":              {cmpArn, true},
	"ArnNotLike":                {cmpArn, true},
	"Bool":                      {cmpBool, false},
	"Null":                      {cmpNull, false},
}

// setQualifier is IAM's ForAnyValue:/ForAllValues: prefix.
type setQualifier uint8

const (
	setNone setQualifier = iota
	setAnyValue
	setAllValues
)

const (
	prefixAnyValue  = "ForAnyValue:"
	prefixAllValues = "ForAllValues:"
	suffixIfExists  = "IfExists"
)

// operator is a parsed condition operator.
type operator struct {
	cmp      comparison
	negated  bool
	ifExists bool
	set      setQualifier
}

// parseOperator parses "[ForAnyValue:|ForAllValues:]<base>[IfExists]".
// Operator names are case-sensitive, as in IAM.
func parseOperator(name string) (operator, error) {
	var op operator
	base := name
	if rest, ok := strings.CutPrefix(base, prefixAnyValue); ok {
		base, op.set = rest, setAnyValue
	} else if rest, ok := strings.CutPrefix(base, prefixAllValues); ok {
		base, op.set = rest, setAllValues
	}
	if rest, ok := strings.CutSuffix(base, suffixIfExists); ok {
		base, op.ifExists = rest, true
	}
	b, ok := baseOperators[base]
	if !ok {
		return op, unknownOperator(name)
	}
	op.cmp, op.negated = b.cmp, b.negated
	if op.cmp == cmpNull && op.ifExists {
		return op, fmt.Errorf("Null tests whether the key exists and takes no IfExists")
	}
	if op.cmp == cmpNull && op.set != setNone {
		return op, fmt.Errorf("Null tests whether the key exists and takes no %s or %s", prefixAnyValue, prefixAllValues)
	}
	return op, nil
}

func unknownOperator(name string) error {
	names := make([]string, 0, len(baseOperators))
	for n := range baseOperators {
		names = append(names, n)
	}
	slices.Sort(names)
	base, _ := strings.CutSuffix(strings.TrimPrefix(strings.TrimPrefix(name, prefixAnyValue), prefixAllValues), suffixIfExists)
	for _, n := range names {
		if strings.EqualFold(base, n) {
			return fmt.Errorf("unknown condition operator %q: operator names are case-sensitive; did you mean %s?", name, n)
		}
	}
	return fmt.Errorf("unknown condition operator %q; want one of %s, optionally with the prefix %s or %s and the suffix %s (not on Null)",
		name, strings.Join(names, ", "), prefixAnyValue, prefixAllValues, suffixIfExists)
}

// Bounds on a condition block, so that no configuration makes evaluation
// slow: the matcher's time is at most len(pattern) × len(value).
const (
	maxConditions      = 32   // operator-key pairs per statement
	maxConditionValues = 64   // values per key
	maxConditionValue  = 1024 // characters per value; ARNs are at most 1011
)

// checkValues returns the problems of one key's values under op.
func checkValues(op operator, key string, values Values) []string {
	if len(values) == 0 {
		return []string{"a condition key needs at least one value"}
	}
	if len(values) > maxConditionValues {
		return []string{fmt.Sprintf("at most %d values, got %d", maxConditionValues, len(values))}
	}
	var probs []string
	for _, v := range values {
		if err := checkValue(op, key, v); err != nil {
			probs = append(probs, err.Error())
		}
	}
	return probs
}

func checkValue(op operator, key, v string) error {
	switch {
	case len(v) > maxConditionValue:
		return fmt.Errorf("a value has at most %d characters, got %d", maxConditionValue, len(v))
	case strings.Contains(v, "${"):
		return fmt.Errorf("value %q: policy variables are not supported", v)
	case op.cmp == cmpNull || op.cmp == cmpBool:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Errorf("want true or false, got %q", v)
		}
	case op.cmp == cmpArn:
		if seg, ok := arnSegments(v); v != "*" && (!ok || seg[5] == "") {
			return fmt.Errorf("want an ARN (wildcards * and ? allowed) or *, got %q", v)
		}
	default:
		return checkEnumValue(key, op.cmp, v)
	}
	return nil
}

// condition is one operator-key pair, ready to evaluate.
type condition struct {
	op     operator
	key    string // normalised
	values []string
	// broken marks a condition that did not validate: it holds in a Deny
	// statement and fails in an Allow statement, so that it never grants
	// more than a valid policy could.
	broken bool
}

// compileConditions turns a block into conditions, in a stable order. An
// operator that does not parse or has no key (it would hold vacuously)
// becomes one broken condition.
func compileConditions(c Conditions) []condition {
	var out []condition
	for _, opName := range sortedKeys(c) {
		op, err := parseOperator(opName)
		if err != nil || len(c[opName]) == 0 {
			out = append(out, condition{broken: true})
			continue
		}
		for _, key := range sortedKeys(c[opName]) {
			values := c[opName][key]
			broken := checkKey(key) != nil || len(checkValues(op, key, values)) > 0
			out = append(out, condition{op: op, key: normalizeKey(key), values: values, broken: broken})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// holds evaluates the condition against a normalised context (see
// normalizeContext), with IAM's rules for absent keys: false, except for
// negated operators, IfExists, ForAllValues (true) and Null.
func (c *condition) holds(ctx Context, allow bool) bool {
	if c.broken {
		return !allow
	}
	vals := ctx[c.key]
	present := len(vals) > 0
	if c.op.cmp == cmpNull {
		return slices.ContainsFunc(c.values, func(v string) bool { return strings.EqualFold(v, "true") != present })
	}
	if !present {
		switch {
		case c.op.ifExists || c.op.set == setAllValues:
			return true
		case c.op.set == setAnyValue:
			return false
		}
		return c.op.negated
	}
	switch c.op.set {
	case setAnyValue:
		return slices.ContainsFunc(vals, c.holdsFor)
	case setAllValues:
		return !slices.ContainsFunc(vals, func(v string) bool { return !c.holdsFor(v) })
	}
	// Without a set qualifier a negated operator holds when no request
	// value matches any policy value, a positive one when some does.
	return c.op.negated != slices.ContainsFunc(vals, c.matchesAny)
}

// holdsFor applies the operator to one request value.
func (c *condition) holdsFor(v string) bool { return c.op.negated != c.matchesAny(v) }

// matchesAny reports whether some policy value matches the request value.
func (c *condition) matchesAny(v string) bool {
	return slices.ContainsFunc(c.values, func(p string) bool { return c.op.cmp.match(p, v) })
}

// normalizeContext returns the context with its keys normalised; values
// of keys that differ only in spelling are merged.
func normalizeContext(ctx Context) Context {
	out := make(Context, len(ctx))
	for k, v := range ctx {
		n := normalizeKey(k)
		if prev, ok := out[n]; ok {
			out[n] = append(slices.Clip(prev), v...)
			continue
		}
		out[n] = v
	}
	return out
}

// checkConditions reports the problems of a statement's condition block
// at path ("statements[0].conditions"): unknown operators and keys, keys
// listed twice in different spellings, bad values and sizes.
func checkConditions(path string, c Conditions, bad func(path, format string, args ...any)) {
	n := 0
	for _, opName := range sortedKeys(c) {
		opPath := path + "." + opName
		op, err := parseOperator(opName)
		if err != nil {
			bad(opPath, "%v", err)
			continue
		}
		if len(c[opName]) == 0 {
			bad(opPath, "an operator needs at least one condition key")
		}
		seen := map[string]string{}
		for _, key := range sortedKeys(c[opName]) {
			n++
			keyPath := opPath + "." + key
			if err := checkKey(key); err != nil {
				bad(keyPath, "%v", err)
				continue
			}
			if other, dup := seen[normalizeKey(key)]; dup {
				bad(keyPath, "the same key as %s (condition keys are case-insensitive)", other)
			}
			seen[normalizeKey(key)] = key
			for _, msg := range checkValues(op, key, c[opName][key]) {
				bad(keyPath, "%s", msg)
			}
		}
	}
	if n > maxConditions {
		bad(path, "at most %d condition keys in a statement, got %d", maxConditions, n)
	}
}

// conditionWarnings reports conditions that are valid but probably not
// what their author meant.
func conditionWarnings(path string, c Conditions, allow bool, warn func(path, format string, args ...any)) {
	if !allow {
		return
	}
	for _, opName := range sortedKeys(c) {
		op, err := parseOperator(opName)
		if err != nil || op.set != setAllValues {
			continue
		}
		for _, key := range sortedKeys(c[opName]) {
			if checkKey(key) == nil && !multiValued(normalizeKey(key)) {
				warn(path+"."+opName+"."+key, "%s on the single-valued key %s holds whenever a request does not carry the key, so this Allow also grants those requests; write %s unless that is meant",
					opName, key, strings.TrimPrefix(opName, prefixAllValues))
			}
		}
	}
}
