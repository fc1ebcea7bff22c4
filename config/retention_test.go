package config

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name     string
		file     string
		want     Retention
		wantLine string // "line: field" of the one refusal; empty: valid
	}{
		{name: "defaults", want: Retention{Events: Age(30 * day), MaxBytes: 5 << 30}},
		{
			name: "days, units and keep",
			file: "retention:\n  events: 14d\n  maxBytes: 500MB\n  deadDeliveries: 2w\n",
			want: Retention{Events: Age(14 * day), MaxBytes: 500e6, DeadDeliveries: Age(14 * day)},
		},
		{
			name: "everything kept",
			file: "retention:\n  events: keep\n  maxBytes: off\n  deadDeliveries: keep\n",
			want: Retention{},
		},
		{name: "go durations and plain bytes", file: "retention:\n  events: 200h\n  maxBytes: 1073741824\n",
			want: Retention{Events: Age(200 * time.Hour), MaxBytes: 1 << 30}},
		{name: "shorter than recovery's week", file: "retention:\n  events: 3d\n", wantLine: "2: retention.events"},
		{name: "a tiny size limit", file: "retention:\n  maxBytes: 1MiB\n", wantLine: "2: retention.maxBytes"},
		{name: "dead deliveries for seconds", file: "retention:\n  deadDeliveries: 30s\n", wantLine: "2: retention.deadDeliveries"},
		{name: "not a duration", file: "\nretention:\n  events: monthly\n", wantLine: "3: retention.events"},
		{name: "a negative age", file: "retention:\n  events: -30d\n", wantLine: "2: retention.events"},
		{name: "an unknown unit", file: "retention:\n  maxBytes: 5 gigs\n", wantLine: "2: retention.maxBytes"},
		{name: "an overflowing size", file: "retention:\n  maxBytes: 99999999999TiB\n", wantLine: "2: retention.maxBytes"},
		{name: "a list", file: "retention:\n  events: [30d]\n", wantLine: "2: retention.events"},
		{name: "an unknown key", file: "retention:\n  event: 30d\n", wantLine: "2: retention.event"},
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
				if err != nil || cfg.Retention != tc.want {
					t.Fatalf("Retention = %+v, %v; want %+v", cfg.Retention, err, tc.want)
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

func TestAgeAndByteSizeStrings(t *testing.T) {
	for _, tc := range []struct {
		got  string
		want string
	}{
		{Age(30 * 24 * time.Hour).String(), "30d"},
		{Age(90 * time.Minute).String(), "1h30m0s"},
		{Age(0).String(), "keep"},
		{ByteSize(5 << 30).String(), "5GiB"},
		{ByteSize(1536).String(), "1536"},
		{ByteSize(0).String(), "off"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}

// FuzzParseAge: any text is an Age or an error, never a negative one, and
// an Age's String reads back as itself.
func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"30d", "2w", "90m", "1h30m", "keep", "0", "-1d", "65536d", "1572864h", "106751d", "106752d", "1e3h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAge(s)
		if err != nil {
			return
		}
		if a < 0 {
			t.Fatalf("parseAge(%q) = %v, negative", s, time.Duration(a))
		}
		if back, err := parseAge(a.String()); err != nil || back != a {
			t.Fatalf("parseAge(%q) = %v; its String %q reads back as %v, %v", s, time.Duration(a), a.String(), time.Duration(back), err)
		}
	})
}

// FuzzParseByteSize: the same for sizes.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"5GiB", "500MB", "1 KiB", "off", "0", "-1", "9223372036854775807", "4TiB", "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("parseByteSize(%q) = %d, negative", s, b)
		}
		if back, err := parseByteSize(b.String()); err != nil || back != b {
			t.Fatalf("parseByteSize(%q) = %d; its String %q reads back as %d, %v", s, b, b.String(), back, err)
		}
	})
}
