package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Recovery defaults: GitHub's delivery logs are read every 15 minutes;
// polled refs every 5, which README shows stays within every provider's
// rate limit for 500 refs.
const (
	DefaultRecoveryInterval     = 15 * time.Minute
	DefaultRecoveryPollInterval = 5 * time.Minute
)

// Recovery configures the recovery of missed webhooks (relay/recovery).
type Recovery struct {
	// Disabled turns recovery off: no delivery log is read, nothing polled.
	Disabled bool `yaml:"disabled"`
	// Interval is the period of the rounds that read the hooks' delivery
	// logs (also read at start and after a gap in ingress).
	Interval Age `yaml:"interval"`
	// PollInterval is the period of the polling of watched refs.
	PollInterval Age `yaml:"pollInterval"`
	// Poll turns polling on for the refs of these pipelines and of every
	// pipeline of these connections (by ARN), besides the pipelines whose
	// hook the provider refuses to show, which are always polled.
	Poll RecoveryPoll `yaml:"poll"`
}

// RecoveryPoll names what is polled whatever its hook's state.
type RecoveryPoll struct {
	Pipelines   []string `yaml:"pipelines"`
	Connections []string `yaml:"connections"`
}

func defaultRecovery() Recovery {
	return Recovery{Interval: Age(DefaultRecoveryInterval), PollInterval: Age(DefaultRecoveryPollInterval)}
}

// Polls reports whether recovery.poll names pipeline p or its connection.
func (r Recovery) Polls(p Pipeline) bool {
	return slices.Contains(r.Poll.Pipelines, p.Name) || slices.Contains(r.Poll.Connections, p.ConnectionArn)
}

func (c *Config) validateRecovery(bad func(field, format string, args ...any)) {
	r := c.Recovery
	if time.Duration(r.Interval) < time.Minute {
		bad("recovery.interval", "must be at least 1m, got %s", r.Interval)
	}
	if time.Duration(r.PollInterval) < time.Minute {
		bad("recovery.pollInterval", "must be at least 1m, got %s: a shorter period spends the providers' rate limits", r.PollInterval)
	}
	for i, name := range r.Poll.Pipelines {
		if !slices.ContainsFunc(c.Pipelines, func(p Pipeline) bool { return p.Name == name }) {
			bad(fmt.Sprintf("recovery.poll.pipelines[%d]", i), "no pipeline is named %q", name)
		}
	}
	for i, arn := range r.Poll.Connections {
		if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":connection/") {
			bad(fmt.Sprintf("recovery.poll.connections[%d]", i), "want a connection ARN, got %q", arn)
		}
	}
}
