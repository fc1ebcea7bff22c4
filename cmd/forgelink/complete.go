package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// completeOutput is CompleteConnection's answer.
type completeOutput struct {
	ConnectionArn    string
	ConnectionStatus string
	Account          string
}

// connectionsComplete completes a connection with an access token, for
// build hosts with no browser. The token comes from a file, never from the
// command line, where the process list and shell history would show it.
func (c *cli) connectionsComplete() *cobra.Command {
	var tokenFile string
	cmd := c.leaf("complete --token-file FILE ARN", "make a connection AVAILABLE with an access token (no browser)", exactArgs(1, 1), func(x *call) error {
		if err := required(x.cmd, "token-file"); err != nil {
			return err
		}
		token, err := readToken(tokenFile, x.cli.stderr)
		if err != nil {
			return err
		}
		var out completeOutput
		if err := x.ext.call(x.ctx, "CompleteConnection", map[string]any{"ConnectionArn": x.args[0], "Token": token}, &out); err != nil {
			return err
		}
		return x.show(out, func(w io.Writer) {
			fmt.Fprintf(w, "CONNECTION\t%s\nSTATUS\t%s\nACCOUNT\t%s\n", out.ConnectionArn, out.ConnectionStatus, out.Account)
		})
	})
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "read the access token (for Bitbucket, an access token or username:app_password) from `file` (required)")
	return cmd
}

// readToken reads a token file, trimmed of surrounding whitespace (the
// newline an editor adds). A file other users can read only earns a
// warning: refusing would not take the token back from them.
func readToken(path string, stderr io.Writer) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o044 != 0 {
		fmt.Fprintf(stderr, "warning: token file %s is readable by other users (mode %04o); chmod 600 it\n", path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return token, nil
}
