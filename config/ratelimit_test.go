package config

import (
	"errors"
	"fmt"
	"testing"
)

func TestAPIRateLimits(t *testing.T) {
	def := defaultAPI()
	for _, tc := range []struct {
		name     string
		file     string
		want     API
		wantLine string // "line: field" of the one refusal
	}{
		{"defaults", "", def, ""},
		{"set", "api:\n  rateLimit: {requestsPerSecond: 5.5, burst: 10}\n  refusedRateLimit: {requestsPerSecond: 0}\n",
			API{RateLimit: RateLimit{RequestsPerSecond: 5.5, Burst: 10}, RefusedRateLimit: RateLimit{Burst: DefaultRefusedBurst}}, ""},
		{"off", "api:\n  rateLimit: {requestsPerSecond: 0, burst: 0}\n",
			API{RateLimit: RateLimit{}, RefusedRateLimit: def.RefusedRateLimit}, ""},
		{"negative rate", "api:\n  rateLimit:\n    requestsPerSecond: -1\n", API{}, "3: api.rateLimit.requestsPerSecond"},
		{"no burst", "api:\n  refusedRateLimit:\n    burst: 0\n", API{}, "3: api.refusedRateLimit.burst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, path, err := validated(t, tc.file)
			if tc.wantLine != "" {
				checkOneRefusal(t, err, path, tc.wantLine)
			} else if err != nil || cfg.API != tc.want {
				t.Fatalf("API = %+v, %v; want %+v", cfg.API, err, tc.want)
			}
		})
	}
}

// validated loads file (none when empty) and validates it.
func validated(t *testing.T, file string) (*Config, string, error) {
	t.Helper()
	var path string
	if file != "" {
		path = writeFile(t, file)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path, cfg.Validate()
}

// checkOneRefusal wants err to refuse exactly one field, at "line: field".
func checkOneRefusal(t *testing.T, err error, path, want string) {
	t.Helper()
	var verr ValidationError
	if !errors.As(err, &verr) || len(verr) != 1 || verr[0].File != path || fmt.Sprintf("%d: %s", verr[0].Line, verr[0].Field) != want {
		t.Fatalf("Validate = %v, want one refusal at %s", err, want)
	}
}
