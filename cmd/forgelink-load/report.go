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

// report is every figure of a run; --json prints it as is.
type report struct {
	Settings     settings     `json:"settings"`
	PayloadBytes int          `json:"payloadBytes"`
	Saturate     *phaseResult `json:"saturate,omitempty"`
	Steady       *phaseResult `json:"steady,omitempty"`
	Ceiling      *phaseResult `json:"ceiling,omitempty"`
	// Ratio is forgelink's saturated rate over the bare server's.
	Ratio    float64      `json:"forgelinkToCeiling,omitempty"`
	Daemon   daemonReport `json:"daemon"`
	Failures []string     `json:"failures,omitempty"`
}

type settings struct {
	Concurrency      int     `json:"concurrency"`
	DurationSeconds  float64 `json:"durationSeconds"`
	WarmupSeconds    float64 `json:"warmupSeconds"`
	Rate             int     `json:"rate"`
	GOMAXPROCS       int     `json:"serverGomaxprocsSetting"` // 0: Go's choice
	ServerCPU        string  `json:"serverCpu,omitempty"`
	ClientCPU        string  `json:"clientCpu,omitempty"`
	ClientCPUs       int     `json:"clientCpus"` // usable by the load generator
	ClientGOMAXPROCS int     `json:"clientGomaxprocs"`
}

type daemonReport struct {
	Metrics      *daemonMetrics `json:"metrics,omitempty"`
	MetricsError string         `json:"metricsError,omitempty"`
	Log          logSummary     `json:"log"`
	DataBytes    int64          `json:"dataBytes"` // the data directory after shutdown
}

type phaseResult struct {
	Phase             string       `json:"phase"`
	Server            string       `json:"server"` // forgelink or bare
	ServerGOMAXPROCS  int          `json:"serverGomaxprocs,omitempty"`
	Workers           int          `json:"workers"`
	TargetRate        int          `json:"targetRate,omitempty"`
	WarmupSeconds     float64      `json:"warmupSeconds"`
	DurationSeconds   float64      `json:"durationSeconds"`
	Requests          int          `json:"requests"` // warm-up included
	Errors            int          `json:"errors"`   // warm-up included
	ErrorSample       string       `json:"errorSample,omitempty"`
	AcceptedPerSecond float64      `json:"acceptedPerSecond"`
	Latency           latencyStats `json:"latency"`
	SendLagMaxMs      float64      `json:"sendLagMaxMs,omitempty"` // steady: the latest a send left after its slot
	ServerCPUPercent  float64      `json:"serverCpuPercent"`       // of one core
	ClientCPUPercent  float64      `json:"clientCpuPercent"`       // of one core
	ServerRSSMiB      float64      `json:"serverRssMiB"`
	ServerPeakRSSMiB  float64      `json:"serverPeakRssMiB"`
}

func (r *report) phases() []*phaseResult {
	var all []*phaseResult
	for _, p := range []*phaseResult{r.Saturate, r.Steady, r.Ceiling} {
		if p != nil {
			all = append(all, p)
		}
	}
	return all
}

// partial is r if any phase has run, nil otherwise: an empty table says
// nothing the error does not.
func (r *report) partial() *report {
	if len(r.phases()) == 0 {
		return nil
	}
	return r
}

// check lists the phases with too many errors. Speed is never checked.
func (r *report) check() []string {
	var failures []string
	for _, p := range r.phases() {
		if p.Requests == 0 {
			failures = append(failures, p.Phase+" "+p.Server+": no requests sent")
			continue
		}
		if rate := float64(p.Errors) / float64(p.Requests); rate > maxErrorRate {
			failures = append(failures, fmt.Sprintf("%s %s: %d of %d requests failed (%.1f%%), e.g. %s",
				p.Phase, p.Server, p.Errors, p.Requests, 100*rate, p.ErrorSample))
		}
	}
	return failures
}

func printReport(w io.Writer, r *report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("print report: %w", err)
		}
		return nil
	}
	var b strings.Builder
	writeTable(&b, r)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("print report: %w", err)
	}
	return nil
}

func writeTable(b *strings.Builder, r *report) {
	s := r.Settings
	pinning := "none"
	if s.ServerCPU != "" {
		pinning = "server CPU " + s.ServerCPU + ", load generator CPU " + s.ClientCPU
	}
	gmp := "Go's choice"
	if s.GOMAXPROCS > 0 {
		gmp = strconv.Itoa(s.GOMAXPROCS)
	}
	fmt.Fprintf(b, "%s-byte signed GitHub push, unique delivery ids, HTTP/1.1 keep-alive over loopback\n", thousands(float64(r.PayloadBytes)))
	fmt.Fprintf(b, "%d workers; %gs measured per phase (saturate and ceiling after %gs warm-up); steady at %d/s\n",
		s.Concurrency, s.DurationSeconds, s.WarmupSeconds, s.Rate)
	fmt.Fprintf(b, "pinning: %s; server GOMAXPROCS: %s; load generator: %d CPUs, GOMAXPROCS %d\n\n",
		pinning, gmp, s.ClientCPUs, s.ClientGOMAXPROCS)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tserver\tGOMAXPROCS\taccepted/s\tp50\tp90\tp99\tmax\terrors\tserver CPU\tclient CPU\tserver RSS/peak\t")
	for _, p := range r.phases() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%.0f%%\t%.0f%%\t%.0f/%.0f MiB\t\n",
			p.Phase, p.Server, orDash(p.ServerGOMAXPROCS), thousands(p.AcceptedPerSecond),
			fmtMs(p.Latency.P50), fmtMs(p.Latency.P90), fmtMs(p.Latency.P99), fmtMs(p.Latency.Max),
			p.Errors, p.Requests, p.ServerCPUPercent, p.ClientCPUPercent, p.ServerRSSMiB, p.ServerPeakRSSMiB)
	}
	tw.Flush()
	b.WriteString("\n")
	writeNotes(b, r)
}

func writeNotes(b *strings.Builder, r *report) {
	if r.Ratio > 0 {
		fmt.Fprintf(b, "forgelink/ceiling: %.3f (saturated rate over the bare HMAC-checking server's)\n", r.Ratio)
	}
	if p := r.Steady; p != nil {
		fmt.Fprintf(b, "steady: latency from the scheduled send time; latest send %s after its slot\n", fmtMs(p.SendLagMaxMs))
	}
	for _, p := range r.phases() {
		if p.ErrorSample != "" {
			fmt.Fprintf(b, "%s %s: first error: %s\n", p.Phase, p.Server, p.ErrorSample)
		}
		// CPU is in % of one core; near all usable cores the client, not
		// the server, may be what limits the figure.
		if p.ClientCPUPercent >= 90*float64(r.Settings.ClientCPUs) {
			fmt.Fprintf(b, "%s %s: the load generator used %.0f%% of its %d CPU(s): the figure may be client-bound\n",
				p.Phase, p.Server, p.ClientCPUPercent, r.Settings.ClientCPUs)
		}
	}
	d := r.Daemon
	if d.Metrics != nil {
		fmt.Fprintf(b, "daemon webhook outcomes (its /metrics): %s\n", formatCounts(d.Metrics.Outcomes))
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
	for _, f := range r.Failures {
		fmt.Fprintf(b, "FAILED: %s\n", f)
	}
}

func formatCounts(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %s", k, thousands(m[k])))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

func orDash(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

// thousands rounds v and groups its digits: 12345.6 → "12,346".
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
