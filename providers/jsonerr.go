package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// JSONError is a payload that does not decode, described without quoting
// it: encoding/json's own messages include the offending characters and
// numbers, and these errors go to logs and back to the sender. It unwraps
// to encoding/json's error.
type JSONError struct {
	Offset int64  // of a syntax error
	Field  string // dotted member path of a type error, "" for the body itself
	Want   string // the JSON kind a type error wanted; "" for a syntax error
	err    error
}

func (e *JSONError) Error() string {
	switch {
	case e.Want == "":
		return fmt.Sprintf("invalid JSON at offset %d", e.Offset)
	case e.Field == "":
		return "not a JSON " + e.Want
	}
	return fmt.Sprintf("field %s: want %s", e.Field, e.Want)
}

func (e *JSONError) Unwrap() error { return e.err }

// errInvalidPayload stands for any other decoding error, whose text may
// quote the body.
var errInvalidPayload = errors.New("invalid payload")

// DescribeJSON returns a decoding error of encoding/json as a *JSONError
// (nil stays nil).
func DescribeJSON(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		return &JSONError{Offset: syntax.Offset, err: err}
	case errors.As(err, &typ):
		return &JSONError{Field: typ.Field, Want: jsonKind(typ.Type), err: err}
	}
	return errInvalidPayload
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	}
	return "number"
}
