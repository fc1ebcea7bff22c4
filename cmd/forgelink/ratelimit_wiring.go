package main

import (
	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/controlplane"
)

// apiRateLimits turns the api section into the control plane's limits.
func apiRateLimits(a config.API) controlplane.RateLimits {
	return controlplane.RateLimits{
		Key:     controlplane.RateLimit{PerSecond: a.RateLimit.RequestsPerSecond, Burst: a.RateLimit.Burst},
		Refused: controlplane.RateLimit{PerSecond: a.RefusedRateLimit.RequestsPerSecond, Burst: a.RefusedRateLimit.Burst},
	}
}
