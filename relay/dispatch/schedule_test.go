package dispatch

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

var t0 = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

// ref is delivery n (ids sort by n) of pipeline p on target "ci", branch
// b, mode mode, due at t0.
func ref(n int, p, mode, b string) store.DeliveryRef {
	return store.DeliveryRef{ID: fmt.Sprintf("d%03d", n), Pipeline: p, Target: "ci", Mode: mode, Branch: b, NextAttemptAt: t0, CreatedAt: t0}
}

// op is one step of a scheduler scenario.
type op struct {
	add        []store.DeliveryRef
	take       int           // take up to this many from "ci" at t0+at
	at         time.Duration // when take runs
	want       string        // ids taken, space-separated
	superseded string        // ids superseded by the take
	done       string        // settle these as finished
	retry      string        // settle these as retried at t0+retryAt
	retryAt    time.Duration
	withdraw   string // withdraw these
	withdrawOK bool   // what withdraw reports
}

func TestScheduler(t *testing.T) {
	q := func(n int) store.DeliveryRef { return ref(n, "build", "QUEUED", "main") }
	p := func(n int) store.DeliveryRef { return ref(n, "build", "PARALLEL", "main") }
	sup := func(n int, b string) store.DeliveryRef { return ref(n, "deploy", "SUPERSEDED", b) }
	tests := []struct {
		name string
		ops  []op
	}{
		{"parallel takes any, oldest first, up to n", []op{
			{add: []store.DeliveryRef{p(3), p(1), p(2)}},
			{take: 2, want: "d001 d002"},
			{take: 5, want: "d003"},
			{take: 5, want: ""},
		}},
		{"queued one at a time in id order", []op{
			{add: []store.DeliveryRef{q(2), q(1), q(3)}},
			{take: 5, want: "d001"},
			{take: 5, want: ""},
			{done: "d001"},
			{take: 5, want: "d002"},
			{done: "d002"},
			{take: 5, want: "d003"},
		}},
		{"queued head retried holds the pipeline until it is due", []op{
			{add: []store.DeliveryRef{q(1), q(2)}},
			{take: 5, want: "d001"},
			{retry: "d001", retryAt: time.Second},
			{take: 5, want: ""},
			{take: 5, at: time.Second, want: "d001"},
			{done: "d001"},
			{take: 5, at: time.Second, want: "d002"},
		}},
		{"queued pipelines run alongside each other", []op{
			{add: []store.DeliveryRef{q(1), q(2), ref(3, "lint", "QUEUED", "dev"), ref(4, "lint", "QUEUED", "dev")}},
			{take: 5, want: "d001 d003"},
		}},
		{"a late older queued delivery goes first", []op{
			{add: []store.DeliveryRef{q(5)}},
			{add: []store.DeliveryRef{q(2)}},
			{take: 5, want: "d002"},
		}},
		{"superseded: the newest, replacing older waiting ones", []op{
			{add: []store.DeliveryRef{sup(1, "main"), sup(2, "main"), sup(3, "main"), sup(4, "dev")}},
			{take: 5, want: "d003 d004", superseded: "d001 d002"},
		}},
		{"superseded: newer ones wait for the one in flight, then only the newest goes", []op{
			{add: []store.DeliveryRef{sup(1, "main")}},
			{take: 5, want: "d001"},
			{add: []store.DeliveryRef{sup(2, "main"), sup(3, "main"), sup(4, "main")}},
			{take: 5, want: ""},
			{done: "d001"},
			{take: 5, want: "d004", superseded: "d002 d003"},
		}},
		{"superseded: an older one waiting out a backoff is replaced too", []op{
			{add: []store.DeliveryRef{sup(1, "main")}},
			{take: 5, want: "d001"},
			{retry: "d001", retryAt: time.Hour},
			{add: []store.DeliveryRef{sup(2, "main")}},
			{take: 5, want: "d002", superseded: "d001"},
			{take: 5, at: 2 * time.Hour, want: ""},
		}},
		{"superseded waits for parallel ones of its group in flight (a reload changed the mode)", []op{
			{add: []store.DeliveryRef{ref(1, "deploy", "PARALLEL", "main"), ref(2, "deploy", "PARALLEL", "main")}},
			{take: 5, want: "d001 d002"},
			{add: []store.DeliveryRef{sup(3, "main"), ref(4, "lint", "PARALLEL", "main")}},
			{take: 5, want: "d004"},
			{done: "d001"},
			{take: 5, want: ""},
			{done: "d002"},
			{take: 5, want: "d003"},
		}},
		{"queued behind a parallel delivery of its pipeline (a reload changed the mode)", []op{
			{add: []store.DeliveryRef{p(1), q(2)}},
			{take: 5, want: "d001"},
			{done: "d001"},
			{take: 5, want: "d002"},
		}},
		{"withdraw a waiting delivery: it is never taken, and what queued behind it goes", []op{
			{add: []store.DeliveryRef{q(1), q(2)}},
			{withdraw: "d001", withdrawOK: true},
			{take: 5, want: "d002"},
			{withdraw: "d002", withdrawOK: false},
			{withdraw: "d009", withdrawOK: true},
		}},
		{"not due yet", []op{
			{add: []store.DeliveryRef{{ID: "d001", Pipeline: "build", Target: "ci", Mode: "PARALLEL", NextAttemptAt: t0.Add(time.Minute)}}},
			{take: 5, want: ""},
			{take: 5, at: time.Minute, want: "d001"},
		}},
		{"adding a known delivery changes nothing", []op{
			{add: []store.DeliveryRef{p(1)}},
			{take: 5, want: "d001"},
			{add: []store.DeliveryRef{p(1)}},
			{take: 5, want: ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScheduler()
			for i, o := range tt.ops {
				s.add(o.add...)
				for _, id := range strings.Fields(o.done) {
					s.settle(id, true, time.Time{})
				}
				for _, id := range strings.Fields(o.retry) {
					s.settle(id, false, t0.Add(o.retryAt))
				}
				for _, id := range strings.Fields(o.withdraw) {
					if ok := s.withdraw(id); ok != o.withdrawOK {
						t.Errorf("op %d: withdraw(%s) = %v, want %v", i, id, ok, o.withdrawOK)
					}
				}
				if o.take == 0 {
					continue
				}
				got := s.take(t0.Add(o.at), "ci", o.take)
				if ids := refIDs(got.refs); ids != o.want {
					t.Errorf("op %d: took %q, want %q", i, ids, o.want)
				}
				if ids := refIDs(got.superseded); ids != o.superseded {
					t.Errorf("op %d: superseded %q, want %q", i, ids, o.superseded)
				}
			}
		})
	}
}

// Attempts count in memory: a retried delivery is taken with the next
// attempt's number, and one released unstarted keeps its count.
func TestSchedulerAttempts(t *testing.T) {
	s := newScheduler()
	r := ref(1, "build", "PARALLEL", "main")
	r.Attempts = 2 // recorded before a restart
	s.add(r)
	if got := s.take(t0, "ci", 1).refs; len(got) != 1 || got[0].Attempts != 3 {
		t.Fatalf("took %+v, want attempt 3", got)
	}
	s.release(r.ID, t0)
	if got := s.take(t0, "ci", 1).refs; len(got) != 1 || got[0].Attempts != 3 {
		t.Fatalf("after release took %+v, want attempt 3 again", got)
	}
	s.settle(r.ID, false, t0)
	if got := s.take(t0, "ci", 1).refs; len(got) != 1 || got[0].Attempts != 4 {
		t.Fatalf("after a retry took %+v, want attempt 4", got)
	}
	s.settle(r.ID, true, t0)
	if s.open() != 0 {
		t.Errorf("%d open after the last settle, want 0", s.open())
	}
}

// A lane that never empties does not keep an entry per delivery it ever
// had.
func TestSchedulerLaneCompaction(t *testing.T) {
	s := newScheduler()
	s.add(ref(0, "build", "PARALLEL", "main"))
	for n := 1; n < 10_000; n++ {
		s.add(ref(n, "build", "PARALLEL", "main"))
		for _, r := range s.take(t0, "ci", 1).refs {
			s.settle(r.ID, true, t0)
		}
	}
	for _, l := range []*lane{s.lanes["build\x00ci"], s.groups["build\x00ci\x00main"]} {
		if l.members.Len() > 100 {
			t.Errorf("lane heap holds %d entries for %d members", l.members.Len(), l.open)
		}
	}
}

func refIDs(rs []store.DeliveryRef) string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

// BenchmarkSchedulerDrain schedules a backlog of b.N deliveries of one
// QUEUED and one PARALLEL pipeline, then takes and settles them all, 8 at
// a time as the default target concurrency allows; it reports the heap
// the backlog held.
func BenchmarkSchedulerDrain(b *testing.B) {
	s := newScheduler()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for n := range b.N {
		mode, p := "PARALLEL", "build"
		if n%2 == 0 {
			mode, p = "QUEUED", "deploy"
		}
		s.add(ref(n, p, mode, "main"))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for s.open() > 0 {
		for _, r := range s.take(t0, "ci", 8).refs {
			s.settle(r.ID, true, t0)
		}
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/delivery")
}
