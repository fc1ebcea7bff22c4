package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/smithy-go"
)

const (
	connARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/c1"
	hostARN = "arn:aws:codeconnections:us-east-1:123456789012:host/h1"
)

// fakeService speaks just enough of the CodeConnections wire protocol, and
// of forgelink's own namespace: it records each request and answers with
// canned bodies in order. A body with a __type member is sent as that error.
type fakeService struct {
	t   *testing.T
	url string

	mu       sync.Mutex
	replies  []string
	requests []string // "Operation {body with sorted members}"
	auth     []string // Authorization headers
}

func newFake(t *testing.T, replies ...string) *fakeService {
	t.Helper()
	f := &fakeService{t: t, replies: replies}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "CodeConnections_20231201.")
	if !ok {
		op, ok = strings.CutPrefix(target, extTargetPrefix)
	}
	if !ok || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		f.t.Errorf("not a CodeConnections or forgelink request: %s %s, target %q", r.Method, r.URL, target)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("%s: decode body: %v", op, err)
	}
	canonical, _ := json.Marshal(body)

	f.mu.Lock()
	f.requests = append(f.requests, op+" "+string(canonical))
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if len(f.replies) == 0 {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s %s", op, canonical)
		http.Error(w, "no reply", http.StatusBadRequest)
		return
	}
	reply := f.replies[0]
	f.replies = f.replies[1:]
	f.mu.Unlock()

	var probe struct {
		Type string `json:"__type"`
	}
	json.Unmarshal([]byte(reply), &probe)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if probe.Type != "" {
		w.Header().Set("X-Amzn-ErrorType", probe.Type)
		w.WriteHeader(http.StatusBadRequest)
	}
	io.WriteString(w, reply)
}

func (f *fakeService) seen() (requests, auth []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests), slices.Clone(f.auth)
}

// isolateEnv keeps the developer's AWS settings and credentials out of a
// test; the SDK reads them from the process environment.
func isolateEnv(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODECONNECTIONS",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"FORGELINK_ENDPOINT", "FORGELINK_ROOT_ACCESS_KEY_ID", "FORGELINK_ROOT_SECRET_ACCESS_KEY",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
}

// cliCase is one command line run against a fake service.
type cliCase struct {
	name     string
	args     []string
	replies  []string // the fake's answers, in order
	wantReqs []string // as fakeService.requests
	wantCode int
	wantOut  string
	wantErr  string // in stderr; "" wants stderr empty
}

func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnv(t)
			f := newFake(t, tc.replies...)
			t.Setenv("FORGELINK_ENDPOINT", f.url)
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.wantCode, &stderr)
			}
			reqs, _ := f.seen()
			if !slices.Equal(reqs, tc.wantReqs) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(reqs, "\n"), strings.Join(tc.wantReqs, "\n"))
			}
			if got := stdout.String(); got != tc.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, tc.wantOut)
			}
			if got := stderr.String(); tc.wantErr == "" && got != "" || !strings.Contains(got, tc.wantErr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", got, tc.wantErr)
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	runCases(t, []cliCase{{
		name:     "no subcommand",
		args:     []string{"connections"},
		wantCode: 2,
		wantErr:  "forgelink connections: missing command; one of: complete, create, delete, get, list, rotate-secret, setup, webhook\nRun 'forgelink connections --help' for usage.\n",
	}, {
		name:     "unknown subcommand",
		args:     []string{"hosts", "frob"},
		wantCode: 2,
		wantErr:  `forgelink hosts: unknown command "frob"`,
	}, {
		name:     "misspelt subcommand",
		args:     []string{"connections", "lst"},
		wantCode: 2,
		wantErr:  `forgelink connections: unknown command "lst"; did you mean get or list?`,
	}, {
		name:     "unknown flag",
		args:     []string{"connections", "list", "--bogus"},
		wantCode: 2,
		wantErr:  "forgelink connections list: unknown flag: --bogus\nRun 'forgelink connections list --help' for usage.\n",
	}, {
		name:     "unknown output",
		args:     []string{"tags", "list", connARN, "--output", "xml"},
		wantCode: 2,
		wantErr:  `unknown --output "xml"; want table, json or yaml`,
	}, {
		name:     "missing ARN",
		args:     []string{"connections", "get", "--output", "json"},
		wantCode: 2,
		wantErr:  "missing arguments; usage: forgelink connections get ARN [flags]",
	}, {
		name:     "extra ARN",
		args:     []string{"hosts", "delete", hostARN, "other"},
		wantCode: 2,
		wantErr:  `unexpected arguments ["other"]`,
	}, {
		name:     "positional after --",
		args:     []string{"tags", "remove", connARN, "--", "-odd"},
		replies:  []string{`{}`},
		wantReqs: []string{`UntagResource {"ResourceArn":"` + connARN + `","TagKeys":["-odd"]}`},
		wantOut:  "Untagged " + connARN + ": 1 tag removed.\n",
	}, {
		name:     "common flags before the subcommand",
		args:     []string{"tags", "--output", "json", "remove", connARN, "team"},
		replies:  []string{`{}`},
		wantReqs: []string{`UntagResource {"ResourceArn":"` + connARN + `","TagKeys":["team"]}`},
		wantOut:  "{}\n",
	}})
}

// TestFlagDefaults checks that the environment supplies the endpoint and
// the signing region, and that --endpoint-url beats the environment.
func TestFlagDefaults(t *testing.T) {
	isolateEnv(t)
	f := newFake(t, `{"Tags":[]}`)
	t.Setenv("FORGELINK_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"tags", "list", connARN, "--endpoint-url", f.url}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, &stderr)
	}
	_, auth := f.seen()
	if len(auth) != 1 || !strings.Contains(auth[0], "Credential=AKIDTEST/") || !strings.Contains(auth[0], "/eu-west-1/codeconnections/") {
		t.Errorf("Authorization %q, want AKIDTEST signing for eu-west-1", auth)
	}
}

func TestCredentials(t *testing.T) {
	root := map[string]string{"FORGELINK_ROOT_ACCESS_KEY_ID": "AKIDROOT", "FORGELINK_ROOT_SECRET_ACCESS_KEY": "root-secret"}
	tests := []struct {
		name      string
		awsEnv    map[string]string // for the SDK's chain, which reads the process environment
		env       map[string]string // for newClient's own lookups
		profile   string            // shared credentials file contents
		wantKeyID string            // "" wants an unsigned request
	}{
		{name: "none"},
		{name: "aws env beats root", awsEnv: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s"}, env: root, wantKeyID: "AKIDENV"},
		{name: "aws profile", profile: "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n", wantKeyID: "AKIDPROFILE"},
		{name: "forgelink root", env: root, wantKeyID: "AKIDROOT"},
		{name: "half root", env: map[string]string{"FORGELINK_ROOT_ACCESS_KEY_ID": "AKIDROOT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnv(t)
			for k, v := range tc.awsEnv {
				t.Setenv(k, v)
			}
			if tc.profile != "" {
				file := filepath.Join(t.TempDir(), "credentials")
				if err := os.WriteFile(file, []byte(tc.profile), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
			}
			f := newFake(t, `{"Tags":[]}`)
			c := &cli{getenv: func(k string) string { return tc.env[k] }, common: commonFlags{endpoint: f.url, region: "us-east-1"}}
			cfg, err := c.awsConfig(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			client := c.sdkClient(cfg)
			arn := connARN
			if _, err := client.ListTagsForResource(t.Context(), &codeconnections.ListTagsForResourceInput{ResourceArn: &arn}); err != nil {
				t.Fatal(err)
			}
			_, auth := f.seen()
			switch {
			case tc.wantKeyID == "" && auth[0] != "":
				t.Errorf("Authorization %q, want none", auth[0])
			case tc.wantKeyID != "" && !strings.Contains(auth[0], "Credential="+tc.wantKeyID+"/"):
				t.Errorf("Authorization %q, want access key %s", auth[0], tc.wantKeyID)
			}
		})
	}
}

// TestAPIErrorWraps checks that the short service error still unwraps to
// the SDK's typed error.
func TestAPIErrorWraps(t *testing.T) {
	isolateEnv(t)
	f := newFake(t, `{"__type":"ResourceNotFoundException","message":"connection `+connARN+` does not exist"}`)
	c := &cli{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	cmd := c.rootCommand()
	cmd.SetArgs([]string{"connections", "get", connARN, "--endpoint-url", f.url})
	err := cmd.ExecuteContext(t.Context())
	if want := "ResourceNotFoundException: connection " + connARN + " does not exist"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	var api smithy.APIError
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &api) || !errors.As(err, &notFound) {
		t.Errorf("error %#v does not unwrap to the SDK's ResourceNotFoundException", err)
	}
}
