package config

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestRecovery(t *testing.T) {
	const pipeline = "pipelines:\n  - name: app\n    connectionArn: arn:aws:codeconnections:us-east-1:000000000000:connection/0190c3a1-7c2e-7000-8000-000000000001\n    repository: acme/app\n    target: t\ntargets:\n  - name: t\n    type: http\n    http: {url: \"https://ci.example.com/hook\"}\n"
	tests := []struct {
		name     string
		file     string
		want     Recovery
		wantLine string // "line: field" of the one refusal; empty: valid
	}{
		{name: "defaults", want: Recovery{Interval: Age(15 * time.Minute), PollInterval: Age(5 * time.Minute)}},
		{
			name: "polling named",
			file: pipeline + "recovery:\n  interval: 1h\n  pollInterval: 10m\n  poll:\n    pipelines: [app]\n    connections: [arn:aws:codeconnections:us-east-1:000000000000:connection/c2]\n",
			want: Recovery{Interval: Age(time.Hour), PollInterval: Age(10 * time.Minute),
				Poll: RecoveryPoll{Pipelines: []string{"app"}, Connections: []string{"arn:aws:codeconnections:us-east-1:000000000000:connection/c2"}}},
		},
		{name: "off", file: "recovery:\n  disabled: true\n", want: Recovery{Disabled: true, Interval: Age(15 * time.Minute), PollInterval: Age(5 * time.Minute)}},
		{name: "polling every second", file: "recovery:\n  pollInterval: 1s\n", wantLine: "2: recovery.pollInterval"},
		{name: "interval kept", file: "recovery:\n  interval: keep\n", wantLine: "2: recovery.interval"},
		{name: "an unknown pipeline", file: pipeline + "recovery:\n  poll:\n    pipelines: [app, ghost]\n", wantLine: "12: recovery.poll.pipelines[1]"},
		{name: "not an ARN", file: "recovery:\n  poll:\n    connections: [c1]\n", wantLine: "3: recovery.poll.connections[0]"},
		{name: "an unknown key", file: "recovery:\n  pol: {}\n", wantLine: "2: recovery.pol"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			cfg, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tc.wantLine == "" {
				r := cfg.Recovery
				if err != nil || r.Disabled != tc.want.Disabled || r.Interval != tc.want.Interval || r.PollInterval != tc.want.PollInterval ||
					!slices.Equal(r.Poll.Pipelines, tc.want.Poll.Pipelines) || !slices.Equal(r.Poll.Connections, tc.want.Poll.Connections) {
					t.Fatalf("Recovery = %+v, %v; want %+v", r, err, tc.want)
				}
				return
			}
			var verr ValidationError
			if !errors.As(err, &verr) || len(verr) != 1 || verr[0].File != path ||
				fmt.Sprintf("%d: %s", verr[0].Line, verr[0].Field) != tc.wantLine {
				t.Fatalf("Validate = %v, want one refusal at %s", err, tc.wantLine)
			}
		})
	}
}
