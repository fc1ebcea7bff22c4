package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// webhook is a connection's webhook endpoint as GetConnectionWebhook
// returns it.
type webhook struct {
	URL    string `json:"Url"`
	Secret string
	ARN    string `json:"-"` // the connection's
}

// createWebhook creates a GitHub connection and fetches its webhook URL
// and secret. The daemon runs without root credentials on loopback, so
// the calls go unsigned.
func createWebhook(ctx context.Context, hc *http.Client, base string) (webhook, error) {
	var created struct{ ConnectionArn string }
	in := map[string]string{"ConnectionName": "load", "ProviderType": "GitHub"}
	if err := callAPI(ctx, hc, base, "CodeConnections_20231201.CreateConnection", in, &created); err != nil {
		return webhook{}, err
	}
	var hook webhook
	in = map[string]string{"ConnectionArn": created.ConnectionArn}
	if err := callAPI(ctx, hc, base, "Forgelink_20261125.GetConnectionWebhook", in, &hook); err != nil {
		return webhook{}, err
	}
	u, err := url.Parse(hook.URL)
	if err != nil || u.Scheme != "http" {
		return webhook{}, fmt.Errorf("webhook URL %q: want http://", hook.URL)
	}
	if err := checkLoopback(u.Host); err != nil {
		return webhook{}, fmt.Errorf("webhook URL: %w", err)
	}
	if hook.Secret == "" {
		return webhook{}, fmt.Errorf("GetConnectionWebhook returned no secret")
	}
	hook.ARN = created.ConnectionArn
	return hook, nil
}

// callAPI makes one AWS JSON 1.0 call to the control plane.
func callAPI(ctx context.Context, hc *http.Client, base, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", target, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", target, err)
	}
	return nil
}

// daemonMetrics is what the daemon's /metrics says about a run: its
// GOMAXPROCS, to confirm what it ran with, and its own count of webhooks
// by outcome, to cross-check the client's.
type daemonMetrics struct {
	GOMAXPROCS int                `json:"gomaxprocs"`
	Outcomes   map[string]float64 `json:"webhookOutcomes"`
	// Pipeline mode: delivery attempts by outcome, the queue, and the Go
	// runtime's view of the daemon's memory.
	Attempts       map[string]float64 `json:"deliveryAttempts,omitempty"`
	Queue          *queueMetrics      `json:"deliveryQueue,omitempty"`
	HeapInuseBytes float64            `json:"heapInuseBytes,omitempty"`
	Goroutines     float64            `json:"goroutines,omitempty"`
}

// queueMetrics are the daemon's delivery queue gauges.
type queueMetrics struct {
	Pending  float64 `json:"pending"`
	InFlight float64 `json:"inFlight"`
	Dead     float64 `json:"dead"`
}

func (m *daemonMetrics) queue() *queueMetrics {
	if m.Queue == nil {
		m.Queue = &queueMetrics{}
	}
	return m.Queue
}

func scrapeMetrics(ctx context.Context, hc *http.Client, base string) (daemonMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return daemonMetrics{}, fmt.Errorf("metrics: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return daemonMetrics{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return daemonMetrics{}, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the two series it needs from the Prometheus text
// format; a full parser would be a dependency for two lines.
func parseMetrics(r io.Reader) (daemonMetrics, error) {
	m := daemonMetrics{Outcomes: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, labels, value, ok := splitSample(line)
		if !ok {
			continue
		}
		switch name {
		case "go_sched_gomaxprocs_threads":
			m.GOMAXPROCS = int(value)
		case "forgelink_webhooks_received_total":
			m.Outcomes[label(labels, "outcome")] += value
		case "forgelink_delivery_attempts_total":
			if m.Attempts == nil {
				m.Attempts = map[string]float64{}
			}
			m.Attempts[label(labels, "outcome")] += value
		case "forgelink_deliveries_pending":
			m.queue().Pending = value
		case "forgelink_deliveries_in_flight":
			m.queue().InFlight = value
		case "forgelink_deliveries_dead":
			m.queue().Dead = value
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuseBytes = value
		case "go_goroutines":
			m.Goroutines = value
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}

// splitSample splits `name{labels} value` (labels optional).
func splitSample(line string) (name, labels string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", "", 0, false
	}
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", "", 0, false
	}
	v, err := strconv.ParseFloat(line[i+1:], 64)
	if err != nil {
		return "", "", 0, false
	}
	name = line[:i]
	if j := strings.IndexByte(name, '{'); j >= 0 {
		name, labels = name[:j], name[j:]
	}
	return name, labels, v, true
}

// label returns the value of key in a {k="v",...} label set; the values
// read here hold no quotes.
func label(labels, key string) string {
	for _, sep := range []string{"{", ","} {
		if _, rest, ok := strings.Cut(labels, sep+key+`="`); ok {
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
	}
	return ""
}
