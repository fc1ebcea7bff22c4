package main

import (
	"context"
	"fmt"
	"io"
	"time"
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
func connectionsSetup(ctx context.Context, l *leaf, args []string) error {
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return setupLink(ctx, l, "StartConnectionSetup", map[string]any{"ConnectionArn": pos[0]})
}

// hostsSetup prints a set-up link for a host: a GitHub Enterprise Server
// host registers forgelink's GitHub App, a GitLab self-managed host asks
// for its OAuth application. With --github-app it registers forgelink's
// App on github.com instead.
func hostsSetup(ctx context.Context, l *leaf, args []string) error {
	githubApp := l.Bool("github-app", false, "register forgelink's GitHub App on github.com (no host ARN)")
	org := l.String("org", "", "with --github-app: the `organization` that owns the App (default: the user who opens the link)")
	pos, err := l.parse(args, 0, 1)
	if err != nil {
		return err
	}
	switch {
	case *githubApp && len(pos) > 0:
		return usagef("--github-app takes no host ARN")
	case *githubApp:
		return setupLink(ctx, l, "StartGitHubAppSetup", map[string]any{"Organization": *org})
	case *org != "":
		return usagef("--org goes with --github-app")
	case len(pos) == 0:
		return usagef("missing arguments; usage: forgelink %s %s", l.Name(), l.synopsis)
	}
	return setupLink(ctx, l, "StartHostSetup", map[string]any{"HostArn": pos[0]})
}

// setupLink asks for a set-up link and prints it: the URL alone on stdout,
// the instructions on stderr.
func setupLink(ctx context.Context, l *leaf, op string, in any) error {
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out setupLinkOutput
	if err := client.call(ctx, op, in, &out); err != nil {
		return err
	}
	if l.common.output == "json" {
		return writeJSON(l.stdout, out)
	}
	expires := time.UnixMilli(int64(out.ExpiresAt * 1000)).Local()
	fmt.Fprintf(l.stderr, "open this link in a browser within 10 minutes (before %s); it works once:\n",
		expires.Format(time.DateTime+" MST"))
	_, err = fmt.Fprintln(l.stdout, out.SetupURL)
	return err
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
func hostsConfigureApp(ctx context.Context, l *leaf, args []string) error {
	clientID := l.String("client-id", "", "the OAuth application's `id`")
	secretFile := l.String("client-secret-file", "", "read the OAuth application's secret from `file`")
	adminFile := l.String("admin-token-file", "", "read an administrator's personal access token (scope api) from `file`; forgelink creates the application with it")
	pos, err := l.parse(args, 1, 1)
	if err != nil {
		return err
	}
	in := map[string]any{"HostArn": pos[0]}
	switch {
	case *adminFile != "" && (*clientID != "" || *secretFile != ""):
		return usagef("give --client-id and --client-secret-file, or --admin-token-file, not both")
	case *adminFile != "":
		if in["AdminToken"], err = readToken(*adminFile, l.stderr); err != nil {
			return err
		}
	case *clientID != "" && *secretFile != "":
		in["ClientId"] = *clientID
		if in["ClientSecret"], err = readToken(*secretFile, l.stderr); err != nil {
			return err
		}
	default:
		return usagef("--client-id and --client-secret-file, or --admin-token-file, are required")
	}
	client, err := l.extClient(ctx)
	if err != nil {
		return err
	}
	var out configureAppOutput
	if err := client.call(ctx, "ConfigureHostApp", in, &out); err != nil {
		return err
	}
	return l.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "HOST\t%s\nSTATUS\t%s\n", out.HostArn, out.HostStatus)
	})
}
