package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "forgelink.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPrecedence(t *testing.T) {
	path := writeFile(t, "listen: 127.0.0.1:9000\nregion: eu-west-1\ndataDir: /srv/forgelink\n")
	cfg, err := Load(path, []string{"FORGELINK_LISTEN=127.0.0.1:9100", "FORGELINK_MAX_HOSTS=7", "UNRELATED=1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"listen (env beats file)", cfg.Listen, "127.0.0.1:9100"},
		{"region (file beats default)", cfg.Region, "eu-west-1"},
		{"dataDir", cfg.DataDir, "/srv/forgelink"},
		{"accountId (default)", cfg.AccountID, DefaultAccountID},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Limits.Hosts != 7 || cfg.Limits.Connections != DefaultMaxConnections {
		t.Errorf("limits = %+v", cfg.Limits)
	}
}

func TestLoadRefusesUnreadableFiles(t *testing.T) {
	path := writeFile(t, "region: eu-west-1\nlisten: [\n")
	if _, err := Load(path, nil); err == nil || err.Error() != "parse config: "+path+":2: did not find expected node content" {
		t.Errorf("not yaml: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestValidateReportsEveryProblemWithLine(t *testing.T) {
	path := writeFile(t, strings.Join([]string{
		"listen: nonsense",
		"region: Mars",
		"accountId: \"12345\"",
		"log:",
		"  level: loud",
		"limits:",
		"  connections: 0",
	}, "\n"))
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	var verr ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate = %v, want ValidationError", err)
	}
	want := map[string]int{"listen": 1, "region": 2, "accountId": 3, "log.level": 5, "limits.connections": 7}
	got := map[string]int{}
	for _, fe := range verr {
		got[fe.Field] = fe.Line
		if fe.File != path {
			t.Errorf("%s: file %q", fe.Field, fe.File)
		}
	}
	for field, line := range want {
		if got[field] != line {
			t.Errorf("%s: line %d, want %d (all: %v)", field, got[field], line, verr)
		}
	}
	if !strings.Contains(err.Error(), path+":5: log.level") {
		t.Errorf("message %q lacks file:line: field", err)
	}
}

func TestValidateCredentialsAndListen(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"loopback without credentials", []string{"FORGELINK_LISTEN=127.0.0.1:7788"}, ""},
		{"localhost without credentials", []string{"FORGELINK_LISTEN=localhost:7788"}, ""},
		{"ipv6 loopback", []string{"FORGELINK_LISTEN=[::1]:7788"}, ""},
		{"all interfaces without credentials", []string{"FORGELINK_LISTEN=0.0.0.0:7788"}, "FORGELINK_ROOT_ACCESS_KEY_ID"},
		{"empty host without credentials", []string{"FORGELINK_LISTEN=:7788"}, "not a loopback address"},
		{"all interfaces with credentials", []string{"FORGELINK_LISTEN=0.0.0.0:7788", "FORGELINK_ROOT_ACCESS_KEY_ID=AK", "FORGELINK_ROOT_SECRET_ACCESS_KEY=s"}, ""},
		{"half the credentials", []string{"FORGELINK_ROOT_ACCESS_KEY_ID=AK"}, "set both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("", tc.env)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want mention of %q", err, tc.wantErr)
			}
		})
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	cfg, err := Load("", []string{"FORGELINK_ROOT_SECRET_ACCESS_KEY=very-secret-value", "FORGELINK_LISTEN=0.0.0.0:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "very-secret-value") {
		t.Fatalf("err = %v", err)
	}
}

// TestExamplesValidate keeps the shipped example configurations loadable.
func TestExamplesValidate(t *testing.T) {
	files, err := filepath.Glob("../examples/*/forgelink.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			cfg, err := Load(file, []string{"FORGELINK_ROOT_ACCESS_KEY_ID=AK", "FORGELINK_ROOT_SECRET_ACCESS_KEY=s"})
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidateWebhookLimits(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		wantField string // "" when valid
	}{
		{"defaults", "webhooks: {}", ""},
		{"all set", "webhooks: {maxInFlightBytes: 67108864, maxInFlightPerConnection: 33554432, maxConcurrentPerSource: 16, bodyReadTimeout: 5s}", ""},
		{"negative budget", "webhooks: {maxInFlightBytes: -1}", "webhooks.maxInFlightBytes"},
		{"share over the budget", "webhooks: {maxInFlightBytes: 1048576, maxInFlightPerConnection: 2097152}", "webhooks.maxInFlightPerConnection"},
		{"negative per source", "webhooks: {maxConcurrentPerSource: -2}", "webhooks.maxConcurrentPerSource"},
		{"body timeout too long", "webhooks: {bodyReadTimeout: 1h}", "webhooks.bodyReadTimeout"},
		{"overlap zero", "webhooks: {secretOverlap: 0s}", "webhooks.secretOverlap"},
		{"overlap a month", "webhooks: {secretOverlap: 720h}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(writeFile(t, tc.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			var verr ValidationError
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("Validate = %v, want valid", err)
			case tc.wantField == "":
				return
			case !errors.As(err, &verr):
				t.Fatalf("Validate = %v, want a ValidationError on %s", err, tc.wantField)
			}
			for _, fe := range verr {
				if fe.Field == tc.wantField && fe.Line == 1 {
					return
				}
			}
			t.Errorf("Validate = %v, want %s at line 1", err, tc.wantField)
		})
	}
}
