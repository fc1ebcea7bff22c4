package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Retention defaults: a month of events within 5 GiB fits a build host's
// disk; dead deliveries wait for an operator.
const (
	DefaultRetentionEvents   = 30 * 24 * time.Hour
	DefaultRetentionMaxBytes = 5 << 30
)

// MinRetentionEvents is the shortest age events may be kept: recovery of
// missed webhooks compares what the providers list (GitHub Enterprise
// Server and GitLab keep a week of deliveries) against stored events, so a
// pruned event could be redelivered and built twice.
const MinRetentionEvents = 7 * 24 * time.Hour

// minRetentionBytes keeps a size limit above what a few large pushes take.
const minRetentionBytes = 64 << 20

// Retention bounds what the store keeps of finished work (relay/retention).
// Events with a pending, leased or (unless DeadDeliveries says otherwise)
// dead delivery, and held or unrouted events, are never pruned.
type Retention struct {
	// Events is the age after which finished events are pruned with their
	// deliveries and attempts; zero ("keep") keeps them.
	Events Age `yaml:"events"`
	// MaxBytes prunes the oldest finished events, whatever their age,
	// while the store holds more; zero ("off") sets no limit.
	MaxBytes ByteSize `yaml:"maxBytes"`
	// DeadDeliveries is how long a dead delivery keeps its event after it
	// died; zero ("keep") keeps it until it is discarded or redelivered.
	DeadDeliveries Age `yaml:"deadDeliveries"`
}

func defaultRetention() Retention {
	return Retention{Events: Age(DefaultRetentionEvents), MaxBytes: DefaultRetentionMaxBytes}
}

func (c *Config) validateRetention(bad func(field, format string, args ...any)) {
	r := c.Retention
	if r.Events != 0 && time.Duration(r.Events) < MinRetentionEvents {
		bad("retention.events", "must be keep or at least 7d, got %s: recovery compares a week of provider deliveries against stored events, and a pruned one could be built twice", r.Events)
	}
	if r.MaxBytes != 0 && r.MaxBytes < minRetentionBytes {
		bad("retention.maxBytes", "must be off or at least 64MiB, got %s", r.MaxBytes)
	}
	if r.DeadDeliveries != 0 && time.Duration(r.DeadDeliveries) < time.Hour {
		bad("retention.deadDeliveries", "must be keep or at least 1h, got %s", r.DeadDeliveries)
	}
}

// Age is a duration written as Go writes them (90m, 12h) or in days or
// weeks (30d, 2w); "keep" is zero.
type Age time.Duration

// UnmarshalYAML decodes an Age from a scalar.
func (a *Age) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseAge(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 30d, 12h or keep, got %q", n.Value)
	}
	*a = v
	return nil
}

func parseAge(s string) (Age, error) {
	if s == "keep" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseUint(n, 10, 64)
			if err != nil || v == 0 || v > uint64(math.MaxInt64/unit) {
				return 0, fmt.Errorf("bad age %q", s)
			}
			return Age(time.Duration(v) * unit), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad age %q", s)
	}
	return Age(d), nil
}

func (a Age) String() string {
	d := time.Duration(a)
	switch {
	case d == 0:
		return "keep"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// ByteSize is a size in bytes, written as a number with an optional unit
// (KiB, MiB, GiB, TiB, or KB, MB, GB, TB in powers of ten); "off" is zero.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	size   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// UnmarshalYAML decodes a ByteSize from a scalar.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size such as 5GiB, 500MB or off, got %q", n.Value)
	}
	*b = v
	return nil
}

func parseByteSize(s string) (ByteSize, error) {
	if s == "off" {
		return 0, nil
	}
	unit := int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = strings.TrimSpace(n), u.size
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/unit {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return ByteSize(v * unit), nil
}

func (b ByteSize) String() string {
	for _, u := range byteUnits[:4] {
		if b != 0 && int64(b)%u.size == 0 && int64(b)/u.size < 1024 {
			return fmt.Sprintf("%d%s", int64(b)/u.size, u.suffix)
		}
	}
	if b == 0 {
		return "off"
	}
	return strconv.FormatInt(int64(b), 10)
}
