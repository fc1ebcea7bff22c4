package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/dispatch"
	"github.com/forgelink/forgelink/relay/notify/amqp"
	"github.com/forgelink/forgelink/relay/notify/command"
	"github.com/forgelink/forgelink/relay/notify/nats"
	"github.com/forgelink/forgelink/relay/notify/webhook"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// leaseMargin is added to a target's attempt timeout to make its lease: a
// delivery is only reclaimed once its attempt can no longer be running.
// An attempt ends at its timeout; the margin covers recording its result
// (one batched store write). It is also how much longer than the timeout
// a killed daemon's in-flight deliveries wait before they are retried.
const leaseMargin = 10 * time.Second

// pipelines holds what SIGHUP reloads: the router built from the pipelines
// and the engine's targets. Readers see either the old or the new set.
type pipelines struct {
	router  atomic.Pointer[route.Router]
	config  atomic.Pointer[config.Config]
	engine  *dispatch.Engine
	log     *zap.Logger
	connARN func(id string) string
}

// apply builds the router and targets of cfg and swaps them in; on any
// error nothing changes.
func (p *pipelines) apply(ctx context.Context, cfg *config.Config) error {
	router, err := route.New(cfg.Pipelines)
	if err != nil {
		return fmt.Errorf("pipelines: %w", err)
	}
	targets, err := buildTargets(ctx, cfg.Targets, p.log)
	if err != nil {
		return err
	}
	p.router.Store(router)
	p.config.Store(cfg)
	p.engine.SetTargets(targets)
	// Removed pipelines' last-success series go with them.
	names := make([]string, 0, len(cfg.Pipelines))
	for _, pc := range cfg.Pipelines {
		names = append(names, pc.Name)
	}
	p.engine.RetainPipelines(names)
	p.log.Info("pipelines configured", zap.Int("pipelines", len(cfg.Pipelines)), zap.Int("targets", len(cfg.Targets)))
	go p.warnUnreachable(context.WithoutCancel(ctx), cfg)
	return nil
}

// warnUnreachable reports targets that cannot take deliveries now: not
// reachable, or (nats, amqp) with no stream or queue for them. It does
// not refuse the configuration: such deliveries queue and retry, which is
// what they are for, while the operator fixes the target.
func (p *pipelines) warnUnreachable(ctx context.Context, cfg *config.Config) {
	ctx, cancel := context.WithTimeout(ctx, 2*probeTimeout)
	defer cancel()
	var problems config.ValidationError
	if errors.As(probeTargets(ctx, cfg, io.Discard), &problems) {
		for _, fe := range problems {
			p.log.Warn("target cannot take deliveries now; they will queue and retry", zap.String("problem", fe.Error()))
		}
	}
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

// route decides the deliveries of a recorded event.
func (p *pipelines) route(connID, eventID string, at time.Time, ev *providers.Event) []store.Delivery {
	matches := p.router.Load().Route(connID, ev)
	if len(matches) == 0 {
		return nil
	}
	return dispatch.Plan(dispatch.Recorded{
		EventID: eventID, ConnectionID: connID, ConnectionARN: p.connARN(connID), ReceivedAt: at, Event: ev,
	}, matches)
}

// buildTargets makes a notifier per target; if one fails, those made so far
// are closed.
func buildTargets(ctx context.Context, cfgs []config.Target, log *zap.Logger) ([]dispatch.Target, error) {
	var targets []dispatch.Target
	for _, c := range cfgs {
		n, timeout, err := newNotifier(ctx, c, log.Named("target").With(zap.String("target", c.Name)))
		if err != nil {
			for _, t := range targets {
				t.Notifier.Close()
			}
			return nil, fmt.Errorf("target %s: %w", c.Name, err)
		}
		targets = append(targets, dispatch.Target{
			Name: c.Name, Type: c.Type, Notifier: n, Concurrency: c.Concurrency,
			Lease: timeout + leaseMargin,
			Retry: dispatch.Retry{
				InitialInterval: c.Retry.InitialInterval, MaxInterval: c.Retry.MaxInterval,
				MaxAttempts: c.Retry.MaxAttempts, MaxAge: c.Retry.MaxAge,
			},
			Breaker: dispatch.Breaker{FailureThreshold: c.CircuitBreaker.FailureThreshold, Cooldown: c.CircuitBreaker.Cooldown},
		})
	}
	return targets, nil
}

// checkPipelines runs the checks apply runs beyond cfg.Validate, without
// connecting anywhere: each pipeline compiles into the router, and each
// target builds (an exec target's program is found, an http target's
// templates and files load); nats and amqp targets run their
// constructors' offline checks. `config validate` runs it, so that it
// refuses what serve would. found are the problems validation found:
// the pipelines and targets they are in are not checked again.
func checkPipelines(cfg *config.Config, found config.ValidationError) config.ValidationError {
	checked := func(field string) bool {
		return !slices.ContainsFunc(found, func(fe config.FieldError) bool {
			return fe.Field == field || strings.HasPrefix(fe.Field, field+".")
		})
	}
	for i, pc := range cfg.Pipelines {
		field := fmt.Sprintf("pipelines[%d]", i)
		if !checked(field) {
			continue
		}
		if _, err := route.New([]config.Pipeline{pc}); err != nil {
			found = append(found, cfg.Problem(field, err.Error()))
		}
	}
	for i, c := range cfg.Targets {
		if !checked(fmt.Sprintf("targets[%d]", i)) {
			continue
		}
		if err := checkTarget(c); err != nil {
			found = append(found, cfg.TargetProblem(i, err))
		}
	}
	return found
}

func checkTarget(c config.Target) error {
	switch c.Type {
	case config.TargetNATS:
		return nats.Check(*c.NATS)
	case config.TargetAMQP:
		return amqp.Check(*c.AMQP)
	}
	// http and exec notifiers are built offline: build one and drop it.
	n, _, err := newNotifier(context.Background(), c, zap.NewNop())
	if err != nil {
		return err
	}
	return n.Close()
}

// newNotifier builds one target's notifier and returns its attempt timeout.
func newNotifier(ctx context.Context, c config.Target, log *zap.Logger) (dispatch.Notifier, time.Duration, error) {
	switch c.Type {
	case config.TargetHTTP:
		n, err := webhook.New(*c.HTTP, webhook.Options{MaxConnsPerHost: c.Concurrency, Version: shortVersion(), Log: log})
		return n, c.HTTP.Timeout, err
	case config.TargetExec:
		n, err := command.New(*c.Exec, command.Options{Log: log, Environ: os.Environ()})
		return n, c.Exec.Timeout, err
	case config.TargetNATS:
		n, err := nats.New(ctx, *c.NATS, nats.Options{Log: log, Name: "forgelink " + c.Name})
		return n, c.NATS.Timeout, err
	case config.TargetAMQP:
		n, err := amqp.New(ctx, *c.AMQP, amqp.Options{Log: log, Name: "forgelink " + c.Name})
		return n, c.AMQP.Timeout, err
	}
	return nil, 0, errors.New("unknown target type " + c.Type)
}

// Pipelines returns the pipelines of the running configuration.
func (p *pipelines) Pipelines() []config.Pipeline { return p.config.Load().Pipelines }

// Explain says, for every pipeline on the event's connection and
// repository, why it did or did not trigger.
func (p *pipelines) Explain(connID string, ev *providers.Event) []route.PipelineVerdict {
	return p.router.Load().Explain(connID, ev)
}

// repositories lists the repositories the running pipelines name on the
// connection connID: forgelink keeps a webhook on each.
func (p *pipelines) repositories(connID string) []string {
	if r := p.router.Load(); r != nil {
		return r.Repositories(connID)
	}
	return nil
}
