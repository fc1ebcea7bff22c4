package recovery

import "github.com/prometheus/client_golang/prometheus"

// Metrics are recovery's Prometheus metrics.
type Metrics struct {
	rounds        *prometheus.CounterVec
	redelivered   prometheus.Counter
	synthesized   prometheus.Counter
	unrecoverable prometheus.Gauge
}

// NewMetrics returns recovery's metrics, registered with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgelink_recovery_rounds_total",
			Help: "Recovery rounds per provider checked, by outcome: ok, or failed when some hook or ref could not be checked.",
		}, []string{"provider", "outcome"}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forgelink_recovery_redelivered_total",
			Help: "Missed webhooks the provider was asked to deliver again.",
		}),
		synthesized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forgelink_recovery_synthesized_total",
			Help: "Push events synthesised from a polled head that moved without a recorded push.",
		}),
		unrecoverable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgelink_recovery_unrecoverable_hooks",
			Help: "Hooks whose delivery log the provider refuses (403/404); their pipelines' refs are polled.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.rounds, m.redelivered, m.synthesized, m.unrecoverable)
	}
	return m
}

// round counts a round for each provider it checked.
func (m *Metrics) round(providers map[string]bool, st Stats) {
	for p := range providers {
		outcome := "ok"
		if st.failedBy[p] || st.failedBy["all"] {
			outcome = "failed"
		}
		m.rounds.WithLabelValues(p, outcome).Inc()
	}
	if st.Hooks > 0 || st.Unrecoverable > 0 {
		m.unrecoverable.Set(float64(st.Unrecoverable))
	}
}
