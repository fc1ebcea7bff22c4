package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/notify/amqp"
	"github.com/forgelink/forgelink/relay/notify/nats"
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
	switch {
	case err != nil:
	case *env:
		err = cfg.Validate()
	default:
		err = cfg.ValidateFile()
	}
	if err == nil {
		// What serve refuses at start beyond validation.
		err = checkPipelines(cfg)
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

// probeTargets dials every network target, then asks the servers of the
// reachable queue targets whether a delivery has somewhere to go: a
// JetStream stream capturing a nats target's subject; an amqp target's
// queue (default exchange) or exchange. It prints what it found.
func probeTargets(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	d := net.Dialer{Timeout: probeTimeout}
	var errs config.ValidationError
	errors.As(cfg.ProbeTargets(ctx, d.DialContext), &errs)
	unreachable := map[string]bool{}
	for _, fe := range errs {
		unreachable[fe.Field] = true
	}
	for i, t := range cfg.Targets {
		field := fmt.Sprintf("targets[%d].", i)
		if unreachable[field+"nats.url"] || unreachable[field+"amqp.url"] || unreachable[field+"amqp.urlFile"] {
			continue
		}
		found, sub, err := probeBinding(ctx, t)
		switch {
		case err != nil:
			errs = append(errs, cfg.Problem(field+sub, fmt.Sprintf("target %s: %v", t.Name, err)))
		case found != "":
			fmt.Fprintf(stdout, "target %s: %s\n", t.Name, found)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// probeTimeout bounds each connection a probe makes.
const probeTimeout = 5 * time.Second

// probeBinding probes one queue target, and names the field a problem
// belongs to; it finds nothing for other targets.
func probeBinding(ctx context.Context, t config.Target) (found, field string, err error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	switch {
	case t.NATS != nil:
		stream, err := nats.Probe(ctx, *t.NATS)
		return fmt.Sprintf("stream %s captures subject %s", stream, t.NATS.Subject), "nats.subject", err
	case t.AMQP != nil && t.AMQP.Exchange != "":
		found, err = amqp.Probe(ctx, *t.AMQP)
		return found, "amqp.exchange", err
	case t.AMQP != nil:
		found, err = amqp.Probe(ctx, *t.AMQP)
		return found, "amqp.routingKey", err
	}
	return "", "", nil
}
