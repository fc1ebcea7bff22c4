package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The pipeline mode's fixed names.
const (
	pipelineName = "load"
	targetName   = "load-receiver"
	loadRepo     = "acme/web"             // the push payload's repository
	loadToken    = "forgelink-load-token" // any token: the fake GitHub API takes it
)

const (
	// setupTimeout bounds each set-up wait: the reloaded pipeline showing
	// up, the smoke delivery reaching the receiver.
	setupTimeout = 10 * time.Second
	// deadSendLimit bounds the dead-target phase's sends.
	deadSendLimit = 10 * time.Minute
	// deadHold is how long the target stays down after the last send, with
	// the backlog complete, before it comes back.
	deadHold = 2 * time.Second
	// awaitPoll is how often a drain wait looks at the receiver. Drain times
	// come from the receiver's arrival times, not from this.
	awaitPoll = 20 * time.Millisecond
)

// targetSettings are the http target's settings in the daemon's
// configuration: retries and breaker tuned so that a drain starts within
// about a second of the target coming back (the defaults would wait up to
// 30 s of breaker cool-down and 5 min of backoff), and enough attempts and
// age that no delivery is dead-lettered during the dead-target phase.
type targetSettings struct {
	Concurrency      int
	Timeout          time.Duration
	InitialInterval  time.Duration
	MaxInterval      time.Duration
	MaxAttempts      int
	MaxAge           time.Duration
	FailureThreshold int
	Cooldown         time.Duration
}

// MarshalJSON writes the durations as Go durations ("100ms"), as the
// configuration file has them.
func (t targetSettings) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Concurrency      int    `json:"concurrency"`
		Timeout          string `json:"timeout"`
		InitialInterval  string `json:"retryInitialInterval"`
		MaxInterval      string `json:"retryMaxInterval"`
		MaxAttempts      int    `json:"retryMaxAttempts"`
		MaxAge           string `json:"retryMaxAge"`
		FailureThreshold int    `json:"breakerFailureThreshold"`
		Cooldown         string `json:"breakerCooldown"`
	}{t.Concurrency, t.Timeout.String(), t.InitialInterval.String(), t.MaxInterval.String(), t.MaxAttempts,
		t.MaxAge.String(), t.FailureThreshold, t.Cooldown.String()})
}

func loadTargetSettings(concurrency int) targetSettings {
	return targetSettings{
		Concurrency:      concurrency,
		Timeout:          5 * time.Second,
		InitialInterval:  100 * time.Millisecond,
		MaxInterval:      time.Second,
		MaxAttempts:      1000,
		MaxAge:           time.Hour,
		FailureThreshold: 10,
		Cooldown:         time.Second,
	}
}

// daemonConfig is the daemon's YAML configuration: the fake GitHub API,
// one http target at the receiver and, once the connection exists (arn not
// empty), one PARALLEL pipeline for every branch push to the payload's
// repository.
func daemonConfig(githubAPI, targetURL, arn string, ts targetSettings) string {
	var b strings.Builder
	b.WriteString("# Written by forgelink-load --pipeline.\n")
	fmt.Fprintf(&b, "providers:\n  githubAPIURL: %q\n", githubAPI)
	b.WriteString("targets:\n")
	fmt.Fprintf(&b, "  - name: %s\n    type: http\n    http: {url: %q, format: forgelink, timeout: %s}\n", targetName, targetURL, ts.Timeout)
	if ts.Concurrency > 0 { // else the daemon's default
		fmt.Fprintf(&b, "    concurrency: %d\n", ts.Concurrency)
	}
	fmt.Fprintf(&b, "    retry: {initialInterval: %s, maxInterval: %s, maxAttempts: %d, maxAge: %s}\n",
		ts.InitialInterval, ts.MaxInterval, ts.MaxAttempts, ts.MaxAge)
	fmt.Fprintf(&b, "    circuitBreaker: {failureThreshold: %d, cooldown: %s}\n", ts.FailureThreshold, ts.Cooldown)
	if arn == "" {
		b.WriteString("pipelines: []\n")
		return b.String()
	}
	b.WriteString("pipelines:\n")
	fmt.Fprintf(&b, "  - name: %s\n    connectionArn: %q\n    repository: %s\n    executionMode: PARALLEL\n    target: %s\n",
		pipelineName, arn, loadRepo, targetName)
	b.WriteString("    triggers:\n      push:\n        - branches: {includes: [\"**\"]}\n")
	return b.String()
}

// writeFileAtomic replaces path, so that a reload never reads half a file.
func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// pipelineBenchmark runs the pipeline mode's phases. It returns the report
// so far with an error once set-up is done.
func pipelineBenchmark(ctx context.Context, cfg config, progress io.Writer) (*pipelineReport, error) {
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	body := pushPayload()
	rep := newPipelineReport(cfg, len(body))
	dir, err := os.MkdirTemp("", "forgelink-load-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	rs, err := startReceiver()
	if err != nil {
		return nil, err
	}
	defer rs.close()
	err = measurePipeline(ctx, cfg, dir, body, rs, rep, progress)
	rep.Receiver = rs.counters()
	rep.Failures = rep.check()
	if err == nil && len(rep.Failures) > 0 {
		err = fmt.Errorf("%d problem(s): %v", len(rep.Failures), rep.Failures)
	}
	return rep.partial(), err
}

// measurePipeline starts the daemon with the target, sets up the
// connection and pipeline, runs the phases and stops the daemon with
// SIGTERM, after reading its metrics even when a phase failed (its queue
// and dead letters say why events were lost). Only an interrupted run, or
// a failed set-up, kills it.
func measurePipeline(ctx context.Context, cfg config, dir string, body []byte, rs *receiverServer, rep *pipelineReport, progress io.Writer) error {
	ts := loadTargetSettings(cfg.targetConcurrency)
	rep.Pipeline.Target = ts
	githubAPI, targetURL := rs.base+githubPrefix, rs.base+deliverPath
	cfgPath := filepath.Join(dir, "forgelink.yaml")
	if err := writeFileAtomic(cfgPath, daemonConfig(githubAPI, targetURL, "", ts)); err != nil {
		return fmt.Errorf("daemon configuration: %w", err)
	}
	fmt.Fprintf(progress, "starting %s with a target at %s\n", cfg.forgelink, targetURL)
	d, err := startDaemon(ctx, cfg, dir, cfgPath)
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.kill()
		}
		rep.Daemon.Log = d.logs.summary()
	}()
	base := "http://" + d.addr
	hc := newClient(cfg.concurrency)
	defer hc.CloseIdleConnections()
	t, err := setUpPipeline(ctx, hc, d, base, cfgPath, githubAPI, targetURL, ts, body, rep)
	if err != nil {
		return fmt.Errorf("set up the pipeline: %w", err)
	}
	if err := smokePipeline(ctx, hc, t, rs, d); err != nil {
		return fmt.Errorf("smoke test through the pipeline: %w", err)
	}
	err = runPipelinePhases(ctx, cfg, hc, d, base, t, rs, rep, progress)
	if ctx.Err() != nil || d.exited() {
		return err
	}
	if m, merr := scrapeMetrics(ctx, hc, base); merr != nil {
		rep.Daemon.MetricsError = merr.Error()
	} else {
		rep.Daemon.Metrics = &m
	}
	fmt.Fprintln(progress, "stopping forgelink")
	stopped = true
	err = errors.Join(err, d.stop())
	rep.Daemon.DataBytes = dirSize(d.dataDir)
	return err
}

// runPipelinePhases runs the selected phases in order, up to the first
// that fails: a phase that lost events, or left them undelivered, would
// disturb the next one's figures.
func runPipelinePhases(ctx context.Context, cfg config, hc *http.Client, d *daemon, base string, t *target, rs *receiverServer, rep *pipelineReport, progress io.Writer) error {
	var err error
	if cfg.runs("deliver-saturate") {
		if rep.Saturate, err = runDeliverSaturate(ctx, cfg, hc, d, t, rs, progress); err != nil {
			return err
		}
	}
	if cfg.runs("deliver-steady") {
		if rep.Steady, err = runDeliverSteady(ctx, cfg, hc, d, t, rs, progress); err != nil {
			return err
		}
	}
	if cfg.runs("dead-target") {
		if rep.DeadTarget, err = runDeadTarget(ctx, cfg, hc, d, base, t, rs, progress); err != nil {
			return err
		}
	}
	return nil
}

// setUpPipeline creates the connection, reloads the daemon with a
// pipeline on it (the configuration needs the connection's ARN, known only
// now), and completes the connection with a token the fake GitHub API
// accepts, so that its events are routed.
func setUpPipeline(ctx context.Context, hc *http.Client, d *daemon, base, cfgPath, githubAPI, targetURL string,
	ts targetSettings, body []byte, rep *pipelineReport) (*target, error) {
	hook, err := createWebhook(ctx, hc, base)
	if err != nil {
		return nil, err
	}
	rep.Pipeline.Config = daemonConfig(githubAPI, targetURL, hook.ARN, ts)
	if err := writeFileAtomic(cfgPath, rep.Pipeline.Config); err != nil {
		return nil, fmt.Errorf("daemon configuration: %w", err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	if err := awaitPipeline(ctx, hc, d, base, hook.ARN); err != nil {
		return nil, err
	}
	var done struct{ ConnectionStatus, Account string }
	in := map[string]string{"ConnectionArn": hook.ARN, "Token": loadToken}
	if err := callAPI(ctx, hc, base, "Forgelink_20261125.CompleteConnection", in, &done); err != nil {
		return nil, err
	}
	if done.ConnectionStatus != "AVAILABLE" {
		return nil, fmt.Errorf("CompleteConnection: connection is %s, want AVAILABLE", done.ConnectionStatus)
	}
	return newTarget(hook.URL, []byte(hook.Secret), body), nil
}

// awaitPipeline waits until ListPipelines shows the reloaded pipeline.
func awaitPipeline(ctx context.Context, hc *http.Client, d *daemon, base, arn string) error {
	deadline := time.Now().Add(setupTimeout)
	for {
		var out struct {
			Pipelines []struct{ Name, ConnectionArn, Repository, Target string }
		}
		if err := callAPI(ctx, hc, base, "Forgelink_20261125.ListPipelines", struct{}{}, &out); err != nil {
			return err
		}
		for _, p := range out.Pipelines {
			if p.Name == pipelineName && p.ConnectionArn == arn && p.Repository == loadRepo && p.Target == targetName {
				return nil
			}
		}
		if d.exited() {
			return fmt.Errorf("forgelink exited after SIGHUP: %w", exitErr(d.err))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pipeline %q not listed %v after SIGHUP; the daemon's last log lines:\n%s", pipelineName, setupTimeout, d.logs.tail())
		}
		if !sleepUntil(ctx, time.Now().Add(50*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

// smokePipeline sends one push and waits for its delivery.
func smokePipeline(ctx context.Context, hc *http.Client, t *target, rs *receiverServer, d *daemon) error {
	rec := &recorder{track: true}
	rec.send(ctx, hc, t, time.Now())
	if rec.errors > 0 {
		return fmt.Errorf("webhook: %s", rec.sample)
	}
	missing, err := awaitDelivered(ctx, rs.receiver, d.child, []string{rec.events[0].id}, time.Now().Add(setupTimeout))
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("event %s accepted but not delivered within %v; the daemon's last log lines:\n%s", missing[0], setupTimeout, d.logs.tail())
	}
	return nil
}

// awaitDelivered waits until every event of ids has reached the receiver,
// the deadline passes or the daemon exits, and returns those still
// missing.
func awaitDelivered(ctx context.Context, r *receiver, c *child, ids []string, deadline time.Time) ([]string, error) {
	rest := slices.Clone(ids)
	for {
		if rest = r.missing(rest); len(rest) == 0 {
			return nil, nil
		}
		if c.exited() {
			return rest, fmt.Errorf("%s exited: %w", c.name, exitErr(c.err))
		}
		if !time.Now().Before(deadline) {
			return rest, nil
		}
		next := time.Now().Add(awaitPoll)
		if next.After(deadline) {
			next = deadline
		}
		if !sleepUntil(ctx, next) {
			return rest, fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}
}

func runDeliverSaturate(ctx context.Context, cfg config, hc *http.Client, d *daemon, t *target, rs *receiverServer, progress io.Writer) (*deliveryPhase, error) {
	fmt.Fprintf(progress, "deliver-saturate: %d keep-alive workers, %v warm-up + %v, then the backlog drains\n", cfg.concurrency, cfg.warmup, cfg.duration)
	start := time.Now().Add(cfg.warmup)
	w := window{start: start, end: start.Add(cfg.duration)}
	rec, u, err := runWorkers(ctx, d.pid(), cfg.concurrency, w, recorder{track: true}, true, saturate(hc, t, w))
	if err != nil {
		return nil, fmt.Errorf("deliver-saturate: %w", serverState(d.child, err))
	}
	p := newDeliveryPhase("deliver-saturate", cfg.concurrency, w, rec, u)
	p.WarmupSeconds = cfg.warmup.Seconds()
	return p, p.settle(ctx, rs, d, rec.events, w, cfg.drainTimeout, progress)
}

func runDeliverSteady(ctx context.Context, cfg config, hc *http.Client, d *daemon, t *target, rs *receiverServer, progress io.Writer) (*deliveryPhase, error) {
	fmt.Fprintf(progress, "deliver-steady: %d/s open loop for %v\n", cfg.rate, cfg.duration)
	start := time.Now().Add(steadyLead)
	w := window{start: start, end: start.Add(cfg.duration)}
	rec, u, err := runWorkers(ctx, d.pid(), cfg.concurrency, w, recorder{track: true}, true, openLoop(hc, t, w, cfg.rate))
	if err != nil {
		return nil, fmt.Errorf("deliver-steady: %w", serverState(d.child, err))
	}
	p := newDeliveryPhase("deliver-steady", cfg.concurrency, w, rec, u)
	p.TargetRate = cfg.rate
	p.SendLagMaxMs = ms(rec.lagMax)
	return p, p.settle(ctx, rs, d, rec.events, w, cfg.drainTimeout, progress)
}

func newDeliveryPhase(name string, workers int, w window, rec *recorder, u usage) *deliveryPhase {
	return &deliveryPhase{
		Phase:             name,
		Workers:           workers,
		DurationSeconds:   w.end.Sub(w.start).Seconds(),
		Requests:          rec.requests,
		Errors:            rec.errors,
		ErrorSample:       rec.sample,
		Accepted:          len(rec.events),
		AcceptedPerSecond: float64(rec.accepted) / w.end.Sub(w.start).Seconds(),
		WebhookLatency:    summarize(rec.lat),
		ServerCPUPercent:  cpuPercent(u.server[0], u.server[1]),
		ClientCPUPercent:  cpuPercent(u.client[0], u.client[1]),
		ServerRSSMiB:      float64(u.server[1].rssKiB) / 1024,
		ServerPeakRSSMiB:  float64(u.server[1].hwmKiB) / 1024,
	}
}

// settle waits for the phase's accepted events to reach the receiver and
// computes the delivery figures. Events not received within timeout are
// lost: an error.
func (p *deliveryPhase) settle(ctx context.Context, rs *receiverServer, d *daemon, events []acceptance, w window, timeout time.Duration, progress io.Writer) error {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.id
	}
	waitStart := time.Now()
	missing, err := awaitDelivered(ctx, rs.receiver, d.child, ids, waitStart.Add(timeout))
	var lat, fromAnswer []time.Duration
	var inWindow int
	var last time.Time
	missing = missing[:0] // recounted on the same snapshot as the figures
	for i, a := range rs.arrivals(ids) {
		if a == nil {
			missing = append(missing, ids[i])
			continue
		}
		e := events[i]
		p.Received++
		p.Duplicates += a.count - 1
		if !a.at.Before(w.start) && !a.at.After(w.end) {
			inWindow++
		}
		if !e.end.After(w.end) && a.at.After(w.end) {
			p.BacklogAtEnd++
		}
		if !e.start.Before(w.start) && e.start.Before(w.end) {
			lat = append(lat, a.at.Sub(a.createdAt))
			fromAnswer = append(fromAnswer, a.at.Sub(e.end))
		}
		if a.at.After(last) {
			last = a.at
		}
	}
	p.ReceivedPerSecond = float64(inWindow) / w.end.Sub(w.start).Seconds()
	p.DeliveryLatency = summarize(lat)
	p.AnswerToReceived = summarize(fromAnswer)
	if last.After(w.end) {
		p.DrainAfterWindowSeconds = last.Sub(w.end).Seconds()
	}
	p.lost(missing, timeout)
	fmt.Fprintf(progress, "  %s: %d accepted, %d delivered (%d still in the backlog at the window's end)\n", p.Phase, p.Accepted, p.Received, p.BacklogAtEnd)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Phase, err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s", p.Phase, p.LostNote)
	}
	return nil
}

func (p *deliveryPhase) lost(missing []string, timeout time.Duration) {
	p.Lost = len(missing)
	if p.Lost == 0 {
		return
	}
	p.LostSample = missing[:min(len(missing), 5)]
	p.LostNote = fmt.Sprintf("%d of %d accepted events never reached the target within %v of the phase's end (e.g. event %s)",
		p.Lost, p.Accepted, timeout, missing[0])
}

func (p *deadTargetPhase) lost(missing []string, timeout time.Duration) {
	p.Lost = len(missing)
	if p.Lost == 0 {
		return
	}
	p.LostSample = missing[:min(len(missing), 5)]
	p.LostNote = fmt.Sprintf("%d of %d accepted events never reached the target within %v of its recovery (e.g. event %s)",
		p.Lost, p.Accepted, timeout, missing[0])
}

// runDeadTarget makes the receiver answer 503, sends cfg.deadEvents
// webhooks as fast as the daemon takes them while the circuit breaker
// keeps attempts away, brings the receiver back and measures the drain.
// The daemon's RSS is read every second throughout.
func runDeadTarget(ctx context.Context, cfg config, hc *http.Client, d *daemon, base string, t *target, rs *receiverServer, progress io.Writer) (*deadTargetPhase, error) {
	fmt.Fprintf(progress, "dead-target: %d webhooks while the target answers 503, then the drain\n", cfg.deadEvents)
	p := &deadTargetPhase{Phase: "dead-target", Events: cfg.deadEvents, Workers: cfg.concurrency, HoldSeconds: deadHold.Seconds()}
	refused0 := rs.counters().Refused
	rs.setFailing(true)
	defer rs.setFailing(false)
	s := startSampler(d.pid(), time.Second)
	start := time.Now()
	w := window{start: start, end: start.Add(deadSendLimit)}
	var budget atomic.Int64
	budget.Store(int64(cfg.deadEvents))
	rec, _, err := runWorkers(ctx, d.pid(), cfg.concurrency, w, recorder{track: true, budget: &budget}, false, saturate(hc, t, w))
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("dead-target: %w", serverState(d.child, err))
	}
	sent := time.Now()
	p.Requests, p.Errors, p.ErrorSample, p.Accepted = rec.requests, rec.errors, rec.sample, len(rec.events)
	p.SendSeconds = sent.Sub(start).Seconds()
	p.AcceptedPerSecond = float64(p.Accepted) / p.SendSeconds
	p.WebhookLatency = summarize(rec.lat)
	fmt.Fprintf(progress, "  %d accepted in %.1fs; target down for %v more\n", p.Accepted, p.SendSeconds, deadHold)
	if !sleepUntil(ctx, sent.Add(deadHold)) {
		s.stop()
		return nil, fmt.Errorf("dead-target: interrupted: %w", ctx.Err())
	}
	if m, err := scrapeMetrics(ctx, hc, base); err == nil {
		p.AtRecovery = &m
	} else {
		p.MetricsError = err.Error()
	}
	p.RefusedAttempts = rs.counters().Refused - refused0
	recovered := time.Now()
	s.mark()
	rs.setFailing(false)
	ids := make([]string, len(rec.events))
	for i, e := range rec.events {
		ids[i] = e.id
	}
	missing, err := awaitDelivered(ctx, rs.receiver, d.child, ids, recovered.Add(cfg.drainTimeout))
	samples := s.stop()
	arrivals := rs.arrivals(ids)
	missing = missing[:0] // recounted on the same snapshot as the figures
	for i, a := range arrivals {
		if a == nil {
			missing = append(missing, ids[i])
		}
	}
	p.drain(arrivals, recovered)
	p.memory(samples)
	p.lost(missing, cfg.drainTimeout)
	fmt.Fprintf(progress, "  drained %d of %d in %.1fs\n", p.Received, p.Accepted, p.DrainSeconds)
	if err != nil {
		return p, fmt.Errorf("dead-target: %w", err)
	}
	if len(missing) > 0 {
		return p, fmt.Errorf("dead-target: %s", p.LostNote)
	}
	return p, nil
}

// drain computes the drain figures from the arrivals of the phase's events.
func (p *deadTargetPhase) drain(arrivals []*arrival, recovered time.Time) {
	var first, last time.Time
	var perSecond []int
	for _, a := range arrivals {
		if a == nil {
			continue
		}
		p.Received++
		p.Duplicates += a.count - 1
		if a.at.Before(recovered) {
			p.EarlyArrivals++ // answered 200 at the switch: counted, not timed
			continue
		}
		if first.IsZero() || a.at.Before(first) {
			first = a.at
		}
		if a.at.After(last) {
			last = a.at
		}
		sec := int(a.at.Sub(recovered) / time.Second)
		for len(perSecond) <= sec {
			perSecond = append(perSecond, 0)
		}
		perSecond[sec]++
	}
	if first.IsZero() {
		return
	}
	p.FirstDeliverySeconds = first.Sub(recovered).Seconds()
	p.DrainSeconds = last.Sub(recovered).Seconds()
	if p.DrainSeconds > 0 {
		p.DrainPerSecond = float64(p.Received) / p.DrainSeconds
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		p.DeliveringPerSecond = float64(p.Received) / span
	}
	p.DrainPerSecondSeries = perSecond
	// The last second is partial; the peak is over whole seconds.
	for _, n := range perSecond[:max(len(perSecond)-1, 1)] {
		p.PeakPerSecond = max(p.PeakPerSecond, n)
	}
}

// memory summarises the RSS samples: the accumulation (sends and hold)
// and the drain.
func (p *deadTargetPhase) memory(samples []rssSample) {
	p.RSS = samples
	if len(samples) == 0 {
		return
	}
	p.RSSStartMiB = samples[0].RSSMiB
	p.RSSEndMiB = samples[len(samples)-1].RSSMiB
	var acc, drain []rssSample
	for _, s := range samples {
		p.RSSMaxMiB = max(p.RSSMaxMiB, s.RSSMiB)
		if s.Drain {
			drain = append(drain, s)
		} else {
			acc = append(acc, s)
			p.RSSAtRecoveryMiB = s.RSSMiB
		}
	}
	// Trend over the second half of the accumulation, past the heap's
	// first growth.
	p.RSSTrendMiBPerMinute = slope(acc[len(acc)/2:]) * 60
	p.AccumulateCPUPercent = samplesCPU(acc)
	p.DrainCPUPercent = samplesCPU(drain)
}

// samplesCPU is the CPU used between the first and the last sample, in %
// of one core.
func samplesCPU(s []rssSample) float64 {
	if len(s) < 2 {
		return 0
	}
	a, b := s[0], s[len(s)-1]
	return cpuPercent(procSample{at: a.at, ticks: a.ticks}, procSample{at: b.at, ticks: b.ticks})
}

// slope is the least-squares slope of RSS over time, in MiB per second.
func slope(s []rssSample) float64 {
	if len(s) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, v := range s {
		x := v.Seconds
		sx, sy, sxx, sxy = sx+x, sy+v.RSSMiB, sxx+x*x, sxy+x*v.RSSMiB
	}
	n := float64(len(s))
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// rssSample is one reading of the daemon's memory.
type rssSample struct {
	Seconds float64 `json:"seconds"` // since the phase started
	RSSMiB  float64 `json:"rssMiB"`
	Drain   bool    `json:"drain"` // taken after the target came back
	at      time.Time
	ticks   uint64
}

// sampler reads the daemon's /proc files every interval.
type sampler struct {
	drain   atomic.Bool
	quit    chan struct{}
	done    chan []rssSample
	started time.Time
}

func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan []rssSample, 1), started: time.Now()}
	dir := fmt.Sprintf("/proc/%d", pid)
	go func() {
		var out []rssSample
		take := func() {
			if ps, err := readProc(dir); err == nil {
				out = append(out, rssSample{Seconds: ps.at.Sub(s.started).Seconds(), RSSMiB: float64(ps.rssKiB) / 1024,
					Drain: s.drain.Load(), at: ps.at, ticks: ps.ticks})
			}
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			take()
			select {
			case <-s.quit:
				take()
				s.done <- out
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// mark makes the samples from now on drain samples.
func (s *sampler) mark() { s.drain.Store(true) }

// stop takes a last sample and returns them all.
func (s *sampler) stop() []rssSample {
	close(s.quit)
	return <-s.done
}

func newPipelineReport(cfg config, payloadBytes int) *pipelineReport {
	return &pipelineReport{
		Settings: settings{
			Concurrency:      cfg.concurrency,
			DurationSeconds:  cfg.duration.Seconds(),
			WarmupSeconds:    cfg.warmup.Seconds(),
			Rate:             cfg.rate,
			GOMAXPROCS:       cfg.gomaxprocs,
			ServerCPU:        cfg.serverCPU,
			ClientCPU:        cfg.clientCPU,
			ClientCPUs:       runtime.NumCPU(),
			ClientGOMAXPROCS: runtime.GOMAXPROCS(0),
		},
		Pipeline: pipelineSettings{
			Phases:              cfg.phases,
			DeadTargetEvents:    cfg.deadEvents,
			DrainTimeoutSeconds: cfg.drainTimeout.Seconds(),
			ExecutionMode:       "PARALLEL",
			Format:              "forgelink",
		},
		PayloadBytes: payloadBytes,
	}
}
