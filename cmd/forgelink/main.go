// Command forgelink is the forgelink daemon and its command-line client.
//
//	forgelink serve                 run the daemon
//	forgelink connections ...       manage connections
//	forgelink hosts ...             manage hosts
//	forgelink tags ...              manage resource tags
//	forgelink events ...            inspect recorded webhook events
//	forgelink deliveries ...        inspect and retry deliveries to targets
//	forgelink pipelines ...         show the configured pipelines
//	forgelink repository-links ...  link repositories to connections
//	forgelink config validate FILE  check a configuration file
//	forgelink version               print the version
//
// The client subcommands speak the AWS CodeConnections wire protocol through
// the AWS SDK for Go, exactly as any other AWS client would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// cliCommand is one top-level subcommand.
type cliCommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []cliCommand {
	return []cliCommand{
		{"serve", "run the forgelink daemon", runServe},
		{"connections", "create, get, list and delete connections", runConnections},
		{"hosts", "create, get, list, update and delete hosts", runHosts},
		{"tags", "add, remove and list resource tags", runTags},
		{"events", "list, show and explain recorded webhook events", runEvents},
		{"deliveries", "list, show, redeliver and discard deliveries to targets", runDeliveries},
		{"pipelines", "list and show the configured pipelines", runPipelines},
		{"repository-links", "link repositories to connections (forgelink keeps their webhooks)", runRepositoryLinks},
		{"git-credential", "git credential helper: short-lived tokens of a connection", runGitCredential},
		{"console-link", "print a one-time sign-in link to the web console", runConsoleLink},
		{"config", "validate a configuration file", runConfig},
		{"healthcheck", "exit 0 if the daemon answers /readyz with 200 (for container health checks)", runHealthcheck},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			_, err := fmt.Fprintln(stdout, "forgelink", version)
			return err
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one invocation and returns the process exit status:
// 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 2
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "forgelink %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "forgelink %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "forgelink: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: forgelink <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'forgelink <command> -h' for the flags of a command.")
}

// usageError reports a malformed command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}
