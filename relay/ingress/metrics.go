package ingress

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts webhooks by provider, connection and outcome, and shows
// what the ingress limits hold and refuse.
type Metrics struct {
	received   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	shedTotal  *prometheus.CounterVec
	inflight   prometheus.Gauge
	bytesGauge prometheus.Gauge
}

// NewMetrics registers the ingress metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgelink_webhooks_received_total",
			Help: "Webhook deliveries by provider, connection id and outcome (accepted, held, duplicate, bad_signature, unknown_connection, too_large, malformed, shed, timeout, error). The connection is \"unverified\" unless the delivery's signature was verified.",
		}, []string{"provider", "connection", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "forgelink_webhook_ingest_duration_seconds",
			Help:    "Time from request to answer, including the durable write, by provider and outcome.",
			Buckets: []float64{.0005, .001, .002, .004, .008, .015, .03, .06, .125, .25, .5, 1, 2.5, 5},
		}, []string{"provider", "outcome"}),
		shedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgelink_webhooks_shed_total",
			Help: "Webhook requests refused by the ingress limits, by reason (inflight_bytes, connection_bytes, source_concurrency: 503; body_timeout: 408).",
		}, []string{"reason"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgelink_webhooks_inflight_requests",
			Help: "Webhook requests being served.",
		}),
		bytesGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgelink_webhooks_inflight_bytes",
			Help: "Body bytes reserved by webhook requests being served.",
		}),
	}
	for _, reason := range []string{shedBudget, shedConnection, shedSource, shedTimeout} {
		m.shedTotal.WithLabelValues(reason) // present at 0 from the start
	}
	reg.MustRegister(m.received, m.latency, m.shedTotal, m.inflight, m.bytesGauge)
	return m
}

func (m *Metrics) observe(provider, connection, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.received.WithLabelValues(provider, connection, outcome).Inc()
	m.latency.WithLabelValues(provider, outcome).Observe(d.Seconds())
}

func (m *Metrics) shed(reason string) {
	if m != nil {
		m.shedTotal.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) requestStarted() {
	if m != nil {
		m.inflight.Inc()
	}
}

func (m *Metrics) requestDone() {
	if m != nil {
		m.inflight.Dec()
	}
}

func (m *Metrics) inflightBytes(n int64) {
	if m != nil {
		m.bytesGauge.Set(float64(n))
	}
}
