package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

func TestIngressGapsTriggerOnceTheErrorsStop(t *testing.T) {
	reg := prometheus.NewRegistry()
	received := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "forgelink_webhooks_received_total", Help: "x"},
		[]string{"provider", "connection", "outcome"})
	reg.MustRegister(received)
	triggered := 0
	g := newIngressGaps(reg, func() { triggered++ }, zap.NewNop())
	steps := []struct {
		name     string
		errors   int // errors counted before the step
		accepted int
		want     int // rounds triggered so far
	}{
		{"quiet", 0, 3, 0},
		{"errors start", 2, 1, 0},
		{"errors go on", 5, 0, 0},
		{"errors stop: a round", 0, 4, 1},
		{"quiet again", 0, 2, 1},
		{"other outcomes are no gap", 0, 0, 1},
	}
	for _, s := range steps {
		received.WithLabelValues("GitHub", "c", "error").Add(float64(s.errors))
		received.WithLabelValues("GitHub", "c", "accepted").Add(float64(s.accepted))
		if s.name == "other outcomes are no gap" {
			received.WithLabelValues("GitHub", "unverified", "bad_signature").Add(9)
		}
		g.step()
		if triggered != s.want {
			t.Fatalf("%s: %d rounds triggered, want %d", s.name, triggered, s.want)
		}
	}
}
