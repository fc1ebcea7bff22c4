package dispatch

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/forgelink/forgelink/store"
)

// Metrics counts deliveries by pipeline, target type and outcome.
type Metrics struct {
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the delivery metrics with reg. Queue depth, oldest
// pending age and dead letters are read from stats when scraped.
func NewMetrics(reg prometheus.Registerer, stats func(ctx context.Context) (store.DeliveryStats, error)) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgelink_delivery_attempts_total",
			Help: "Delivery attempts by pipeline, target type and outcome (succeeded, retry, dead, filtered).",
		}, []string{"pipeline", "target_type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "forgelink_delivery_attempt_duration_seconds",
			Help:    "Delivery attempt latency by target type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"target_type"}),
	}
	reg.MustRegister(m.attempts, m.latency, queueCollector{stats: stats})
	return m
}

func (m *Metrics) attempt(c completion) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(c.pipeline, c.target.Type, c.result.Outcome).Inc()
	if !c.untried {
		m.latency.WithLabelValues(c.target.Type).Observe(c.result.Duration.Seconds())
	}
}

// queueCollector reads the queue's state from the store at scrape time.
type queueCollector struct {
	stats func(ctx context.Context) (store.DeliveryStats, error)
}

var (
	pendingDesc = prometheus.NewDesc("forgelink_deliveries_pending", "Deliveries waiting for an attempt.", nil, nil)
	leasedDesc  = prometheus.NewDesc("forgelink_deliveries_in_flight", "Deliveries with an attempt in flight.", nil, nil)
	deadDesc    = prometheus.NewDesc("forgelink_deliveries_dead", "Dead-lettered deliveries.", nil, nil)
	oldestDesc  = prometheus.NewDesc("forgelink_deliveries_oldest_pending_age_seconds", "Age of the oldest pending delivery; 0 when none.", nil, nil)
)

func (q queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- leasedDesc
	ch <- deadDesc
	ch <- oldestDesc
}

func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := q.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(pendingDesc, err)
		return
	}
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = time.Since(st.OldestPending).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(leasedDesc, prometheus.GaugeValue, float64(st.Leased))
	ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(st.Dead))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
