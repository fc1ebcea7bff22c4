package dispatch

import (
	"errors"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

// justUnder is a deterministic jitter: the top of [0, d).
func justUnder(d time.Duration) time.Duration { return d - time.Nanosecond }

func TestBackoff(t *testing.T) {
	e := New(Options{Jitter: justUnder})
	p := Retry{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second}
	tests := []struct {
		p       Retry
		attempt int
		ceiling time.Duration
	}{
		{p, 1, 100 * time.Millisecond},
		{p, 2, 200 * time.Millisecond},
		{p, 3, 400 * time.Millisecond},
		{p, 4, 800 * time.Millisecond},
		{p, 5, time.Second}, // 1.6 s capped
		{p, 6, time.Second},
		{p, 1000, time.Second}, // no overflow
		{Retry{InitialInterval: time.Second, MaxInterval: 5 * time.Minute}, 9, 256 * time.Second},
		{Retry{InitialInterval: time.Second, MaxInterval: 5 * time.Minute}, 10, 5 * time.Minute},
		{Retry{InitialInterval: 2 * time.Second, MaxInterval: time.Second}, 1, time.Second}, // initial above the cap
		{Retry{InitialInterval: time.Second, MaxInterval: time.Second}, 3, time.Second},
	}
	for _, tt := range tests {
		if got, want := e.backoff(tt.p, tt.attempt), tt.ceiling-time.Nanosecond; got != want {
			t.Errorf("backoff(%v..%v, attempt %d) = %v, want %v", tt.p.InitialInterval, tt.p.MaxInterval, tt.attempt, got, want)
		}
	}
}

func TestFullJitter(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 0} {
		if got := fullJitter(d); got != 0 {
			t.Errorf("fullJitter(%v) = %v, want 0", d, got)
		}
	}
	if got := fullJitter(1); got != 0 {
		t.Errorf("fullJitter(1ns) = %v, want 0", got)
	}
	const d = time.Second
	var lo, hi bool
	for range 1000 {
		got := fullJitter(d)
		if got < 0 || got >= d {
			t.Fatalf("fullJitter(%v) = %v, outside [0, %v)", d, got, d)
		}
		lo, hi = lo || got < d/4, hi || got >= 3*d/4
	}
	if !lo || !hi {
		t.Errorf("1000 draws of fullJitter(%v) do not spread over the range", d)
	}
}

// next decides a delivery's state after an attempt.
func TestNext(t *testing.T) {
	e := New(Options{Jitter: func(d time.Duration) time.Duration { return d }})
	p := Retry{InitialInterval: time.Second, MaxInterval: time.Minute, MaxAttempts: 5, MaxAge: 24 * time.Hour}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	created := now.Add(-time.Hour)
	fail := errors.New("boom")
	tests := []struct {
		name     string
		p        Retry
		attempts int
		created  time.Time
		res      notify.Result
		state    string
		wait     time.Duration
	}{
		{"success", p, 1, created, notify.Result{}, store.DeliverySucceeded, 0},
		{"success on the last attempt", p, 5, created, notify.Result{}, store.DeliverySucceeded, 0},
		{"non-retryable", p, 1, created, notify.Result{Err: fail}, store.DeliveryDead, 0},
		{"retryable", p, 1, created, notify.Result{Err: fail, Retryable: true}, store.DeliveryPending, time.Second},
		{"retryable, third attempt", p, 3, created, notify.Result{Err: fail, Retryable: true}, store.DeliveryPending, 4 * time.Second},
		{"attempts exhausted", p, 5, created, notify.Result{Err: fail, Retryable: true}, store.DeliveryDead, 0},
		{"Retry-After over the backoff", p, 1, created, notify.Result{Err: fail, Retryable: true, RetryAfter: 30 * time.Second}, store.DeliveryPending, 30 * time.Second},
		{"Retry-After under the backoff", p, 3, created, notify.Result{Err: fail, Retryable: true, RetryAfter: time.Second}, store.DeliveryPending, 4 * time.Second},
		{"Retry-After capped at an hour", p, 1, created, notify.Result{Err: fail, Retryable: true, RetryAfter: 48 * time.Hour}, store.DeliveryPending, time.Hour},
		{"retry would pass max age", p, 1, now.Add(-24 * time.Hour), notify.Result{Err: fail, Retryable: true}, store.DeliveryDead, 0},
		{"Retry-After would pass max age", Retry{InitialInterval: time.Second, MaxInterval: time.Minute, MaxAttempts: 5, MaxAge: 90 * time.Minute}, 1, created,
			notify.Result{Err: fail, Retryable: true, RetryAfter: time.Hour}, store.DeliveryDead, 0},
		{"retry just within max age", p, 1, now.Add(-24*time.Hour + time.Second), notify.Result{Err: fail, Retryable: true}, store.DeliveryPending, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := store.Delivery{Attempts: tt.attempts, CreatedAt: tt.created}
			state, at, final := e.next(tt.p, d, tt.res, now)
			if state != tt.state || !at.Equal(now.Add(tt.wait)) {
				t.Errorf("next = %s at now+%v, want %s at now+%v", state, at.Sub(now), tt.state, tt.wait)
			}
			if dead := state == store.DeliveryDead; (final != "") != dead {
				t.Errorf("next's final reason = %q; want one exactly when dead", final)
			}
		})
	}
}
