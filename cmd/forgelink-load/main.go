// Command forgelink-load measures how fast a forgelink daemon ingests GitHub
// webhooks, and how that compares with the ceiling of a bare HTTP server
// that only checks the signature.
//
//	go build -o /tmp/forgelink ./cmd/forgelink
//	go run ./cmd/forgelink-load --forgelink /tmp/forgelink
//
// It starts the daemon from the given binary in a temporary data directory
// on a loopback port, without root credentials, creates a GitHub connection
// through the control plane, then runs three phases with a signed ~7 KB push
// delivery, each with a unique X-GitHub-Delivery:
//
//   - saturate: --concurrency keep-alive workers send as fast as they can for
//     --duration after a --warmup;
//   - steady: open loop at --rate; latency counts from each request's
//     scheduled send time, so queueing in the client is not hidden;
//   - ceiling: saturate again, against a bare net/http server (this binary
//     re-executed with -bare-server) that reads the body, checks the
//     HMAC-SHA256 and answers 202.
//
// Only 202 answers count as accepted; anything else is an error, and more
// than 1% errors in a phase fail the run. Speed is reported, never asserted.
//
// Server CPU and memory come from /proc/<pid>/stat and status, so the
// program needs Linux. To measure the way the performance notes do (server
// on one core, load generator on the other), pin both with taskset:
//
//	go run ./cmd/forgelink-load --forgelink /tmp/forgelink --server-cpu 0 --client-cpu 1
//
// --gomaxprocs N sets GOMAXPROCS for the daemon and the bare server; a
// server pinned to one core otherwise runs with GOMAXPROCS=1, which is worth
// measuring on its own.
//
// # Pipeline mode
//
// With --pipeline it measures delivery instead: webhook in, to a pipeline's
// http target out.
//
//	go run ./cmd/forgelink-load --forgelink /tmp/forgelink --pipeline
//
// This program then also serves, on a loopback port, the target (a
// keep-alive receiver answering 200 that records, per event, when its
// delivery arrived, its latency from the message's createdAt, the moment
// the daemon recorded the event, on the same clock, and repeated delivery
// ids) and a fake GitHub API answering GET /user. The daemon starts with a
// configuration file naming that API (providers.githubAPIURL) and the
// target (forgelink JSON, concurrency --target-concurrency or else the
// daemon's default, timeout 5s, retry 100ms..1s with 1000 attempts within
// 1h, breaker 10 failures / 1s cool-down, so that a drain starts within a
// second of the target coming back). Once CreateConnection has named the
// connection's ARN, the file gains a PARALLEL pipeline for every branch push to the payload's
// repository, the daemon reloads it on SIGHUP (ListPipelines shows it), and
// CompleteConnection, whose token the fake API accepts, makes the
// connection AVAILABLE: only then are its events routed. The phases
// (--phases selects some):
//
//   - deliver-saturate: as saturate; also deliveries received per second
//     within the window, and accepted-to-received latency (from createdAt);
//     the backlog left at the window's end must then drain;
//   - deliver-steady: open loop at --rate, the same figures;
//   - dead-target: the receiver answers 503 while --dead-target-events
//     webhooks go in as fast as the daemon takes them, the daemon's RSS read
//     every second; then the receiver answers 200 again and the drain is
//     timed.
//
// Every accepted event must reach the target within --drain-timeout of its
// phase's last send; one that does not is lost, an error. Duplicates are
// counted, not errors: delivery is at least once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// pinnedEnv marks a process that already runs under taskset --client-cpu,
// so that it does not re-execute itself again.
const pinnedEnv = "FORGELINK_LOAD_PINNED"

type config struct {
	forgelink   string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	rate        int
	gomaxprocs  int
	serverCPU   string
	clientCPU   string
	json        bool
	postgres    string // DSN: run the daemon on PostgreSQL instead of SQLite
	// populate events, received over populateAge, fill the SQLite store
	// before the phases: ingest on a store that has run for a while, with
	// retention pruning it.
	populate    int
	populateAge time.Duration

	// Pipeline mode (--pipeline).
	pipeline          bool
	phases            string // comma-separated pipeline phases to run
	targetConcurrency int
	deadEvents        int
	drainTimeout      time.Duration
}

// Pipeline mode's phases, in the order they run.
var pipelinePhases = []string{"deliver-saturate", "deliver-steady", "dead-target"}

// runs reports whether the pipeline phase name is selected.
func (c config) runs(name string) bool {
	return slices.Contains(strings.Split(c.phases, ","), name)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch returns the exit status: 0 success, 1 failure, 2 usage error.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == bareServerArg {
		if err := runBareServer(ctx, stdout); err != nil {
			fmt.Fprintf(stderr, "forgelink-load bare server: %v\n", err)
			return 1
		}
		return 0
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "forgelink-load: %v\n", err)
		return 2
	}
	if cfg.clientCPU != "" && os.Getenv(pinnedEnv) == "" {
		err := execPinned(cfg.clientCPU, args, append(os.Environ(), pinnedEnv+"="+cfg.clientCPU))
		fmt.Fprintf(stderr, "forgelink-load: pin to CPU %s: %v\n", cfg.clientCPU, err)
		return 1
	}
	if cfg.pipeline {
		rep, err := pipelineBenchmark(ctx, cfg, stderr)
		if rep != nil {
			if perr := printPipelineReport(stdout, rep, cfg.json); perr != nil && err == nil {
				err = perr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "forgelink-load: %v\n", err)
			return 1
		}
		return 0
	}
	rep, err := benchmark(ctx, cfg, stderr)
	if rep != nil {
		if perr := printReport(stdout, rep, cfg.json); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "forgelink-load: %v\n", err)
		return 1
	}
	return 0
}

var cpuList = regexp.MustCompile(`^[0-9]+([,-][0-9]+)*$`)

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("forgelink-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.forgelink, "forgelink", "", "forgelink daemon `binary` to start (required)")
	fs.IntVar(&cfg.concurrency, "concurrency", 32, "keep-alive `workers` (saturate and ceiling; also the steady phase's pool)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured `time` of each phase")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured `time` before saturate and ceiling")
	fs.IntVar(&cfg.rate, "rate", 1000, "steady phase send `rate` per second")
	fs.IntVar(&cfg.gomaxprocs, "gomaxprocs", 0, "GOMAXPROCS `n` for the servers (0: leave Go's choice)")
	fs.StringVar(&cfg.serverCPU, "server-cpu", "", "pin the servers to `cpus` with taskset -c (needs --client-cpu)")
	fs.StringVar(&cfg.clientCPU, "client-cpu", "", "pin this load generator to `cpus` with taskset -c (needs --server-cpu)")
	fs.BoolVar(&cfg.json, "json", false, "print a JSON object instead of the table")
	fs.StringVar(&cfg.postgres, "postgres", "", "run the daemon on PostgreSQL at `dsn` (a postgres:// URL; a fresh schema per run) instead of SQLite")
	fs.IntVar(&cfg.populate, "populate", 0, "write `n` events directly into the SQLite store before measuring ingestion (a store that has run for a while; retention prunes it)")
	fs.DurationVar(&cfg.populateAge, "populate-age", 960*time.Hour, "--populate's events are received over this `time` up to now (the default 40 days exceeds retention's 30)")
	fs.BoolVar(&cfg.pipeline, "pipeline", false, "measure delivery through a pipeline to an http target instead of ingestion (deliver-saturate, deliver-steady, dead-target)")
	fs.StringVar(&cfg.phases, "phases", strings.Join(pipelinePhases, ","), "pipeline mode: the `phases` to run, comma-separated (they run in the default's order)")
	fs.IntVar(&cfg.targetConcurrency, "target-concurrency", 0, "pipeline mode: the http target's `concurrency` (0: the daemon's default, which the figures are about)")
	fs.IntVar(&cfg.deadEvents, "dead-target-events", 100_000, "pipeline mode: webhooks sent while the target is down (`n`)")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 3*time.Minute, "pipeline mode: how long accepted events may take to reach the target after a phase's sends before they count as lost (`time`)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !cfg.pipeline {
		var stray []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "phases", "target-concurrency", "dead-target-events", "drain-timeout":
				stray = append(stray, "--"+f.Name)
			}
		})
		if len(stray) > 0 {
			return cfg, fmt.Errorf("%v need --pipeline", stray)
		}
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	var errs []error
	if c.forgelink == "" {
		errs = append(errs, errors.New("--forgelink is required (go build -o /tmp/forgelink ./cmd/forgelink)"))
	}
	if c.concurrency < 1 || c.concurrency > 4096 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want 1-4096", c.concurrency))
	}
	if c.duration < time.Second || c.duration > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--duration %v: want 1s-10m", c.duration))
	}
	if c.warmup < 0 || c.warmup > time.Minute {
		errs = append(errs, fmt.Errorf("--warmup %v: want 0-1m", c.warmup))
	}
	if c.rate < 1 || c.rate > 1_000_000 {
		errs = append(errs, fmt.Errorf("--rate %d: want 1-1000000", c.rate))
	}
	if c.gomaxprocs < 0 {
		errs = append(errs, fmt.Errorf("--gomaxprocs %d: want 0 or more", c.gomaxprocs))
	}
	// One without the other would leave the unpinned side inheriting the
	// pinned side's affinity (children inherit it), or share its core.
	if c.populate < 0 || (c.populate > 0 && (c.pipeline || c.postgres != "" || c.populateAge <= 0)) {
		errs = append(errs, fmt.Errorf("--populate %d: want 0 or more, with a positive --populate-age, for ingestion on SQLite (not --pipeline or --postgres)", c.populate))
	}
	if (c.serverCPU == "") != (c.clientCPU == "") {
		errs = append(errs, errors.New("--server-cpu and --client-cpu go together"))
	}
	if c.pipeline {
		if c.targetConcurrency < 0 || c.targetConcurrency > 1024 {
			errs = append(errs, fmt.Errorf("--target-concurrency %d: want 1-1024, as the daemon allows, or 0 for its default", c.targetConcurrency))
		}
		if c.deadEvents < 1 || c.deadEvents > 10_000_000 {
			errs = append(errs, fmt.Errorf("--dead-target-events %d: want 1-10000000", c.deadEvents))
		}
		for _, p := range strings.Split(c.phases, ",") {
			if !slices.Contains(pipelinePhases, p) {
				errs = append(errs, fmt.Errorf("--phases: unknown phase %q, want some of %s", p, strings.Join(pipelinePhases, ",")))
			}
		}
		if c.drainTimeout < time.Second || c.drainTimeout > 30*time.Minute {
			errs = append(errs, fmt.Errorf("--drain-timeout %v: want 1s-30m", c.drainTimeout))
		}
	}
	for _, cpus := range []string{c.serverCPU, c.clientCPU} {
		if cpus != "" && !cpuList.MatchString(cpus) {
			errs = append(errs, fmt.Errorf("CPU list %q: want taskset -c syntax, such as 0 or 0-1", cpus))
		}
	}
	return errors.Join(errs...)
}
