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
// The command line is built on cobra (help at every level, completion);
// the client subcommands speak the AWS CodeConnections wire protocol
// through the AWS SDK for Go, exactly as any other AWS client would.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/forgelink/forgelink/internal/spell"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one invocation with the process's standard input and
// environment and returns the exit status: 0 success, 1 failure, 2 usage
// error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, stdin: os.Stdin, getenv: os.Getenv}
	return c.execute(ctx, args)
}

// execute runs args through the command tree and reports a failure on
// stderr: "forgelink <command>: <error>", with a hint for usage and
// authentication errors.
func (c *cli) execute(ctx context.Context, args []string) int {
	root := c.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(c.stderr, "%s: %v\n", cmd.CommandPath(), err)
	if errors.As(err, new(usageError)) {
		fmt.Fprintf(c.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return 2
	}
	if hint := c.authHint(err); hint != "" {
		fmt.Fprintln(c.stderr, hint)
	}
	return 1
}

// rootCommand builds the whole command tree for one invocation.
func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "forgelink",
		Short: "a self-hosted AWS CodeConnections-compatible connections service, and its client",
		Long: "forgelink runs the daemon (forgelink serve) and is its command-line client: the client\n" +
			"commands speak the AWS CodeConnections wire protocol to the daemon at --endpoint-url.",
		Version:                    buildVersion(),
		Args:                       cobra.ArbitraryArgs,
		RunE:                       groupRun,
		SilenceErrors:              true,
		SuggestionsMinimumDistance: 2,
		SilenceUsage:               true,
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetIn(c.stdin)
	root.SetVersionTemplate("{{.Version}}\n")
	// A group is runnable only to refuse a missing or unknown subcommand:
	// its usage shows the subcommand form alone.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(),
		"Usage:{{if .Runnable}}", "Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(helpCommand())
	root.AddCommand(
		c.serveCommand(),
		c.connectionsCommand(),
		c.hostsCommand(),
		c.tagsCommand(),
		c.eventsCommand(),
		c.deliveriesCommand(),
		c.pipelinesCommand(),
		c.linksCommand(),
		c.gitCredentialCommand(),
		c.consoleLinkCommand(),
		c.configCommand(),
		c.storeCommand(),
		c.healthcheckCommand(),
		versionCommand(),
	)
	// cobra's completion group, like ours, refuses an unknown shell.
	root.InitDefaultCompletionCmd()
	if comp, _, err := root.Find([]string{"completion"}); err == nil && comp != root {
		comp.Args, comp.RunE = cobra.ArbitraryArgs, groupRun
	}
	return root
}

// group is a command whose only job is to hold subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: groupRun, SuggestionsMinimumDistance: 2}
	g.AddCommand(subs...)
	return g
}

// groupRun refuses a group run without a known subcommand as a usage
// error (cobra would print help and succeed), and takes "GROUP help SUB"
// as the help of SUB.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usagef("missing command; one of: %s", strings.Join(subcommandNames(cmd), ", "))
	}
	if args[0] == "help" {
		return showHelp(cmd, args[1:])
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
	}
	return usageError{msg}
}

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return names
}

// helpCommand replaces cobra's, which succeeds on an unknown topic.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "help about any command",
		RunE:  func(cmd *cobra.Command, args []string) error { return showHelp(cmd.Root(), args) },
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			target, _, _ := cmd.Root().Find(args)
			return subcommandNames(target), cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// showHelp prints the help of the command path under from, on stdout.
func showHelp(from *cobra.Command, path []string) error {
	target, rest, err := from.Find(path)
	if err != nil || len(rest) > 0 {
		return usagef("unknown help topic %q", strings.Join(path, " "))
	}
	return target.Help()
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, the VCS revision and the Go version",
		Args:  exactArgs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), buildVersion())
			return err
		},
	}
}

// flagError makes a flag parsing error a usage error, naming the flags
// close to an unknown one.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	name, unknown := strings.CutPrefix(msg, "unknown flag: --")
	if !unknown {
		return usageError{msg}
	}
	var near []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (strings.HasPrefix(f.Name, name) || spell.Distance(f.Name, name) <= 2) {
			near = append(near, "--"+f.Name)
		}
	})
	if len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, " or ") + "?"
	}
	return usageError{msg}
}

// usageError reports a malformed command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// exactArgs wants at least min positional arguments and, unless max is
// negative, at most max.
func exactArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return usagef("missing arguments; usage: %s", cmd.UseLine())
		case max >= 0 && len(args) > max:
			return usagef("unexpected arguments %q", args[max:])
		}
		return nil
	}
}
