package config

import "math"

// Rate limit defaults. 50 requests a second and a burst of 100 per access
// key are far above what a person, the console or a build step asks: the
// SDK paginators and forgelink's CLI page sequentially (100 records a
// page), so listing 10,000 connections takes the burst alone, and a busy
// CI fleet sharing one key still has 50 a second. A runaway loop is
// slowed; nothing in normal use meets it. Refused requests (no or a bad
// signature, an unknown key) are limited per remote address far more
// tightly: a client with a wrong secret learns it in one request.
const (
	DefaultAPIRequestsPerSecond     = 50
	DefaultAPIBurst                 = 100
	DefaultRefusedRequestsPerSecond = 1
	DefaultRefusedBurst             = 20
)

// API configures the control plane (relay/controlplane).
type API struct {
	// RateLimit is each access key's token bucket (a daemon without
	// credentials: its local caller's).
	RateLimit RateLimit `yaml:"rateLimit"`
	// RefusedRateLimit is each remote address's bucket of requests refused
	// before their caller is known; loopback is exempt.
	RefusedRateLimit RateLimit `yaml:"refusedRateLimit"`
}

// RateLimit is a token bucket: RequestsPerSecond refill it, Burst is its
// size. A RequestsPerSecond of 0 turns the limit off.
type RateLimit struct {
	RequestsPerSecond float64 `yaml:"requestsPerSecond"`
	Burst             int     `yaml:"burst"`
}

func defaultAPI() API {
	return API{
		RateLimit:        RateLimit{RequestsPerSecond: DefaultAPIRequestsPerSecond, Burst: DefaultAPIBurst},
		RefusedRateLimit: RateLimit{RequestsPerSecond: DefaultRefusedRequestsPerSecond, Burst: DefaultRefusedBurst},
	}
}

func (c *Config) validateAPI(bad func(field, format string, args ...any)) {
	for _, f := range []struct {
		field string
		l     RateLimit
	}{{"api.rateLimit", c.API.RateLimit}, {"api.refusedRateLimit", c.API.RefusedRateLimit}} {
		field, l := f.field, f.l
		switch {
		case l.RequestsPerSecond < 0 || math.IsNaN(l.RequestsPerSecond) || math.IsInf(l.RequestsPerSecond, 0):
			bad(field+".requestsPerSecond", "must be 0 (no limit) or a positive number, got %v", l.RequestsPerSecond)
		case l.RequestsPerSecond > 0 && l.Burst < 1:
			bad(field+".burst", "must be at least 1 when requestsPerSecond is set, got %d", l.Burst)
		}
	}
}
