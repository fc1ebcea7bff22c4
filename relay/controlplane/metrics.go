package controlplane

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts control-plane requests by operation, region and outcome.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// throttled is by key_kind (access_key, local, refused): a key id or
	// an address as a label would let callers grow the series without
	// bound; the log line of each refusal names the operation.
	throttled *prometheus.CounterVec
}

// NewMetrics registers the control-plane metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgelink_api_requests_total",
			Help: "Control-plane requests by operation, region (a served one, or none before it is known) and outcome (success or the wire error code).",
		}, []string{"operation", "region", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "forgelink_api_request_duration_seconds",
			Help:    "Control-plane request latency by operation, region and outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation", "region", "outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgelink_api_throttled_total",
			Help: "Control-plane requests answered ThrottlingException, by the bucket that ran out: access_key (an access key's), local (a daemon without credentials: its one caller's), refused (a remote address's requests refused before authentication).",
		}, []string{"key_kind"}),
	}
	reg.MustRegister(m.requests, m.latency, m.throttled)
	return m
}

func (m *Metrics) observe(op, region, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(op, region, outcome).Inc()
	m.latency.WithLabelValues(op, region, outcome).Observe(d.Seconds())
}

func (m *Metrics) throttle(kind string) {
	if m != nil {
		m.throttled.WithLabelValues(kind).Inc()
	}
}
