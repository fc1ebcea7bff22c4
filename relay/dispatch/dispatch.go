// Package dispatch is the delivery engine, the "notify" stage of forgelink:
// it claims due deliveries from the store under a lease, hands each to its
// target, and records the attempt: success, a retry with exponential
// backoff and full jitter, or the dead letter. Targets have a concurrency
// limit and a circuit breaker, so a dead or slow target holds neither the
// workers nor the other targets.
package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/store"
)

// Store is what the engine needs from persistence.
type Store interface {
	ClaimDeliveries(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error)
	CompleteAttempts(ctx context.Context, results []store.AttemptResult) error
}

// Notifier delivers messages to one target (relay/notify/...).
type Notifier interface {
	Notify(ctx context.Context, m *notify.Message) notify.Result
	Close() error
}

// Target is a configured target, ready to use.
type Target struct {
	Name        string
	Type        string // http, exec, nats, amqp: a metric label
	Notifier    Notifier
	Concurrency int
	// Lease is how long a claimed delivery stays with this daemon: longer
	// than the target's own attempt timeout.
	Lease   time.Duration
	Retry   Retry
	Breaker Breaker
}

// Retry is a target's retry policy.
type Retry struct {
	InitialInterval time.Duration
	MaxInterval     time.Duration
	MaxAttempts     int
	MaxAge          time.Duration
}

// Breaker opens after FailureThreshold consecutive failures, for Cooldown;
// then one attempt probes the target.
type Breaker struct {
	FailureThreshold int
	Cooldown         time.Duration
}

// Options configure an Engine.
type Options struct {
	Store   Store
	Log     *zap.Logger
	Metrics *Metrics // optional
	Now     func() time.Time
	// Poll is how often the engine looks for due deliveries when nothing
	// woke it (retries coming due, leases expiring). 250 ms if zero.
	Poll time.Duration
	// Jitter returns a random duration in [0, d); tests make it
	// deterministic. Full jitter from math/rand/v2 if nil.
	Jitter func(d time.Duration) time.Duration
}

// Engine runs deliveries. Create it with New, set targets with SetTargets,
// and Run it.
type Engine struct {
	opts  Options
	owner string // this daemon's lease owner id
	wake  chan struct{}

	mu      sync.Mutex
	targets map[string]*targetState
	retired []*targetState // replaced by a reload, closed when idle

	results  chan completion
	inflight sync.WaitGroup
}

type targetState struct {
	Target
	active    int
	failures  int
	openUntil time.Time
}

type completion struct {
	result   store.AttemptResult
	target   *targetState
	pipeline string
	ok       bool
}

// New returns an engine with no targets.
func New(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Poll == 0 {
		opts.Poll = 250 * time.Millisecond
	}
	if opts.Jitter == nil {
		opts.Jitter = fullJitter
	}
	return &Engine{
		opts:    opts,
		owner:   uuid.NewString(),
		wake:    make(chan struct{}, 1),
		targets: map[string]*targetState{},
		results: make(chan completion, 1024),
	}
}

// Wake tells the engine that deliveries may be due (an event was recorded,
// a delivery was redelivered). It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// SetTargets replaces the target set (at start and on reload). Attempts in
// flight finish with the target they started with, whose notifier is closed
// once idle.
func (e *Engine) SetTargets(targets []Target) {
	e.mu.Lock()
	old := e.targets
	e.targets = make(map[string]*targetState, len(targets))
	for _, t := range targets {
		e.targets[t.Name] = &targetState{Target: t}
	}
	for _, t := range old {
		e.retired = append(e.retired, t)
	}
	e.closeIdleRetired()
	e.mu.Unlock()
	e.Wake()
}

// closeIdleRetired closes replaced notifiers with nothing in flight. e.mu held.
func (e *Engine) closeIdleRetired() {
	kept := e.retired[:0]
	for _, t := range e.retired {
		if t.active > 0 {
			kept = append(kept, t)
			continue
		}
		if err := t.Notifier.Close(); err != nil {
			e.opts.Log.Warn("close replaced target", zap.String("target", t.Name), zap.Error(err))
		}
	}
	e.retired = kept
}

// Run claims and runs deliveries until ctx is done, then waits up to grace
// for attempts in flight; attempts still running after that are cancelled,
// recorded, and their deliveries retried (by the next daemon).
func (e *Engine) Run(ctx context.Context, grace time.Duration) error {
	attemptCtx, cancelAttempts := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAttempts()
	completerDone := make(chan struct{})
	go e.complete(completerDone)

	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		n, err := e.claimAndStart(ctx, attemptCtx)
		if err != nil && ctx.Err() == nil {
			e.opts.Log.Error("claim deliveries", zap.Error(err))
		}
		if n > 0 {
			continue // more may be due right away
		}
		timer.Reset(e.opts.Poll)
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-timer.C:
		}
	}
	e.drain(grace, cancelAttempts)
	close(e.results)
	<-completerDone
	return nil
}

// drain waits for attempts in flight, up to grace.
func (e *Engine) drain(grace time.Duration, cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() { e.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		e.opts.Log.Warn("shutdown grace over: cancelling attempts in flight; their deliveries are retried", zap.Duration("grace", grace))
		cancel()
		<-done
	}
}

// claimAndStart leases as many deliveries as the targets can take now and
// starts an attempt for each.
func (e *Engine) claimAndStart(ctx, attemptCtx context.Context) (int, error) {
	limits, leases := e.capacity()
	if len(limits) == 0 {
		return 0, nil
	}
	claimed, err := e.opts.Store.ClaimDeliveries(ctx, store.ClaimRequest{Owner: e.owner, Now: e.opts.Now(), Leases: leases, Limits: limits})
	if err != nil {
		return 0, err
	}
	for _, d := range claimed {
		e.start(attemptCtx, d)
	}
	return len(claimed), nil
}

// capacity returns how many more attempts each target may start: none
// while its breaker is open, one probe when the cool-down is over.
func (e *Engine) capacity() (limits map[string]int, leases map[string]time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.opts.Now()
	limits, leases = map[string]int{}, map[string]time.Duration{}
	for name, t := range e.targets {
		free := t.Concurrency - t.active
		if t.failures >= t.Breaker.FailureThreshold && t.Breaker.FailureThreshold > 0 {
			if now.Before(t.openUntil) || t.active > 0 {
				continue
			}
			free = 1 // half-open: one probe
		}
		if free > 0 {
			limits[name], leases[name] = free, t.Lease
		}
	}
	return limits, leases
}

func (e *Engine) start(ctx context.Context, d store.Delivery) {
	e.mu.Lock()
	t := e.targets[d.Target]
	if t != nil {
		t.active++
	}
	e.mu.Unlock()
	e.inflight.Add(1)
	go func() {
		defer e.inflight.Done()
		if t == nil {
			// Claimed for a target a reload removed in between: leave it to
			// the lease; it is retried if the target comes back.
			return
		}
		e.results <- e.attempt(ctx, t, d)
	}()
}

// attempt runs one attempt and decides what happens to the delivery next.
func (e *Engine) attempt(ctx context.Context, t *targetState, d store.Delivery) completion {
	started := e.opts.Now()
	var res notify.Result
	var m notify.Message
	if err := json.Unmarshal(d.Message, &m); err != nil {
		res = notify.Result{Err: fmt.Errorf("decode stored message: %w", err)}
	} else {
		m.Attempt = d.Attempts
		res = t.Notifier.Notify(ctx, &m)
	}
	finished := e.opts.Now()
	r := store.AttemptResult{
		Attempt: store.Attempt{
			DeliveryID: d.ID, N: d.Attempts, StartedAt: started, Duration: finished.Sub(started),
			StatusCode: res.StatusCode, ExitStatus: res.ExitStatus, Output: res.Output,
		},
		LeaseOwner: d.LeaseOwner,
	}
	if res.Err != nil {
		r.Error = res.Err.Error()
	}
	r.State, r.NextAttemptAt = e.next(t.Retry, d, res, finished)
	if res.Err != nil && ctx.Err() != nil {
		// Cancelled by the shutdown, not failed by the target: retried,
		// never dead-lettered for it.
		r.State, r.NextAttemptAt = store.DeliveryPending, finished
	}
	r.Outcome = outcomeOf(r.State)
	return completion{result: r, target: t, pipeline: d.Pipeline, ok: res.Err == nil}
}

// next decides the delivery's state after an attempt.
func (e *Engine) next(p Retry, d store.Delivery, res notify.Result, now time.Time) (string, time.Time) {
	if res.Err == nil {
		return store.DeliverySucceeded, now
	}
	if !res.Retryable || d.Attempts >= p.MaxAttempts {
		return store.DeliveryDead, now
	}
	wait := max(e.backoff(p, d.Attempts), min(res.RetryAfter, time.Hour))
	at := now.Add(wait)
	if at.Sub(d.CreatedAt) > p.MaxAge {
		return store.DeliveryDead, now
	}
	return store.DeliveryPending, at
}

// backoff is exponential backoff with full jitter: a random wait in
// [0, min(max, initial·2^(n-1))).
func (e *Engine) backoff(p Retry, attempt int) time.Duration {
	ceiling := p.InitialInterval
	for i := 1; i < attempt && ceiling < p.MaxInterval; i++ {
		ceiling *= 2
	}
	return e.opts.Jitter(min(ceiling, p.MaxInterval))
}

func outcomeOf(state string) string {
	switch state {
	case store.DeliverySucceeded:
		return "succeeded"
	case store.DeliveryDead:
		return "dead"
	}
	return "retry"
}

// completeBatch bounds how many attempts one store transaction completes.
const completeBatch = 256

// complete writes finished attempts in batches (one transaction for all
// that finished meanwhile), updates breakers and frees target slots.
func (e *Engine) complete(done chan<- struct{}) {
	defer close(done)
	for first := range e.results {
		batch := []completion{first}
	collect:
		for len(batch) < completeBatch {
			select {
			case c, ok := <-e.results:
				if !ok {
					break collect
				}
				batch = append(batch, c)
			default:
				break collect
			}
		}
		e.record(batch)
	}
}

func (e *Engine) record(batch []completion) {
	results := make([]store.AttemptResult, len(batch))
	for i, c := range batch {
		results[i] = c.result
	}
	err := e.opts.Store.CompleteAttempts(context.Background(), results)
	if err != nil {
		// The leases expire and the deliveries are attempted again:
		// at-least-once, never lost.
		e.opts.Log.Error("record attempts", zap.Int("attempts", len(batch)), zap.Error(err))
	}
	e.mu.Lock()
	for _, c := range batch {
		e.settle(c)
	}
	e.closeIdleRetired()
	e.mu.Unlock()
	if err == nil {
		for _, c := range batch {
			e.opts.Metrics.attempt(c)
		}
	}
	e.Wake() // slots are free, and QUEUED pipelines may release their next
}

// settle frees the attempt's slot and updates the breaker. e.mu held.
func (e *Engine) settle(c completion) {
	t := c.target
	t.active--
	if c.ok {
		t.failures = 0
		return
	}
	t.failures++
	if t.Breaker.FailureThreshold > 0 && t.failures >= t.Breaker.FailureThreshold {
		t.openUntil = e.opts.Now().Add(t.Breaker.Cooldown)
		if t.failures == t.Breaker.FailureThreshold {
			e.opts.Log.Warn("circuit breaker open: pausing the target", zap.String("target", t.Name),
				zap.Int("consecutive_failures", t.failures), zap.Duration("cooldown", t.Breaker.Cooldown))
		}
	}
}
