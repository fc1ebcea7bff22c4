package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// userHZ is the unit of the times in /proc/<pid>/stat: USER_HZ, which Linux
// fixes at 100 for user space whatever the kernel's own tick rate.
const userHZ = 100

// procSample is one reading of a process's /proc files.
type procSample struct {
	at     time.Time
	ticks  uint64 // utime+stime of all threads, in 1/userHZ s
	rssKiB int64  // VmRSS
	hwmKiB int64  // VmHWM: peak RSS over the process's life
}

// readProc reads dir/stat and dir/status; dir is /proc/<pid> or /proc/self.
func readProc(dir string) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return s, fmt.Errorf("read process stat: %w", err)
	}
	if s.ticks, err = parseStat(stat); err != nil {
		return s, fmt.Errorf("%s/stat: %w", dir, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return s, fmt.Errorf("read process status: %w", err)
	}
	if s.rssKiB, s.hwmKiB, err = parseStatus(status); err != nil {
		return s, fmt.Errorf("%s/status: %w", dir, err)
	}
	return s, nil
}

// parseStat returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
func parseStat(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("%d fields after the command name, want more than %d", len(fields), stime)
	}
	u, err := strconv.ParseUint(string(fields[utime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	s, err := strconv.ParseUint(string(fields[stime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return u + s, nil
}

// parseStatus returns VmRSS and VmHWM in KiB from /proc/<pid>/status.
func parseStatus(b []byte) (rss, hwm int64, err error) {
	found := 0
	for line := range bytes.Lines(b) {
		key, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		fields := bytes.Fields(value) // "  1234 kB"
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", key, bytes.TrimSpace(value))
		}
		if *dst, err = strconv.ParseInt(string(fields[0]), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", key, err)
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no VmRSS or VmHWM line")
	}
	return rss, hwm, nil
}

// cpuPercent is the CPU time used between two samples, as a percentage of
// one core (200 means two cores busy).
func cpuPercent(before, after procSample) float64 {
	wall := after.at.Sub(before.at).Seconds()
	if wall <= 0 || after.ticks < before.ticks {
		return 0
	}
	return float64(after.ticks-before.ticks) / userHZ / wall * 100
}
