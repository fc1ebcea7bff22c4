package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// maxErrorRate fails a phase: more errors than this and its figures mean
// little.
const maxErrorRate = 0.01

// steadyLead is the time between starting the steady phase's workers and
// its first scheduled send, so that the first slots are not already late.
const steadyLead = 50 * time.Millisecond

// benchmark runs the three phases. It returns the report so far with an
// error once any phase has run.
func benchmark(ctx context.Context, cfg config, progress io.Writer) (*report, error) {
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	body := pushPayload()
	rep := newReport(cfg, len(body))
	dir, err := os.MkdirTemp("", "forgelink-load-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	if cfg.populate > 0 {
		if err := populate(ctx, cfg, dir, body, progress); err != nil {
			return nil, err
		}
	}
	if err := measureDaemon(ctx, cfg, dir, body, rep, progress); err != nil {
		return rep.partial(), err
	}
	if err := measureCeiling(ctx, cfg, body, rep, progress); err != nil {
		return rep.partial(), err
	}
	rep.Ratio = rep.Saturate.AcceptedPerSecond / rep.Ceiling.AcceptedPerSecond
	if rep.Failures = rep.check(); len(rep.Failures) > 0 {
		return rep, fmt.Errorf("%d phase(s) failed: %v", len(rep.Failures), rep.Failures)
	}
	return rep, nil
}

// measureDaemon starts the daemon, runs saturate and steady against it and
// stops it: SIGTERM when all went well, SIGKILL otherwise.
func measureDaemon(ctx context.Context, cfg config, dir string, body []byte, rep *report, progress io.Writer) error {
	fmt.Fprintf(progress, "starting %s\n", cfg.forgelink)
	d, err := startDaemon(ctx, cfg, dir, "")
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
	hook, err := createWebhook(ctx, hc, base)
	if err != nil {
		return fmt.Errorf("set up a connection: %w", err)
	}
	t := newTarget(hook.URL, []byte(hook.Secret), body)
	if err := smoke(ctx, hc, t, true); err != nil {
		return fmt.Errorf("smoke test against forgelink: %w", err)
	}
	if rep.Saturate, err = runSaturate(ctx, cfg, hc, d.child, t, "forgelink", progress); err != nil {
		return err
	}
	if rep.Steady, err = runSteady(ctx, cfg, hc, d.child, t, progress); err != nil {
		return err
	}
	recordMetrics(ctx, hc, base, rep)
	fmt.Fprintln(progress, "stopping forgelink")
	stopped = true
	err = d.stop()
	rep.Daemon.DataBytes = dirSize(d.dataDir)
	return err
}

func recordMetrics(ctx context.Context, hc *http.Client, base string, rep *report) {
	m, err := scrapeMetrics(ctx, hc, base)
	if err != nil {
		rep.Daemon.MetricsError = err.Error()
		return
	}
	rep.Daemon.Metrics = &m
	rep.Saturate.ServerGOMAXPROCS = m.GOMAXPROCS
	rep.Steady.ServerGOMAXPROCS = m.GOMAXPROCS
}

// measureCeiling runs saturate against the bare server.
func measureCeiling(ctx context.Context, cfg config, body []byte, rep *report, progress io.Writer) error {
	fmt.Fprintln(progress, "starting the bare server")
	b, secret, err := startBare(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start bare server: %w", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			b.kill()
		}
	}()
	hc := newClient(cfg.concurrency)
	defer hc.CloseIdleConnections()
	t := newTarget("http://"+b.addr+"/webhooks/ceiling", secret, body)
	if err := smoke(ctx, hc, t, false); err != nil {
		return fmt.Errorf("smoke test against the bare server: %w", err)
	}
	if rep.Ceiling, err = runSaturate(ctx, cfg, hc, b.child, t, "bare", progress); err != nil {
		return err
	}
	rep.Ceiling.Phase = "ceiling"
	rep.Ceiling.ServerGOMAXPROCS = b.gomaxprocs
	stopped = true
	return b.stop()
}

func runSaturate(ctx context.Context, cfg config, hc *http.Client, server *child, t *target, name string, progress io.Writer) (*phaseResult, error) {
	fmt.Fprintf(progress, "saturate %s: %d keep-alive workers, %v warm-up + %v\n", name, cfg.concurrency, cfg.warmup, cfg.duration)
	start := time.Now().Add(cfg.warmup)
	w := window{start: start, end: start.Add(cfg.duration)}
	rec, u, err := runPhase(ctx, server.pid(), cfg.concurrency, w, saturate(hc, t, w))
	if err != nil {
		return nil, fmt.Errorf("saturate %s: %w", name, serverState(server, err))
	}
	res := newPhaseResult("saturate", name, cfg.concurrency, w, rec, u)
	res.WarmupSeconds = cfg.warmup.Seconds()
	return res, nil
}

func runSteady(ctx context.Context, cfg config, hc *http.Client, server *child, t *target, progress io.Writer) (*phaseResult, error) {
	fmt.Fprintf(progress, "steady forgelink: %d/s open loop for %v\n", cfg.rate, cfg.duration)
	start := time.Now().Add(steadyLead)
	w := window{start: start, end: start.Add(cfg.duration)}
	rec, u, err := runPhase(ctx, server.pid(), cfg.concurrency, w, openLoop(hc, t, w, cfg.rate))
	if err != nil {
		return nil, fmt.Errorf("steady: %w", serverState(server, err))
	}
	res := newPhaseResult("steady", "forgelink", cfg.concurrency, w, rec, u)
	res.TargetRate = cfg.rate
	res.SendLagMaxMs = ms(rec.lagMax)
	return res, nil
}

// serverState adds to err that the server has died, which is the likelier
// cause of a phase failing.
func serverState(c *child, err error) error {
	if c.exited() {
		return fmt.Errorf("%w (%s exited: %w)", err, c.name, exitErr(c.err))
	}
	return err
}

func newPhaseResult(phase, server string, workers int, w window, rec *recorder, u usage) *phaseResult {
	return &phaseResult{
		Phase:             phase,
		Server:            server,
		Workers:           workers,
		DurationSeconds:   w.end.Sub(w.start).Seconds(),
		Requests:          rec.requests,
		Errors:            rec.errors,
		ErrorSample:       rec.sample,
		AcceptedPerSecond: float64(rec.accepted) / w.end.Sub(w.start).Seconds(),
		Latency:           summarize(rec.lat),
		ServerCPUPercent:  cpuPercent(u.server[0], u.server[1]),
		ClientCPUPercent:  cpuPercent(u.client[0], u.client[1]),
		ServerRSSMiB:      float64(u.server[1].rssKiB) / 1024,
		ServerPeakRSSMiB:  float64(u.server[1].hwmKiB) / 1024,
	}
}

// dirSize is the bytes of the files under dir; 0 if it cannot be read.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func newReport(cfg config, payloadBytes int) *report {
	return &report{
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
		PayloadBytes: payloadBytes,
	}
}
