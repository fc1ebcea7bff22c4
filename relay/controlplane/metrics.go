package controlplane

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts control-plane requests by operation, region and outcome.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
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
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *Metrics) observe(op, region, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(op, region, outcome).Inc()
	m.latency.WithLabelValues(op, region, outcome).Observe(d.Seconds())
}
