package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/forgelink/forgelink/config"
)

func (c *cli) configCommand() *cobra.Command {
	var env, probe bool
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "check a configuration file, as serve and a reload would, without starting",
		Args:  exactArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var environ []string
			if env {
				environ = os.Environ()
			}
			cfg, err := config.Load(args[0], environ)
			if err != nil {
				return err
			}
			if env {
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
			if err == nil && probe {
				err = probeTargets(cmd.Context(), cfg, c.stdout)
			}
			if err != nil {
				return err
			}
			for _, w := range cfg.AccessKeyWarnings() {
				fmt.Fprintf(c.stdout, "warning: %s\n", w.Error())
			}
			_, err = fmt.Fprintf(c.stdout, "%s: valid (%d targets, %d pipelines)\n", args[0], len(cfg.Targets), len(cfg.Pipelines))
			return err
		},
	}
	validate.Flags().BoolVar(&env, "env", false, "also apply the FORGELINK_* environment and check what depends on it, as serve does")
	validate.Flags().BoolVar(&probe, "probe", false, "also connect to every network target (http, nats, amqp) and report those unreachable, "+
		"nats subjects no JetStream stream captures, and amqp queues or exchanges that do not exist")
	return group("config", "validate a configuration file", validate)
}
