package providers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDescribeJSON(t *testing.T) {
	var v struct {
		Ref    string `json:"ref"`
		Commit struct {
			Added []string `json:"added"`
		} `json:"commit"`
		N *int `json:"n"`
	}
	tests := []struct{ body, want string }{
		{`{"ref": 987654321}`, "field ref: want string"},
		{`{"commit": {"added": "secret-x"}}`, "field commit.added: want array"},
		{`{"commit": "secret-x"}`, "field commit: want object"},
		{`{"n": "secret-x"}`, "field n: want number"},
		{`["secret-x"]`, "not a JSON object"},
		{`{"ref": secret}`, "invalid JSON at offset 9"},
	}
	for _, tt := range tests {
		err := DescribeJSON(json.Unmarshal([]byte(tt.body), &v))
		var je *JSONError
		if !errors.As(err, &je) || err.Error() != tt.want {
			t.Errorf("%s: %v, want %q", tt.body, err, tt.want)
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "987654321") {
			t.Errorf("%s: %q quotes the body", tt.body, err)
		}
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if !errors.As(err, &syntax) && !errors.As(err, &typ) {
			t.Errorf("%s: %v does not unwrap to encoding/json's error", tt.body, err)
		}
	}
	if DescribeJSON(nil) != nil {
		t.Error("DescribeJSON(nil) != nil")
	}
}
