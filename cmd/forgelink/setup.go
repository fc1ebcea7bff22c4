package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// setupLinkOutput is the answer of StartConnectionSetup, StartHostSetup
// and StartGitHubAppSetup.
type setupLinkOutput struct {
	SetupURL  string  `json:"SetupUrl"`
	ExpiresAt float64 // epoch seconds
}

// connectionsSetup prints a set-up link: opened in a browser, it installs
// the GitHub App or authorizes forgelink at the provider, and the
// connection becomes AVAILABLE.
func connectionsSetup(x *call) error {
	return setupLink(x, "StartConnectionSetup", map[string]any{"ConnectionArn": x.args[0]})
}

// hostsSetup prints a set-up link for a host: a GitHub Enterprise Server
// host registers forgelink's GitHub App, a GitLab self-managed host asks
// for its OAuth application. With --github-app it registers forgelink's
// App on github.com instead.
func (c *cli) hostsSetup() *cobra.Command {
	var githubApp bool
	var org string
	cmd := c.leaf("setup [--github-app [--org ORG]] [ARN]",
		"print a link that sets the host up in a browser (or registers a GitHub App on github.com)", exactArgs(0, 1), func(x *call) error {
			switch {
			case githubApp && len(x.args) > 0:
				return usagef("--github-app takes no host ARN")
			case githubApp:
				return setupLink(x, "StartGitHubAppSetup", map[string]any{"Organization": org})
			case org != "":
				return usagef("--org goes with --github-app")
			case len(x.args) == 0:
				return usagef("missing arguments; usage: %s", x.cmd.UseLine())
			}
			return setupLink(x, "StartHostSetup", map[string]any{"HostArn": x.args[0]})
		})
	cmd.Flags().BoolVar(&githubApp, "github-app", false, "register forgelink's GitHub App on github.com (no host ARN)")
	cmd.Flags().StringVar(&org, "org", "", "with --github-app: the `organization` that owns the App (default: the user who opens the link)")
	return cmd
}

// setupLink asks for a set-up link and prints it: the URL alone on stdout,
// the instructions on stderr.
func setupLink(x *call, op string, in any) error {
	var out setupLinkOutput
	if err := x.ext.call(x.ctx, op, in, &out); err != nil {
		return err
	}
	return x.showText(out, func(w io.Writer) error {
		expires := time.UnixMilli(int64(out.ExpiresAt * 1000)).Local()
		fmt.Fprintf(x.cli.stderr, "open this link in a browser within 10 minutes (before %s); it works once:\n",
			expires.Format(time.DateTime+" MST"))
		_, err := fmt.Fprintln(w, out.SetupURL)
		return err
	})
}

// configureAppOutput is ConfigureHostApp's answer.
type configureAppOutput struct {
	HostArn    string
	HostStatus string
}

// hostsConfigureApp gives a GitLab self-managed host its OAuth application
// without a browser: an existing application's id and secret, or an
// administrator's token with which forgelink creates one. Secrets come
// from files, never from the command line.
func (c *cli) hostsConfigureApp() *cobra.Command {
	var clientID, secretFile, adminFile string
	cmd := c.leaf("configure-app (--client-id ID --client-secret-file FILE | --admin-token-file FILE) ARN",
		"give a GitLab self-managed host its OAuth application (no browser)", exactArgs(1, 1), func(x *call) error {
			in := map[string]any{"HostArn": x.args[0]}
			var err error
			switch {
			case adminFile != "" && (clientID != "" || secretFile != ""):
				return usagef("give --client-id and --client-secret-file, or --admin-token-file, not both")
			case adminFile != "":
				if in["AdminToken"], err = readToken(adminFile, x.cli.stderr); err != nil {
					return err
				}
			case clientID != "" && secretFile != "":
				in["ClientId"] = clientID
				if in["ClientSecret"], err = readToken(secretFile, x.cli.stderr); err != nil {
					return err
				}
			default:
				return usagef("--client-id and --client-secret-file, or --admin-token-file, are required")
			}
			var out configureAppOutput
			if err := x.ext.call(x.ctx, "ConfigureHostApp", in, &out); err != nil {
				return err
			}
			return x.show(out, func(w io.Writer) {
				fmt.Fprintf(w, "HOST\t%s\nSTATUS\t%s\n", out.HostArn, out.HostStatus)
			})
		})
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "the OAuth application's `id`")
	f.StringVar(&secretFile, "client-secret-file", "", "read the OAuth application's secret from `file`")
	f.StringVar(&adminFile, "admin-token-file", "", "read an administrator's personal access token (scope api) from `file`; forgelink creates the application with it")
	return cmd
}
