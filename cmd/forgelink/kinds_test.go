package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/providers"
)

func TestKindFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" wants no filter; "error" a usage error
	}{
		{"", ""},
		{"push", "push"},
		{"PUSH", "push"},
		{"pull_request", "pull_request"},
		{"pull-request", "pull_request"},
		{"pr", "pull_request"},
		{"pull", "pull_request"},
		{"mr", "pull_request"},
		{"merge_request", "pull_request"},
		{"Merge-Request", "pull_request"},
		{"ping", "ping"},
		{"installation", "installation"},
		{"other", "other"},
		{"merge", "error"},
		{"tag", "error"},
	} {
		got, err := kindFlag(tc.in)
		switch {
		case tc.want == "error":
			if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), kindsHelp) {
				t.Errorf("kindFlag(%q) = %v, %v; want a usage error listing the kinds", tc.in, got, err)
			}
		case tc.want == "":
			if got != nil || err != nil {
				t.Errorf("kindFlag(%q) = %v, %v; want no filter", tc.in, got, err)
			}
		case err != nil || got == nil || *got != tc.want:
			t.Errorf("kindFlag(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzKindFlag: any input is a kind forgelink records or a usage error.
func FuzzKindFlag(f *testing.F) {
	for _, s := range []string{"push", "PR", "merge_request", "", "x\x00"} {
		f.Add(s)
	}
	known := map[string]bool{}
	for _, k := range []providers.Kind{providers.KindPush, providers.KindPullRequest, providers.KindPing, providers.KindInstallation, providers.KindOther} {
		known[string(k)] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := kindFlag(s)
		switch {
		case err != nil && !errors.As(err, new(usageError)):
			t.Fatalf("kindFlag(%q): %v is not a usage error", s, err)
		case err == nil && s != "" && (got == nil || !known[*got]):
			t.Fatalf("kindFlag(%q) = %v, not a recorded kind", s, got)
		}
	})
}
