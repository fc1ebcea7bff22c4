package ingress

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts webhooks by provider, connection and outcome.
type Metrics struct {
	received *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the ingress metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgelink_webhooks_received_total",
			Help: "Webhook deliveries by provider, connection id and outcome (accepted, held, duplicate, bad_signature, unknown_connection, too_large, malformed, error).",
		}, []string{"provider", "connection", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "forgelink_webhook_ingest_duration_seconds",
			Help:    "Time from request to answer, including the durable write, by provider and outcome.",
			Buckets: []float64{.0005, .001, .002, .004, .008, .015, .03, .06, .125, .25, .5, 1, 2.5, 5},
		}, []string{"provider", "outcome"}),
	}
	reg.MustRegister(m.received, m.latency)
	return m
}

func (m *Metrics) observe(provider, connection, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.received.WithLabelValues(provider, connection, outcome).Inc()
	m.latency.WithLabelValues(provider, outcome).Observe(d.Seconds())
}
