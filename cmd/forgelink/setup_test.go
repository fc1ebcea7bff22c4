package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSetupCommands(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	secret := file("secret", "gloas-s3cret\n")
	admin := file("admin", "glpat-ADMIN\n")
	const link = `{"SetupUrl":"https://forgelink.example/setup/start?state=abc","ExpiresAt":1795000000}`
	const linkErr = "open this link in a browser within 10 minutes"
	runCases(t, []cliCase{{
		name:     "connection setup",
		args:     []string{"connections", "setup", connARN},
		replies:  []string{link},
		wantReqs: []string{`StartConnectionSetup {"ConnectionArn":"` + connARN + `"}`},
		wantOut:  "https://forgelink.example/setup/start?state=abc\n",
		wantErr:  linkErr,
	}, {
		name:     "connection setup as JSON",
		args:     []string{"connections", "setup", "--output", "json", connARN},
		replies:  []string{link},
		wantReqs: []string{`StartConnectionSetup {"ConnectionArn":"` + connARN + `"}`},
		wantOut:  "{\n  \"ExpiresAt\": 1795000000,\n  \"SetupUrl\": \"https://forgelink.example/setup/start?state=abc\"\n}\n",
	}, {
		name:     "connection setup refused",
		args:     []string{"connections", "setup", connARN},
		replies:  []string{`{"__type":"InvalidInputException","message":"no gitlab.com OAuth application is configured"}`},
		wantReqs: []string{`StartConnectionSetup {"ConnectionArn":"` + connARN + `"}`},
		wantCode: 1,
		wantErr:  "InvalidInputException: no gitlab.com OAuth application is configured",
	}, {
		name:     "host setup",
		args:     []string{"hosts", "setup", hostARN},
		replies:  []string{link},
		wantReqs: []string{`StartHostSetup {"HostArn":"` + hostARN + `"}`},
		wantOut:  "https://forgelink.example/setup/start?state=abc\n",
		wantErr:  linkErr,
	}, {
		name:     "github app registration",
		args:     []string{"hosts", "setup", "--github-app", "--org", "octo-org"},
		replies:  []string{link},
		wantReqs: []string{`StartGitHubAppSetup {"Organization":"octo-org"}`},
		wantOut:  "https://forgelink.example/setup/start?state=abc\n",
		wantErr:  linkErr,
	}, {
		name:     "host setup without ARN",
		args:     []string{"hosts", "setup"},
		wantCode: 2,
		wantErr:  "missing arguments",
	}, {
		name:     "org without --github-app",
		args:     []string{"hosts", "setup", "--org", "octo-org", hostARN},
		wantCode: 2,
		wantErr:  "--org goes with --github-app",
	}, {
		name:     "configure app",
		args:     []string{"hosts", "configure-app", hostARN, "--client-id", "app-id", "--client-secret-file", secret},
		replies:  []string{`{"HostArn":"` + hostARN + `","HostStatus":"AVAILABLE"}`},
		wantReqs: []string{`ConfigureHostApp {"ClientId":"app-id","ClientSecret":"gloas-s3cret","HostArn":"` + hostARN + `"}`},
		wantOut:  "HOST    " + hostARN + "\nSTATUS  AVAILABLE\n",
	}, {
		name:     "configure app with an admin token",
		args:     []string{"hosts", "configure-app", "--admin-token-file", admin, hostARN},
		replies:  []string{`{"HostArn":"` + hostARN + `","HostStatus":"AVAILABLE"}`},
		wantReqs: []string{`ConfigureHostApp {"AdminToken":"glpat-ADMIN","HostArn":"` + hostARN + `"}`},
		wantOut:  "HOST    " + hostARN + "\nSTATUS  AVAILABLE\n",
	}, {
		name:     "configure app refused",
		args:     []string{"hosts", "configure-app", "--admin-token-file", admin, hostARN},
		replies:  []string{`{"__type":"InvalidInputException","message":"GitLab refused the admin token: the host stays PENDING"}`},
		wantReqs: []string{`ConfigureHostApp {"AdminToken":"glpat-ADMIN","HostArn":"` + hostARN + `"}`},
		wantCode: 1,
		wantErr:  "the host stays PENDING",
	}, {
		name:     "configure app with both",
		args:     []string{"hosts", "configure-app", "--admin-token-file", admin, "--client-id", "x", hostARN},
		wantCode: 2,
		wantErr:  "not both",
	}, {
		name:     "configure app with neither",
		args:     []string{"hosts", "configure-app", "--client-id", "x", hostARN},
		wantCode: 2,
		wantErr:  "are required",
	}})
}
