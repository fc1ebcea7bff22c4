package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestConnectionsComplete(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return path
	}
	token := file("token", "  glpat-s3cret\n", 0o600)
	shared := file("shared", "glpat-s3cret", 0o644)
	empty := file("empty", " \n", 0o600)
	const (
		request = `CompleteConnection {"ConnectionArn":"` + connARN + `","Token":"glpat-s3cret"}`
		reply   = `{"ConnectionArn":"` + connARN + `","ConnectionStatus":"AVAILABLE","Account":"jdoe"}`
	)
	runCases(t, []cliCase{{
		name:     "complete",
		args:     []string{"connections", "complete", connARN, "--token-file", token},
		replies:  []string{reply},
		wantReqs: []string{request},
		wantOut: "CONNECTION  " + connARN + "\n" +
			"STATUS      AVAILABLE\n" +
			"ACCOUNT     jdoe\n",
	}, {
		name:     "complete as JSON",
		args:     []string{"connections", "complete", "--output", "json", "--token-file", token, connARN},
		replies:  []string{reply},
		wantReqs: []string{request},
		wantOut:  "{\n  \"Account\": \"jdoe\",\n  \"ConnectionArn\": \"" + connARN + "\",\n  \"ConnectionStatus\": \"AVAILABLE\"\n}\n",
	}, {
		name:     "readable by others",
		args:     []string{"connections", "complete", connARN, "--token-file", shared, "--output", "json"},
		replies:  []string{reply},
		wantReqs: []string{request},
		wantOut:  "{\n  \"Account\": \"jdoe\",\n  \"ConnectionArn\": \"" + connARN + "\",\n  \"ConnectionStatus\": \"AVAILABLE\"\n}\n",
		wantErr:  "warning: token file " + shared + " is readable by other users (mode 0644); chmod 600 it\n",
	}, {
		name:     "rejected",
		args:     []string{"connections", "complete", connARN, "--token-file", token},
		replies:  []string{`{"__type":"InvalidInputException","message":"the provider rejected the token (HTTP 401): the connection stays PENDING"}`},
		wantReqs: []string{request},
		wantCode: 1,
		wantErr:  "forgelink connections complete: InvalidInputException: the provider rejected the token (HTTP 401): the connection stays PENDING\n",
	}, {
		name:     "no token file",
		args:     []string{"connections", "complete", connARN},
		wantCode: 2,
		wantErr:  "forgelink connections complete: --token-file is required\n",
	}, {
		name:     "empty token file",
		args:     []string{"connections", "complete", connARN, "--token-file", empty},
		wantCode: 1,
		wantErr:  "token file " + empty + " is empty",
	}, {
		name:     "missing token file",
		args:     []string{"connections", "complete", connARN, "--token-file", filepath.Join(dir, "missing")},
		wantCode: 1,
		wantErr:  "token file: open " + filepath.Join(dir, "missing") + ": no such file or directory",
	}})
}
