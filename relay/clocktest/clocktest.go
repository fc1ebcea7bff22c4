// Package clocktest provides a settable clock for tests, in the way
// net/http/httptest provides servers: code under test takes a
// func() time.Time, and a test passes Clock.Now and moves the time with
// Add or Set.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock that stands still until told to move. It is safe for
// concurrent use: the code under test often reads it from its own goroutines.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock showing t.
func New(t time.Time) *Clock {
	return &Clock{now: t}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d (backwards if d is negative).
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set makes the clock show t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
