package config

import (
	"errors"
	"strings"
	"testing"
)

func TestProviders(t *testing.T) {
	cfg, err := Load(writeFile(t, "providers:\n  githubAPIURL: https://api.octo.ghe.com/\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers
	checks := []struct{ name, got, want string }{
		{"github (file)", p.GitHubAPI(), "https://api.octo.ghe.com/"},
		{"gitlab (default)", p.GitLabAPI(), DefaultGitLabURL},
		{"bitbucket (default)", p.BitbucketAPI(), DefaultBitbucketAPIURL},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestProvidersValidate(t *testing.T) {
	cfg, err := Load(writeFile(t, strings.Join([]string{
		"providers:",
		"  githubAPIURL: api.github.com",
		"  gitlabURL: ftp://gitlab.example.com/api/v4",
		"  bitbucketAPIURL: http://127.0.0.1:8080/2.0",
	}, "\n")), nil)
	if err != nil {
		t.Fatal(err)
	}
	var verr ValidationError
	if err := cfg.Validate(); !errors.As(err, &verr) {
		t.Fatalf("Validate = %v, want ValidationError", err)
	}
	got := map[string]int{}
	for _, fe := range verr {
		got[fe.Field] = fe.Line
	}
	want := map[string]int{"providers.githubAPIURL": 2, "providers.gitlabURL": 3}
	if len(got) != len(want) {
		t.Errorf("problems %v, want %v", verr, want)
	}
	for field, line := range want {
		if got[field] != line {
			t.Errorf("%s: line %d, want %d (all: %v)", field, got[field], line, verr)
		}
	}
}
