package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// pipelineReport is every figure of a --pipeline run; --json prints it as
// is.
type pipelineReport struct {
	Settings     settings         `json:"settings"`
	Pipeline     pipelineSettings `json:"pipeline"`
	PayloadBytes int              `json:"payloadBytes"`
	Saturate     *deliveryPhase   `json:"deliverSaturate,omitempty"`
	Steady       *deliveryPhase   `json:"deliverSteady,omitempty"`
	DeadTarget   *deadTargetPhase `json:"deadTarget,omitempty"`
	Receiver     counters         `json:"receiver"`
	Daemon       daemonReport     `json:"daemon"`
	Failures     []string         `json:"failures,omitempty"`
}

type pipelineSettings struct {
	Phases              string         `json:"phases"`
	ExecutionMode       string         `json:"executionMode"`
	Format              string         `json:"format"`
	Target              targetSettings `json:"target"`
	DeadTargetEvents    int            `json:"deadTargetEvents"`
	DrainTimeoutSeconds float64        `json:"drainTimeoutSeconds"`
	Config              string         `json:"config,omitempty"` // the daemon's YAML, as reloaded with the pipeline
}

// deliveryPhase is deliver-saturate or deliver-steady.
type deliveryPhase struct {
	Phase           string  `json:"phase"`
	Workers         int     `json:"workers"`
	TargetRate      int     `json:"targetRate,omitempty"`
	WarmupSeconds   float64 `json:"warmupSeconds"`
	DurationSeconds float64 `json:"durationSeconds"`
	Requests        int     `json:"requests"` // warm-up included
	Errors          int     `json:"errors"`   // warm-up included; a 202 other than "accepted" is one
	ErrorSample     string  `json:"errorSample,omitempty"`
	SendLagMaxMs    float64 `json:"sendLagMaxMs,omitempty"`
	// AcceptedPerSecond: 202s answered within the window. ReceivedPerSecond:
	// first deliveries the target received within the window, of this
	// phase's events (warm-up included).
	AcceptedPerSecond float64 `json:"acceptedPerSecond"`
	ReceivedPerSecond float64 `json:"receivedPerSecond"`
	// WebhookLatency: send (or scheduled send) to 202. DeliveryLatency: the
	// message's createdAt (the daemon recorded the event, just before its
	// commit) to the target receiving it. AnswerToReceived: the 202 reaching
	// this program to the target receiving the delivery (negative when the
	// delivery won the race). All three for sends started in the window.
	WebhookLatency   latencyStats `json:"webhookLatency"`
	DeliveryLatency  latencyStats `json:"deliveryLatency"`
	AnswerToReceived latencyStats `json:"answerToReceivedLatency"`
	Accepted         int          `json:"accepted"` // the whole phase
	Received         int          `json:"received"` // of those, delivered at least once
	Duplicates       int          `json:"duplicates"`
	Lost             int          `json:"lost"`
	LostSample       []string     `json:"lostSample,omitempty"`
	LostNote         string       `json:"lostNote,omitempty"`
	// BacklogAtEnd: accepted by the window's end, delivered after it.
	BacklogAtEnd            int     `json:"backlogAtEnd"`
	DrainAfterWindowSeconds float64 `json:"drainAfterWindowSeconds"`
	ServerCPUPercent        float64 `json:"serverCpuPercent"`
	ClientCPUPercent        float64 `json:"clientCpuPercent"`
	ServerRSSMiB            float64 `json:"serverRssMiB"`
	ServerPeakRSSMiB        float64 `json:"serverPeakRssMiB"`
}

// deadTargetPhase is the dead-target phase: accumulation while the target
// answers 503, then the drain once it answers 200 again.
type deadTargetPhase struct {
	Phase             string         `json:"phase"`
	Events            int            `json:"events"` // webhooks to send
	Workers           int            `json:"workers"`
	Requests          int            `json:"requests"`
	Errors            int            `json:"errors"`
	ErrorSample       string         `json:"errorSample,omitempty"`
	Accepted          int            `json:"accepted"`
	SendSeconds       float64        `json:"sendSeconds"`
	AcceptedPerSecond float64        `json:"acceptedPerSecond"`
	WebhookLatency    latencyStats   `json:"webhookLatency"`
	HoldSeconds       float64        `json:"holdSeconds"` // target still down after the last send
	RefusedAttempts   int            `json:"refusedAttempts"`
	AtRecovery        *daemonMetrics `json:"metricsAtRecovery,omitempty"`
	MetricsError      string         `json:"metricsError,omitempty"`
	// Memory: RSS read every second from the first send to the drain's end.
	RSS                  []rssSample `json:"rss"`
	RSSStartMiB          float64     `json:"rssStartMiB"`
	RSSAtRecoveryMiB     float64     `json:"rssAtRecoveryMiB"`
	RSSMaxMiB            float64     `json:"rssMaxMiB"`
	RSSEndMiB            float64     `json:"rssEndMiB"`
	RSSTrendMiBPerMinute float64     `json:"rssTrendMiBPerMinute"` // second half of the accumulation
	AccumulateCPUPercent float64     `json:"accumulateCpuPercent"`
	// Drain: from the receiver answering 200 again.
	Received             int      `json:"received"`
	Duplicates           int      `json:"duplicates"`
	EarlyArrivals        int      `json:"earlyArrivals,omitempty"`
	FirstDeliverySeconds float64  `json:"firstDeliverySeconds"`
	DrainSeconds         float64  `json:"drainSeconds"`        // to the last event's delivery
	DrainPerSecond       float64  `json:"drainPerSecond"`      // received / drainSeconds
	DeliveringPerSecond  float64  `json:"deliveringPerSecond"` // received / (last - first delivery)
	PeakPerSecond        int      `json:"peakPerSecond"`       // the best whole second
	DrainPerSecondSeries []int    `json:"drainPerSecondSeries"`
	DrainCPUPercent      float64  `json:"drainCpuPercent"`
	Lost                 int      `json:"lost"`
	LostSample           []string `json:"lostSample,omitempty"`
	LostNote             string   `json:"lostNote,omitempty"`
}

// partial is r if any phase has run, nil otherwise.
func (r *pipelineReport) partial() *pipelineReport {
	if r.Saturate == nil && r.Steady == nil && r.DeadTarget == nil {
		return nil
	}
	return r
}

// check lists what makes the run fail: too many webhook errors, events
// lost, messages the receiver could not read. Speed is never checked.
func (r *pipelineReport) check() []string {
	var failures []string
	errorRate := func(phase string, requests, errors int, sample string) {
		if requests == 0 {
			failures = append(failures, phase+": no requests sent")
		} else if rate := float64(errors) / float64(requests); rate > maxErrorRate {
			failures = append(failures, fmt.Sprintf("%s: %d of %d webhooks failed (%.1f%%), e.g. %s", phase, errors, requests, 100*rate, sample))
		}
	}
	for _, p := range []*deliveryPhase{r.Saturate, r.Steady} {
		if p == nil {
			continue
		}
		errorRate(p.Phase, p.Requests, p.Errors, p.ErrorSample)
		if p.Lost > 0 {
			failures = append(failures, p.Phase+": "+p.LostNote)
		}
	}
	if p := r.DeadTarget; p != nil {
		errorRate(p.Phase, p.Requests, p.Errors, p.ErrorSample)
		if p.Lost > 0 {
			failures = append(failures, p.Phase+": "+p.LostNote)
		}
	}
	if r.Receiver.Malformed > 0 {
		failures = append(failures, fmt.Sprintf("receiver: %d messages without deliveryId, eventId or createdAt, e.g. %s", r.Receiver.Malformed, r.Receiver.Sample))
	}
	return failures
}

func printPipelineReport(w io.Writer, r *pipelineReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("print report: %w", err)
		}
		return nil
	}
	var b strings.Builder
	writePipelineTable(&b, r)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("print report: %w", err)
	}
	return nil
}

func writePipelineTable(b *strings.Builder, r *pipelineReport) {
	s, ps := r.Settings, r.Pipeline
	pinning := "none"
	if s.ServerCPU != "" {
		pinning = "server CPU " + s.ServerCPU + ", load generator and receiver CPU " + s.ClientCPU
	}
	gmp := "Go's choice"
	if s.GOMAXPROCS > 0 {
		gmp = strconv.Itoa(s.GOMAXPROCS)
	}
	fmt.Fprintf(b, "%s-byte signed GitHub push -> %s pipeline -> http target (%s JSON, %s-byte messages) in this program; loopback\n",
		thousands(float64(r.PayloadBytes)), ps.ExecutionMode, ps.Format, thousands(float64(r.Receiver.MessageBytes)))
	t := ps.Target
	concurrency := "the daemon's default"
	if t.Concurrency > 0 {
		concurrency = strconv.Itoa(t.Concurrency)
	}
	fmt.Fprintf(b, "target: concurrency %s, timeout %v, retry %v..%v x%d within %v, breaker %d failures / %v cool-down\n",
		concurrency, t.Timeout, t.InitialInterval, t.MaxInterval, t.MaxAttempts, t.MaxAge, t.FailureThreshold, t.Cooldown)
	fmt.Fprintf(b, "phases: %s; %d workers; %gs measured (deliver-saturate after %gs warm-up); deliver-steady at %d/s; dead target: %s webhooks\n",
		ps.Phases, s.Concurrency, s.DurationSeconds, s.WarmupSeconds, s.Rate, thousands(float64(ps.DeadTargetEvents)))
	fmt.Fprintf(b, "pinning: %s; server GOMAXPROCS: %s; load generator: %d CPUs, GOMAXPROCS %d\n\n",
		pinning, gmp, s.ClientCPUs, s.ClientGOMAXPROCS)

	if r.Saturate != nil || r.Steady != nil {
		b.WriteString("accepted->received: the message's createdAt (event recorded) to the receiver reading it\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "phase\taccepted/s\tdelivered/s\tp50\tp90\tp99\tmax\t202 p99\tbacklog\tdrain\tlost\tdups\terrors\tdaemon CPU\tclient CPU\tdaemon RSS/peak\t")
		for _, p := range []*deliveryPhase{r.Saturate, r.Steady} {
			if p == nil {
				continue
			}
			l := p.DeliveryLatency
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1fs\t%d\t%d\t%d/%d\t%.0f%%\t%.0f%%\t%.0f/%.0f MiB\t\n",
				p.Phase, thousands(p.AcceptedPerSecond), thousands(p.ReceivedPerSecond),
				fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.Max), fmtMs(p.WebhookLatency.P99),
				thousands(float64(p.BacklogAtEnd)), p.DrainAfterWindowSeconds, p.Lost, p.Duplicates,
				p.Errors, p.Requests, p.ServerCPUPercent, p.ClientCPUPercent, p.ServerRSSMiB, p.ServerPeakRSSMiB)
		}
		tw.Flush()
		b.WriteString("(202 p99: send to the webhook's answer; backlog: accepted in the window, delivered after it; drain: last delivery after the window)\n")
		for _, p := range []*deliveryPhase{r.Saturate, r.Steady} {
			if p == nil {
				continue
			}
			a := p.AnswerToReceived
			fmt.Fprintf(b, "%s: %s accepted, %s delivered; 202-at-client->received p50 %s p99 %s max %s\n", p.Phase,
				thousands(float64(p.Accepted)), thousands(float64(p.Received)), fmtMs(a.P50), fmtMs(a.P99), fmtMs(a.Max))
			if p.SendLagMaxMs > 0 {
				fmt.Fprintf(b, "%s: open loop, latest send %s after its slot\n", p.Phase, fmtMs(p.SendLagMaxMs))
			}
			if p.ErrorSample != "" {
				fmt.Fprintf(b, "%s: first error: %s\n", p.Phase, p.ErrorSample)
			}
		}
		b.WriteString("\n")
	}
	if p := r.DeadTarget; p != nil {
		writeDeadTarget(b, p)
	}
	writePipelineNotes(b, r)
}

func writeDeadTarget(b *strings.Builder, p *deadTargetPhase) {
	fmt.Fprintf(b, "dead-target: %s of %s webhooks accepted in %.1fs (%s/s, 202 p99 %s) while the target answered 503; errors %d/%d\n",
		thousands(float64(p.Accepted)), thousands(float64(p.Events)), p.SendSeconds, thousands(p.AcceptedPerSecond),
		fmtMs(p.WebhookLatency.P99), p.Errors, p.Requests)
	fmt.Fprintf(b, "  attempts that reached the dead target: %d in %.1fs (circuit breaker)", p.RefusedAttempts, p.SendSeconds+p.HoldSeconds)
	if m := p.AtRecovery; m != nil && m.Queue != nil {
		fmt.Fprintf(b, "; at recovery the daemon had %s pending, %s in flight, %s dead; Go heap in use %.0f MiB, %.0f goroutines",
			thousands(m.Queue.Pending), thousands(m.Queue.InFlight), thousands(m.Queue.Dead), m.HeapInuseBytes/(1<<20), m.Goroutines)
	} else if p.MetricsError != "" {
		fmt.Fprintf(b, "; metrics: %s", p.MetricsError)
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "  daemon RSS: %.0f MiB at the first send, %.0f at recovery, max %.0f, %.0f after the drain; trend over the accumulation's second half %+.1f MiB/min; daemon CPU %.0f%% accumulating, %.0f%% draining\n",
		p.RSSStartMiB, p.RSSAtRecoveryMiB, p.RSSMaxMiB, p.RSSEndMiB, p.RSSTrendMiBPerMinute, p.AccumulateCPUPercent, p.DrainCPUPercent)
	fmt.Fprintf(b, "  RSS MiB each second: %s\n", rssSeries(p.RSS, 40))
	fmt.Fprintf(b, "  drain: first delivery %.2fs after recovery; %s of %s delivered in %.1fs: %s/s (%s/s from first to last; peak second %s); %d duplicates, %d lost\n",
		p.FirstDeliverySeconds, thousands(float64(p.Received)), thousands(float64(p.Accepted)), p.DrainSeconds,
		thousands(p.DrainPerSecond), thousands(p.DeliveringPerSecond), thousands(float64(p.PeakPerSecond)), p.Duplicates, p.Lost)
	if p.ErrorSample != "" {
		fmt.Fprintf(b, "  first error: %s\n", p.ErrorSample)
	}
	b.WriteString("\n")
}

// rssSeries prints at most n samples, evenly picked, "|" marking where
// the drain starts.
func rssSeries(s []rssSample, n int) string {
	if len(s) == 0 {
		return "none"
	}
	step := max(1, (len(s)+n-1)/n)
	var parts []string
	drain := false
	for i := 0; i < len(s); i += step {
		if s[i].Drain && !drain {
			parts = append(parts, "|")
			drain = true
		}
		parts = append(parts, fmt.Sprintf("%.0f", s[i].RSSMiB))
	}
	if last := s[len(s)-1]; (len(s)-1)%step != 0 {
		parts = append(parts, fmt.Sprintf("%.0f", last.RSSMiB))
	}
	out := strings.Join(parts, " ")
	if step > 1 {
		out += fmt.Sprintf(" (every %d s)", step)
	}
	return out
}

func writePipelineNotes(b *strings.Builder, r *pipelineReport) {
	rc := r.Receiver
	fmt.Fprintf(b, "receiver: %s deliveries (%s events, %d duplicates), %s answered 503, %d malformed; fake GitHub API: %d token check(s)\n",
		thousands(float64(rc.Received)), thousands(float64(rc.Events)), rc.Duplicates, thousands(float64(rc.Refused)), rc.Malformed, rc.GitHubCalls)
	d := r.Daemon
	if m := d.Metrics; m != nil {
		fmt.Fprintf(b, "daemon webhook outcomes (its /metrics): %s; delivery attempts: %s\n", formatCounts(m.Outcomes), formatCounts(m.Attempts))
	} else if d.MetricsError != "" {
		fmt.Fprintf(b, "daemon metrics: %s\n", d.MetricsError)
	}
	fmt.Fprintf(b, "daemon log: %d warn, %d error, %d non-JSON lines", d.Log.Warn, d.Log.Error, d.Log.Unparsed)
	for _, k := range slices.Sorted(maps.Keys(d.Log.Messages)) {
		fmt.Fprintf(b, "\n  %dx %s", d.Log.Messages[k], truncate(k, 140))
	}
	b.WriteString("\n")
	if d.DataBytes > 0 {
		fmt.Fprintf(b, "daemon data directory after shutdown: %.1f MiB\n", float64(d.DataBytes)/(1<<20))
	}
	if c := r.Pipeline.Config; c != "" {
		b.WriteString("daemon configuration (after the reload):\n")
		for line := range strings.Lines(c) {
			b.WriteString("  " + line)
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(b, "FAILED: %s\n", f)
	}
}
