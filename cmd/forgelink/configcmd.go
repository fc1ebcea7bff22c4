package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/forgelink/forgelink/config"
)

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprintln(stderr, "usage: forgelink config validate FILE\n\nChecks a configuration file, as `serve` and a reload would, without starting.")
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("config validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := fs.Bool("env", false, "also apply the FORGELINK_* environment and check what depends on it, as serve does")
	probe := fs.Bool("probe", false, "also connect to every network target (http, nats, amqp) and report those unreachable, nats subjects no JetStream stream captures, and amqp queues or exchanges that do not exist")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one FILE")
	}
	var environ []string
	if *env {
		environ = os.Environ()
	}
	cfg, err := config.Load(fs.Arg(0), environ)
	if err != nil {
		return err
	}
	if *env {
		err = cfg.Validate()
	} else {
		err = cfg.ValidateFile()
	}
	if problems := (config.ValidationError{}); err == nil || errors.As(err, &problems) {
		// What serve refuses at start beyond validation, all at once.
		if problems = checkPipelines(cfg, problems); len(problems) > 0 {
			err = problems
		}
	}
	if err == nil && *probe {
		err = probeTargets(ctx, cfg, stdout)
	}
	if err != nil {
		return err
	}
	for _, w := range cfg.AccessKeyWarnings() {
		fmt.Fprintf(stdout, "warning: %s\n", w.Error())
	}
	_, err = fmt.Fprintf(stdout, "%s: valid (%d targets, %d pipelines)\n", fs.Arg(0), len(cfg.Targets), len(cfg.Pipelines))
	return err
}
