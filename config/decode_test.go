package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// validBase is a configuration that validates; cases append to it.
const validBase = `region: eu-west-1
targets:
  - &build
    name: build
    type: exec
    exec:
      command: [/bin/true]
pipelines:
  - name: app
    connectionArn: arn:aws:codeconnections:us-east-1:000000000000:connection/0c5e0a4e-7d1f-4b9e-9d6a-2f7f0e6c1a11
    repository: acme/app
    target: build
    triggers:
      push:
        - branches: {includes: [main]}
accessKeys:
  - id: AKIAFORGELINKCI0001
    secretFile: ci.secret
    policy:
      statements:
        - effect: Allow
          actions: [codeconnections:UseConnection]
          resources: ["*"]
          conditions:
            StringEquals:
              codeconnections:FullRepositoryId: acme/app
`

// problems loads content (with a ci.secret beside it) under env and returns
// ValidateFile's problems as lines, the file's path written as F.
func problems(t *testing.T, content string, env ...string) []string {
	t.Helper()
	path := writeFile(t, content)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "ci.secret"), []byte("a-ci-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env)
	if err != nil {
		t.Fatalf("Load = %v, want problems left to Validate", err)
	}
	err = cfg.ValidateFile()
	if err == nil {
		return nil
	}
	var verr ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("ValidateFile = %v, want a ValidationError", err)
	}
	lines := make([]string, len(verr))
	for i, fe := range verr {
		lines[i] = strings.ReplaceAll(fe.Error(), path, "F")
	}
	return lines
}

func TestValidateReportsDecodeProblems(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string // in validBase; empty: append
		add     string    // appended to validBase
		env     []string
		want    []string
	}{
		{name: "valid", want: nil},
		{
			name:    "string where a list belongs",
			replace: [2]string{"command: [/bin/true]", "command: /bin/true"},
			want:    []string{`F:7: targets[0].exec.command: want a list, got "/bin/true"`},
		},
		{
			name: "string where a number belongs",
			add:  "limits:\n  hosts: many\n",
			want: []string{`F:28: limits.hosts: want an integer, got "many"`},
		},
		{
			name: "number where a duration belongs",
			add:  "webhooks:\n  secretOverlap: 5\n",
			want: []string{`F:28: webhooks.secretOverlap: want a duration such as 30s, 5m or 1h30m, got "5"`},
		},
		{
			name: "mapping where a value belongs",
			add:  "allowInsecureKeyFile: {yes: please}\n",
			want: []string{`F:27: allowInsecureKeyFile: want true or false, got a mapping`},
		},
		{
			name: "word where a boolean belongs",
			add:  "allowInsecureKeyFile: sure\n",
			want: []string{`F:27: allowInsecureKeyFile: want true or false, got "sure"`},
		},
		{
			name:    "list where a string belongs",
			replace: [2]string{"region: eu-west-1", "region: [eu-west-1]"},
			want:    []string{`F:1: region: want a string, got a list`},
		},
		{
			name:    "merge keys",
			replace: [2]string{"      command: [/bin/true]\n", "      command: [/bin/true]\n  - <<: *build\n    name: build2\n"},
			want:    nil,
		},
		{
			name:    "an unknown key in a merged mapping, reported once",
			replace: [2]string{"      command: [/bin/true]\n", "      command: [/bin/true]\n    nmae: x\n  - <<: *build\n    name: build2\n"},
			want:    []string{`F:8: targets[0].nmae: unknown field (did you mean name?)`},
		},
		{
			name: "list item of the wrong kind",
			add:  "githubApps:\n  - 42\n",
			want: []string{`F:28: githubApps[0]: want a mapping, got "42"`},
		},
		{
			name: "unknown key at the top",
			add:  "lisen: 127.0.0.1:1\n",
			want: []string{`F:27: lisen: unknown field (did you mean listen?)`},
		},
		{
			name: "unknown key with nothing like it",
			add:  "colour: blue\n",
			want: []string{`F:27: colour: unknown field`},
		},
		{
			name:    "unknown key in a target",
			replace: [2]string{"    exec:\n", "    exec:\n      timout: 5m\n"},
			want:    []string{`F:7: targets[0].exec.timout: unknown field (did you mean timeout?)`},
		},
		{
			name:    "unknown key in a pipeline's trigger",
			replace: [2]string{"- branches: {includes: [main]}", "- branches: {includes: [main], exclude: [x]}"},
			want:    []string{`F:15: pipelines[0].triggers.push[0].branches.exclude: unknown field (did you mean excludes?)`},
		},
		{
			name:    "unknown key in an access key's policy",
			replace: [2]string{"        - effect: Allow", "        - efect: Allow\n          effect: Allow"},
			want:    []string{`F:21: accessKeys[0].policy.statements[0].efect: unknown field (did you mean effect?)`},
		},
		{
			name:    "key set twice",
			replace: [2]string{"region: eu-west-1\n", "region: eu-west-1\nregion: eu-west-2\n"},
			want:    []string{`F:2: region: set twice (first at line 1)`},
		},
		{
			name:    "a custom type's own error, at its line",
			replace: [2]string{"              codeconnections:FullRepositoryId: acme/app", "              - acme/app"},
			want:    []string{`F:26: accessKeys[0].policy.statements[0].conditions: an operator maps condition keys to values, got a list`},
		},
		{
			name:    "a custom type's scalar-or-list",
			replace: [2]string{"FullRepositoryId: acme/app", "FullRepositoryId: [acme/app, acme/lib]"},
			want:    nil,
		},
		{
			name:    "every problem at once, with validation's",
			replace: [2]string{"region: eu-west-1\n", "region: Mars\nlog: {levle: debug, format: xml}\n"},
			add:     "limits: {hosts: many}\nextra: 1\n",
			want: []string{
				`F:2: log.levle: unknown field (did you mean level?)`,
				`F:28: limits.hosts: want an integer, got "many"`,
				`F:29: extra: unknown field`,
				`F:1: region: want an AWS-style region such as us-east-1, got "Mars"`,
				`F:2: log.format: want auto, console or json, got "xml"`,
			},
		},
		{
			name: "environment values named as such",
			add:  "log: {format: json}\n",
			env:  []string{"FORGELINK_LOG_FORMAT=xml", "FORGELINK_MAX_HOSTS=lots", "FORGELINK_ALLOW_INSECURE_KEY_FILE=sure"},
			want: []string{
				`FORGELINK_MAX_HOSTS: want an integer, got "lots"`,
				`FORGELINK_ALLOW_INSECURE_KEY_FILE: want true or false, got "sure"`,
				`FORGELINK_LOG_FORMAT: want auto, console or json, got "xml"`,
			},
		},
		{
			name: "a good environment value hides the file's bad one",
			add:  "log: {format: xml}\n",
			env:  []string{"FORGELINK_LOG_FORMAT=json"},
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := validBase
			if tc.replace[0] != "" {
				if !strings.Contains(content, tc.replace[0]) {
					t.Fatalf("validBase lacks %q", tc.replace[0])
				}
				content = strings.Replace(content, tc.replace[0], tc.replace[1], 1)
			}
			got := problems(t, content+tc.add, tc.env...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestLoadKeepsWhatFits checks that a problem leaves the rest of the file
// decoded: a list keeps its other items at their indices.
func TestLoadKeepsWhatFits(t *testing.T) {
	path := writeFile(t, "region: eu-west-1\nlisten_addr: x\ngithubApps:\n  - 42\n  - appId: 7\n")
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || len(cfg.GitHubApps) != 2 || cfg.GitHubApps[1].AppID != 7 {
		t.Errorf("region %q, apps %+v", cfg.Region, cfg.GitHubApps)
	}
	if cfg.Listen != DefaultListen {
		t.Errorf("listen = %q, want the default", cfg.Listen)
	}
}

func TestTopLevelNotAMapping(t *testing.T) {
	got := problems(t, "- listen: 127.0.0.1:1\n")
	if want := `F:1: (top level): want a mapping, got a list`; strings.Join(got, "\n") != want {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

// TestDecodeProblems: what the walk did not foresee is still reported,
// placed at its line when yaml.v3 names one.
func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		err  error
		want ValidationError
	}{
		{&yaml.TypeError{Errors: []string{"line 3: cannot unmarshal !!str `x` into int", "no line"}}, ValidationError{
			{File: "F", Line: 3, Field: "(file)", Msg: "cannot unmarshal !!str `x` into int"},
			{File: "F", Field: "(file)", Msg: "no line"},
		}},
		{errors.New("boom"), ValidationError{{File: "F", Field: "(file)", Msg: "boom"}}},
	}
	for _, tc := range tests {
		if got := decodeProblems("F", tc.err); !slices.Equal(got, tc.want) {
			t.Errorf("decodeProblems(%v) = %+v, want %+v", tc.err, got, tc.want)
		}
	}
}
