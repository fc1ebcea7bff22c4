package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRegions(t *testing.T) {
	tests := []struct {
		name        string
		file        string   // the config file; none if empty
		env         []string // FORGELINK_* variables
		wantRegions []string // when valid
		wantErr     string   // ":line: field: ..." after the path, or "VAR: ..."
	}{
		{name: "default", wantRegions: []string{"us-east-1"}},
		{name: "region alone", file: "region: eu-west-1\n", wantRegions: []string{"eu-west-1"}},
		{name: "regions list", file: "regions: [eu-south-1, us-east-1]\n", wantRegions: []string{"eu-south-1", "us-east-1"}},
		{name: "region agreeing with regions", file: "region: eu-south-1\nregions: [eu-south-1, us-east-1]\n", wantRegions: []string{"eu-south-1", "us-east-1"}},
		{
			name: "region disagreeing with regions", file: "region: us-east-1\nregions: [eu-south-1, us-east-1]\n",
			wantErr: ":1: region: region \"us-east-1\" disagrees with regions",
		},
		{
			name: "FORGELINK_REGIONS beats the file", file: "regions: [eu-west-1]\nregion: eu-west-1\n",
			env: []string{"FORGELINK_REGIONS=ap-south-1, eu-west-1"}, wantRegions: []string{"ap-south-1", "eu-west-1"},
		},
		{
			name: "FORGELINK_REGION beats the file's list", file: "regions: [eu-west-1, us-east-1]\n",
			env: []string{"FORGELINK_REGION=ap-south-1"}, wantRegions: []string{"ap-south-1"},
		},
		{
			name: "both variables disagreeing", env: []string{"FORGELINK_REGION=ap-south-1", "FORGELINK_REGIONS=eu-west-1"},
			wantErr: "FORGELINK_REGION: region \"ap-south-1\" disagrees",
		},
		{name: "bad entry with its line", file: "regions:\n  - us-east-1\n  - Mars\n", wantErr: ":3: regions[1]: want an AWS-style region"},
		{name: "repeated entry", file: "regions: [us-east-1, eu-west-1, us-east-1]\n", wantErr: ":1: regions[2]: region \"us-east-1\" is listed twice"},
		{name: "empty list", file: "regions: []\n", wantErr: ":1: regions: must list at least one region"},
		{name: "bad variable entry", env: []string{"FORGELINK_REGIONS=us-east-1,,eu-west-1"}, wantErr: "FORGELINK_REGIONS: entry 2: want an AWS-style region"},
		{name: "bad one-region spelling", file: "region: Mars\n", wantErr: ":1: region: want an AWS-style region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			cfg, err := Load(path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.ValidateFile()
			if tt.wantErr != "" {
				var verr ValidationError
				if !errors.As(err, &verr) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ValidateFile = %v, want a ValidationError with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateFile: %v", err)
			}
			if got := cfg.ServedRegions(); !slices.Equal(got, tt.wantRegions) {
				t.Errorf("ServedRegions = %q, want %q", got, tt.wantRegions)
			}
			if cfg.Region != tt.wantRegions[0] {
				t.Errorf("Region = %q, want the default %q", cfg.Region, tt.wantRegions[0])
			}
		})
	}
}

func TestAppRegions(t *testing.T) {
	head := "regions: [us-east-1, eu-south-1]\n"
	tests := []struct {
		name    string
		file    string
		wantErr string // empty: valid
	}{
		{name: "an app per region", file: head + "githubApps:\n  - {appId: 1, webhookSecretFile: s, regions: [us-east-1]}\n  - {appId: 2, webhookSecretFile: s, regions: [eu-south-1]}\n"},
		{name: "no list: every region", file: head + "githubApps:\n  - {appId: 1, webhookSecretFile: s}\n"},
		{name: "an unserved region", file: head + "githubApps:\n  - appId: 1\n    webhookSecretFile: s\n    regions: [us-east-1, ap-south-1]\n",
			wantErr: ":5: githubApps[0].regions[1]: region \"ap-south-1\" is not one this deployment serves (regions: us-east-1, eu-south-1)"},
		{name: "gitlab app region listed twice", file: head + "providers:\n  gitlabApp:\n    clientId: x\n    clientSecretFile: s\n    regions: [eu-south-1, eu-south-1]\n",
			wantErr: ":6: providers.gitlabApp.regions[1]: region \"eu-south-1\" is listed twice"},
		{name: "bitbucket consumer", file: "providers:\n  bitbucketConsumer: {key: k, secretFile: s, regions: [eu-south-1]}\n",
			wantErr: "providers.bitbucketConsumer.regions[0]: region \"eu-south-1\" is not one this deployment serves (regions: us-east-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file)
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "s"), []byte("a-secret-0123456789\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.ValidateFile()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ValidateFile: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ValidateFile = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
