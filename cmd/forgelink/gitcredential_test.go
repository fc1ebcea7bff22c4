package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestGitCredential(t *testing.T) {
	const (
		request = "protocol=https\nhost=github.com\npath=octo-org/widget.git\ncapability[]=authtype\nwwwauth[]=Basic realm=\"GitHub\"\n\n"
		wantReq = `GetConnectionToken {"ConnectionArn":"` + connARN + `","Host":"github.com","Permissions":"read_only","Protocol":"https","Repository":"octo-org/widget"}`
	)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		replies  []string
		wantReqs []string
		wantOut  string
		wantErr  string // in the error
	}{{
		name:     "get",
		args:     []string{"--connection", connARN, "get"},
		stdin:    request,
		replies:  []string{`{"Username":"x-access-token","Token":"ghs_t0ken","ExpiresAt":1893553445.5}`},
		wantReqs: []string{wantReq},
		wantOut:  "username=x-access-token\npassword=ghs_t0ken\npassword_expiry_utc=1893553445\n",
	}, {
		name:     "get read-write, no expiry, leading slash, no blank line",
		args:     []string{"get", "--connection", connARN, "--read-write"},
		stdin:    "protocol=https\nhost=gitlab.com\npath=/group/sub/project.git",
		replies:  []string{`{"Username":"oauth2","Token":"glo_t0ken"}`},
		wantReqs: []string{`GetConnectionToken {"ConnectionArn":"` + connARN + `","Host":"gitlab.com","Permissions":"read_write","Protocol":"https","Repository":"group/sub/project"}`},
		wantOut:  "username=oauth2\npassword=glo_t0ken\n",
	}, {
		name:     "denied",
		args:     []string{"--connection", connARN, "get"},
		stdin:    request,
		replies:  []string{`{"__type":"AccessDeniedException","message":"access key K is not authorized to perform: codeconnections:UseConnection"}`},
		wantReqs: []string{wantReq},
		wantErr:  "AccessDeniedException: access key K is not authorized",
	}, {
		name:     "token that would smuggle attributes",
		args:     []string{"--connection", connARN, "get"},
		stdin:    request,
		replies:  []string{`{"Username":"x","Token":"t\nusername=evil"}`},
		wantReqs: []string{wantReq},
		wantErr:  "newline or NUL",
	}, {
		name:    "plain http refused locally",
		args:    []string{"--connection", connARN, "get"},
		stdin:   "protocol=http\nhost=github.com\npath=octo-org/widget.git\n\n",
		wantErr: `refusing to give a token for protocol "http"`,
	}, {
		name:    "ssh refused locally",
		args:    []string{"--connection", connARN, "get", "--allow-http"},
		stdin:   "protocol=ssh\nhost=github.com\npath=octo-org/widget.git\n\n",
		wantErr: `protocol "ssh"`,
	}, {
		name:     "plain http allowed",
		args:     []string{"--connection", connARN, "--allow-http", "get"},
		stdin:    "protocol=http\nhost=git.example:8080\npath=octo-org/widget.git\n\n",
		replies:  []string{`{"Username":"x","Token":"t"}`},
		wantReqs: []string{`GetConnectionToken {"ConnectionArn":"` + connARN + `","Host":"git.example:8080","Permissions":"read_only","Protocol":"http","Repository":"octo-org/widget"}`},
		wantOut:  "username=x\npassword=t\n",
	}, {
		name:    "no host",
		args:    []string{"--connection", connARN, "get"},
		stdin:   "protocol=https\npath=octo-org/widget.git\n\n",
		wantErr: "which host",
	}, {
		name:    "no path",
		args:    []string{"--connection", connARN, "get"},
		stdin:   "protocol=https\nhost=github.com\n\n",
		wantErr: "credential.useHttpPath true",
	}, {
		name:    "path without repository",
		args:    []string{"--connection", connARN, "get"},
		stdin:   "protocol=https\nhost=github.com\npath=widget.git\n\n",
		wantErr: `the URL path "widget.git" names no repository`,
	}, {
		name:    "malformed request",
		args:    []string{"--connection", connARN, "get"},
		stdin:   "protocol=https\nhost github.com\n\n",
		wantErr: "malformed credential request from git: line 2: want key=value",
	}, {
		name:  "store does nothing",
		args:  []string{"--connection", connARN, "store"},
		stdin: request + "username=x-access-token\npassword=ghs_t0ken\n\n",
	}, {
		name:  "erase does nothing",
		args:  []string{"--connection", connARN, "erase"},
		stdin: request,
	}, {
		name:  "unknown operations are ignored",
		args:  []string{"--connection", connARN, "capability"},
		stdin: request,
	}, {
		name:    "no connection",
		args:    []string{"get"},
		stdin:   request,
		wantErr: "--connection is required",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnv(t)
			f := newFake(t, tc.replies...)
			t.Setenv("FORGELINK_ENDPOINT", f.url)
			var stdout, stderr bytes.Buffer
			c := &cli{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(tc.stdin), getenv: func(k string) string {
				if k == "FORGELINK_ENDPOINT" {
					return f.url
				}
				return ""
			}}
			root := c.rootCommand()
			root.SetArgs(append([]string{"git-credential"}, tc.args...))
			err := root.ExecuteContext(t.Context())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if reqs, _ := f.seen(); !slices.Equal(reqs, tc.wantReqs) {
				t.Errorf("requests %q, want %q", reqs, tc.wantReqs)
			}
			if got := stdout.String(); got != tc.wantOut {
				t.Errorf("stdout %q, want %q", got, tc.wantOut)
			}
		})
	}
}

// TestGitCredentialCommand runs the helper through the command table, as
// git does: an error goes to stderr with a nonzero exit status.
func TestGitCredentialCommand(t *testing.T) {
	isolateEnv(t)
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"git-credential", "get"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--connection is required") {
		t.Errorf("exit %d, stderr %q", code, &stderr)
	}
}

func TestParseCredentialRequest(t *testing.T) {
	req, err := parseCredentialRequest(strings.NewReader("protocol=https\nhost=h\nhost=example.com:8443\npath=a/b.git\nusername=u=v\nwwwauth[]=x\nwwwauth[]=y\nfuture=\n\nignored after blank"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (credentialRequest{Protocol: "https", Host: "example.com:8443", Path: "a/b.git", Username: "u=v"}); req != want {
		t.Errorf("parsed %+v, want %+v", req, want)
	}
	bad := []struct{ name, in string }{
		{"no '='", "protocol=https\nhost\n"},
		{"empty key", "=value\n"},
		{"NUL", "host=a\x00b\n"},
		{"oversized", "path=" + strings.Repeat("a", maxCredentialRequest) + "\n"},
		{"oversized in many lines", strings.Repeat("k=v\n", maxCredentialRequest/4+1)},
	}
	for _, b := range bad {
		if _, err := parseCredentialRequest(strings.NewReader(b.in)); !errors.Is(err, errCredentialRequest) {
			t.Errorf("%s: %v, want errCredentialRequest", b.name, err)
		}
	}
	if req, err := parseCredentialRequest(strings.NewReader("")); err != nil || req != (credentialRequest{}) {
		t.Errorf("empty input: %+v, %v", req, err)
	}
}

// FuzzParseCredentialRequest: whatever git (or anything else) sends, the
// parser does not panic; it refuses NUL bytes, lines without '=' and
// oversized input, and what it accepts holds no newline or NUL.
func FuzzParseCredentialRequest(f *testing.F) {
	for _, seed := range []string{
		"protocol=https\nhost=github.com\npath=octo/app.git\n\n",
		"protocol=https\nhost=github.com\n",
		"host\n",
		"=x\n",
		"path=a\x00b\n",
		"capability[]=authtype\nwwwauth[]=Basic realm=\"x\"\n\nafter",
		"\n",
		"path=\xff\xfe\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := parseCredentialRequest(bytes.NewReader(in))
		head, _, _ := bytes.Cut(in, []byte("\n\n"))
		if bytes.HasPrefix(in, []byte("\n")) {
			head = nil
		}
		switch {
		case bytes.IndexByte(head, 0) >= 0 && err == nil:
			t.Fatalf("accepted a NUL byte: %q", in)
		case len(head) > maxCredentialRequest && err == nil:
			t.Fatalf("accepted %d bytes", len(head))
		}
		for _, line := range bytes.Split(head, []byte("\n")) {
			if len(line) > 0 && bytes.IndexByte(line, '=') <= 0 && err == nil {
				t.Fatalf("accepted line %q", line)
			}
		}
		if err != nil {
			if !errors.Is(err, errCredentialRequest) {
				t.Fatalf("error %v is not errCredentialRequest", err)
			}
			return
		}
		for _, v := range []string{req.Protocol, req.Host, req.Path, req.Username} {
			if strings.ContainsAny(v, "\n\x00") {
				t.Fatalf("field %q holds a newline or NUL", v)
			}
		}
		if repo, err := req.repository(); err == nil && (!strings.Contains(repo, "/") || strings.HasPrefix(repo, "/") || strings.HasSuffix(repo, "/")) {
			t.Fatalf("repository %q from path %q", repo, req.Path)
		}
	})
}
