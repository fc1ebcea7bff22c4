package dispatch

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/forgelink/forgelink/store"
)

// Metrics counts deliveries by pipeline, target type and outcome, and
// tells when each pipeline last had a delivery succeed.
type Metrics struct {
	attempts    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec

	mu        sync.Mutex
	succeeded map[string]bool // pipelines with a lastSuccess series
	// inFlight counts the engine's attempts when the store cannot (an
	// owned store writes nothing before an attempt: those are pending
	// there).
	inFlight atomic.Pointer[func() int]
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
		// Pipelines are the operator's configuration: the label set is
		// bounded.
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forgelink_pipeline_last_success_timestamp_seconds",
			Help: "When a delivery of the pipeline last succeeded (Unix time), since this daemon started.",
		}, []string{"pipeline"}),
		succeeded: map[string]bool{},
	}
	reg.MustRegister(m.attempts, m.latency, m.lastSuccess, queueCollector{stats: stats, m: m})
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
	if c.result.State == store.DeliverySucceeded {
		finished := c.result.StartedAt.Add(c.result.Duration)
		m.mu.Lock()
		m.succeeded[c.pipeline] = true
		m.lastSuccess.WithLabelValues(c.pipeline).Set(float64(finished.UnixNano()) / 1e9)
		m.mu.Unlock()
	}
}

// retainPipelines deletes the last-success series of every pipeline not
// in names.
func (m *Metrics) retainPipelines(names []string) {
	if m == nil {
		return
	}
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range m.succeeded {
		if !keep[p] {
			m.lastSuccess.DeleteLabelValues(p)
			delete(m.succeeded, p)
		}
	}
}

// queueCollector reads the queue's state from the store at scrape time.
type queueCollector struct {
	stats func(ctx context.Context) (store.DeliveryStats, error)
	m     *Metrics
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
	if f := q.m.inFlight.Load(); f != nil {
		n := (*f)()
		st.Leased, st.Pending = st.Leased+n, max(st.Pending-n, 0)
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
