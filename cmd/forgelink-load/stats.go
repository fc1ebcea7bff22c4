package main

import (
	"math"
	"slices"
	"time"
)

// latencyStats summarises the latencies of a phase's 202 answers, in
// milliseconds.
type latencyStats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

// summarize sorts d in place and returns its percentiles.
func summarize(d []time.Duration) latencyStats {
	slices.Sort(d)
	return latencyStats{
		Count: len(d),
		P50:   ms(percentile(d, 50)),
		P90:   ms(percentile(d, 90)),
		P99:   ms(percentile(d, 99)),
		Max:   ms(percentile(d, 100)),
	}
}

// percentile is the nearest-rank percentile of sorted: the smallest value
// with at least p% of the values at or below it. It is always an observed
// value, so the tail is not smoothed away by interpolation.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}
