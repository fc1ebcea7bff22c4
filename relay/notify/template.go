package notify

import (
	"encoding/json"
	"reflect"
	"text/template"
)

// ParseTemplate parses a body template over a *Message, as HTTP targets
// run it and the configuration validates it. A missing map key is an error
// rather than "<no value>" in a request body.
func ParseTemplate(text string) (*template.Template, error) {
	return template.New("body").Option("missingkey=error").Funcs(templateFuncs()).Parse(text)
}

// templateFuncs adds to text/template's own (urlquery, printf, index...):
// json quotes a value for JSON bodies, default replaces an empty one
// ({{index .Variables "TagName" | default "none"}}).
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"default": func(def, v any) any {
			rv := reflect.ValueOf(v)
			if !rv.IsValid() || rv.IsZero() || (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0 {
				return def
			}
			return v
		},
	}
}
