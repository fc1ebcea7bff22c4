package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// gitCredentialHelp shows how git is told to use the helper: a helper
// that is neither an absolute path nor starts with '!' would be run as
// "git credential-<helper>".
const gitCredentialHelp = `git's credential helper: vends a short-lived token of the connection for the
repository git asks about, and never writes it anywhere. Set up with

  git config --global credential.https://github.com.helper '!forgelink git-credential --connection ARN'
  git config --global credential.https://github.com.useHttpPath true

for the connection's provider host (the daemon refuses a token for any
other origin: another host, another port, or plain http); useHttpPath makes
git name the repository. The token asked for is read-only unless
--read-write is given; a provider whose token cannot be narrowed (GitLab,
Bitbucket, personal tokens) gives one only to --read-write, which the
key's policy must allow. "store" and "erase" do nothing.`

func (c *cli) gitCredentialCommand() *cobra.Command {
	var g gitCredentialFlags
	cmd := c.topLeaf("git-credential --connection ARN get|store|erase",
		"git credential helper: short-lived tokens of a connection", exactArgs(1, 1),
		func(x *call) error { return gitCredential(x, g) })
	cmd.Long = gitCredentialHelp
	f := cmd.Flags()
	f.StringVar(&g.connection, "connection", "", "the connection `ARN` whose token git uses (required)")
	f.BoolVar(&g.readWrite, "read-write", false, "ask for a token that may push (read_write); read_only by default")
	f.BoolVar(&g.allowHTTP, "allow-http", false, "also answer git over plain http (the daemon must allow the provider's http endpoint too)")
	return cmd
}

type gitCredentialFlags struct {
	connection           string
	readWrite, allowHTTP bool
}

// connectionToken is GetConnectionToken's answer.
type connectionToken struct {
	Username  string
	Token     string
	ExpiresAt float64 // epoch seconds; 0 when the token has no expiry
}

// gitCredential is `forgelink git-credential`. git talks to it on
// standard input.
func gitCredential(x *call, g gitCredentialFlags) error {
	if g.connection == "" {
		return usagef("--connection is required")
	}
	stdin := x.cli.stdin
	if x.args[0] != "get" {
		// git's protocol: "store", "erase" and operations a helper does
		// not know are ignored. The token is never kept, so there is
		// nothing to store or erase. The request is read all the same, so
		// that git does not write into a closed pipe.
		io.Copy(io.Discard, io.LimitReader(stdin, maxCredentialRequest))
		return nil
	}
	req, err := parseCredentialRequest(stdin)
	if err != nil {
		return err
	}
	repo, err := req.repository()
	if err != nil {
		return err
	}
	if req.Protocol != "https" && !(req.Protocol == "http" && g.allowHTTP) {
		return fmt.Errorf("refusing to give a token for protocol %q: only https (http with --allow-http)", req.Protocol)
	}
	var tok connectionToken
	// The daemon refuses an origin that is not the connection's provider,
	// so that a helper configured for every host hands the token to no other.
	in := map[string]string{"ConnectionArn": g.connection, "Repository": repo, "Protocol": req.Protocol, "Host": req.Host,
		"Permissions": "read_only"}
	if g.readWrite {
		in["Permissions"] = "read_write"
	}
	if err := x.ext.call(x.ctx, "GetConnectionToken", in, &tok); err != nil {
		return err
	}
	return writeCredential(x.cli.stdout, tok)
}

// writeCredential answers git. A value holding a newline or NUL would
// smuggle attributes into the answer: such a token is refused.
func writeCredential(w io.Writer, tok connectionToken) error {
	for _, v := range []string{tok.Username, tok.Token} {
		if strings.ContainsAny(v, "\n\x00") {
			return errors.New("the daemon sent a username or token that git cannot take (newline or NUL)")
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "username=%s\npassword=%s\n", tok.Username, tok.Token)
	if tok.ExpiresAt > 0 {
		fmt.Fprintf(&b, "password_expiry_utc=%d\n", int64(tok.ExpiresAt))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxCredentialRequest bounds what is read from git; real requests are a
// few hundred bytes, with WWW-Authenticate headers a few kilobytes.
const maxCredentialRequest = 64 << 10

// credentialRequest is the part of git's request the helper uses (see
// `git help credential`, INPUT/OUTPUT FORMAT).
type credentialRequest struct {
	Protocol string
	Host     string
	Path     string
	Username string
}

// errCredentialRequest marks a request that breaks git's protocol.
var errCredentialRequest = errors.New("malformed credential request from git")

// parseCredentialRequest reads key=value lines up to a blank line or the
// end of input. Attributes it does not use (capability[], wwwauth[], ...)
// are skipped, as the protocol asks; of a repeated one, the last wins.
// A line without '=', an empty key, a NUL byte or more than
// maxCredentialRequest bytes is refused.
func parseCredentialRequest(r io.Reader) (credentialRequest, error) {
	var req credentialRequest
	br := bufio.NewReader(io.LimitReader(r, maxCredentialRequest+1))
	read := 0
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		read += len(line)
		if read > maxCredentialRequest {
			return credentialRequest{}, fmt.Errorf("%w: longer than %d bytes", errCredentialRequest, maxCredentialRequest)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return credentialRequest{}, fmt.Errorf("read credential request: %w", err)
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 {
			return req, nil // blank line, or end of input
		}
		if err := req.set(line); err != nil {
			return credentialRequest{}, fmt.Errorf("%w: line %d: %w", errCredentialRequest, n, err)
		}
		if err != nil {
			return req, nil // last line without newline
		}
	}
}

func (req *credentialRequest) set(line []byte) error {
	if bytes.IndexByte(line, 0) >= 0 {
		return errors.New("NUL byte")
	}
	key, value, ok := bytes.Cut(line, []byte("="))
	if !ok || len(key) == 0 {
		return errors.New("want key=value")
	}
	switch string(key) {
	case "protocol":
		req.Protocol = string(value)
	case "host":
		req.Host = string(value)
	case "path":
		req.Path = string(value)
	case "username":
		req.Username = string(value)
	}
	return nil
}

// repository derives the repository path from the URL path git sent:
// "/octo-org/widget.git" → "octo-org/widget".
func (req credentialRequest) repository() (string, error) {
	if req.Host == "" {
		return "", errors.New("git did not say which host it wants a credential for")
	}
	if req.Path == "" {
		return "", errors.New("git did not say which repository it wants a credential for: " +
			"run 'git config --global credential.useHttpPath true' (or set it for this host only, credential.https://HOST.useHttpPath)")
	}
	repo := strings.Trim(strings.TrimSuffix(strings.Trim(req.Path, "/"), ".git"), "/")
	if !strings.Contains(repo, "/") {
		return "", fmt.Errorf("the URL path %q names no repository (want /owner/name.git)", req.Path)
	}
	return repo, nil
}
