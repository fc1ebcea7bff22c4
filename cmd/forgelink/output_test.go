package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/smithy-go"
	"gopkg.in/yaml.v3"
)

func TestShowBody(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"a":[1,2]}`, "{\n  \"a\": [\n    1,\n    2\n  ]\n}"},
		{"ref=main&after=abc\n", "ref=main&after=abc"},
		{"payload=%7B%7D", "payload=%7B%7D"},
		{"\x1f\x8b\x08\x00", "(4 bytes, binary)"},
		{"caf\xe9", "(4 bytes, binary)"},
		{"replaced \ufffd byte", "(17 bytes, binary)"},
		{"", ""},
	} {
		if got := showBody(tc.body); got != tc.want {
			t.Errorf("showBody(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

// FuzzShowBody: a body is shown as UTF-8 text without control characters
// other than line breaks and tabs, or as its size.
func FuzzShowBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "text\n", "\x00\x01", "caf\xe9", `[1,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := showBody(body)
		if got == fmt.Sprintf("(%d bytes, binary)", len(body)) {
			return
		}
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }) {
			t.Fatalf("showBody(%q) = %q: not plain text", body, got)
		}
	})
}

// TestYAMLMatchesJSON: the YAML output decodes to the same document as
// the JSON output, numbers and all.
func TestYAMLMatchesJSON(t *testing.T) {
	v := struct {
		Name      string
		At        float64
		Count     int
		Big       int64
		Missing   *string
		Nested    map[string]any
		Empty     []string
		Ambiguous string
	}{"n", 1795608060.5, 3, 1 << 53, nil, map[string]any{"yes": true, "list": []any{"a", 1.25}}, []string{}, "0755"}
	var js, ys bytes.Buffer
	if err := writeJSON(&js, v); err != nil {
		t.Fatal(err)
	}
	if err := writeYAML(&ys, v); err != nil {
		t.Fatal(err)
	}
	var fromYAML map[string]any
	if err := yaml.Unmarshal(ys.Bytes(), &fromYAML); err != nil {
		t.Fatalf("%v in\n%s", err, &ys)
	}
	var back bytes.Buffer
	if err := writeJSON(&back, fromYAML); err != nil {
		t.Fatal(err)
	}
	if back.String() != js.String() {
		t.Errorf("YAML:\n%s\ndecodes to\n%s\nwant the JSON output\n%s", &ys, &back, &js)
	}
}

func TestAuthHint(t *testing.T) {
	c := &cli{credentials: "AWS_ACCESS_KEY_ID from the environment (key ****WXYZ)"}
	for code, want := range map[string]bool{
		"MissingAuthenticationTokenException": true,
		"UnrecognizedClientException":         true,
		"InvalidSignatureException":           true,
		"IncompleteSignatureException":        true,
		"AccessDeniedException":               true,
		"ResourceNotFoundException":           false,
		"ThrottlingException":                 false,
	} {
		err := fmt.Errorf("list: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
		hint := c.authHint(shortAPIError(err))
		if got := hint != ""; got != want || want && !strings.Contains(hint, "****WXYZ") {
			t.Errorf("%s: hint %q, want one: %v", code, hint, want)
		}
	}
	if hint := c.authHint(errors.New("dial tcp: connection refused")); hint != "" {
		t.Errorf("hint %q for a network error", hint)
	}
}
