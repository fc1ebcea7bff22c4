package clocktest

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Date(2030, time.May, 1, 12, 0, 0, 0, time.UTC)
	c := New(start)
	steps := []struct {
		name string
		move func()
		want time.Time
	}{
		{"stands still", func() {}, start},
		{"add", func() { c.Add(90 * time.Second) }, start.Add(90 * time.Second)},
		{"add negative", func() { c.Add(-time.Minute) }, start.Add(30 * time.Second)},
		{"set", func() { c.Set(start.Add(-time.Hour)) }, start.Add(-time.Hour)},
	}
	for _, s := range steps {
		s.move()
		if got := c.Now(); !got.Equal(s.want) {
			t.Errorf("%s: Now() = %v, want %v", s.name, got, s.want)
		}
	}
}

// TestClockConcurrent is for the race detector: code under test reads
// the clock from its own goroutines while the test moves it.
func TestClockConcurrent(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	c := New(start)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Add(time.Second)
				c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(400*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}
