// Package dispatch is the delivery engine, the "notify" stage of forgelink:
// it takes due deliveries from its Source (scheduled in memory for the
// single-node store, which hands them over as they commit; claimed under a
// lease from a shared store), hands each to its target, and records the
// attempt: success, a retry with exponential backoff and full jitter, or
// the dead letter. Targets have a concurrency
// limit and a circuit breaker, so a dead or slow target holds neither the
// workers nor the other targets.
//
// A delivery whose pipeline matched only because the provider truncated
// the push's changed files (routing in the ingress asks no provider
// anything) has its list completed before it goes out: the engine asks
// Files for the full list, re-evaluates the pipeline on it, and then
// delivers it with the full list, ends it as filtered when no filter
// matches, or retries when the provider could not be asked. When the
// list cannot be had at all (no credential, too many files), the
// delivery goes out as it is, files incomplete.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/relay/notify"
	"github.com/forgelink/forgelink/relay/route"
	"github.com/forgelink/forgelink/store"
)

// Files fetches the complete changed-file list of a push through the
// provider's compare API (relay/changes).
type Files interface {
	// ChangedFiles returns every file that m's push (m.Push, in
	// m.Repository of d's connection) changed. An error wrapping
	// providers.ErrProviderUnavailable means the provider could not be
	// asked now: the attempt is retried. Any other means the list cannot
	// be had (store.ErrNotFound: the connection has no credential;
	// providers.ErrNoFileList: nothing to compare, too many files, a
	// refusal): the delivery goes out as it is.
	ChangedFiles(ctx context.Context, d store.Delivery, m *notify.Message) (providers.ChangedFiles, error)
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
	Source  Source
	Log     *zap.Logger
	Metrics *Metrics // optional
	Now     func() time.Time
	// Poll is how often the engine looks for due deliveries when nothing
	// woke it (retries coming due, leases expiring). 250 ms if zero.
	Poll time.Duration
	// Jitter returns a random duration in [0, d); tests make it
	// deterministic. Full jitter from math/rand/v2 if nil.
	Jitter func(d time.Duration) time.Duration
	// Files completes the changed-file lists the provider truncated
	// before a delivery that relied on one goes out; nil: such deliveries
	// go out as they are, files incomplete.
	Files Files
	// Router returns the router of the running configuration, which
	// re-evaluates a pipeline on a completed list. Required with Files.
	Router func() *route.Router
	// FilesTimeout bounds one ChangedFiles call; DefaultFilesTimeout if
	// zero. With Files set, every lease is longer by as much, so that an
	// attempt that waited for the provider first still ends in its lease.
	FilesTimeout time.Duration
	// FilesAttempts is how many attempts of a delivery wait for a provider
	// that cannot be asked (retried with the target's backoff) before it
	// goes out with its files incomplete; DefaultFilesAttempts if zero.
	// The target's last attempt never waits.
	FilesAttempts int
}

// Defaults of Options.FilesTimeout and Options.FilesAttempts.
const (
	DefaultFilesTimeout  = 20 * time.Second
	DefaultFilesAttempts = 3
)

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
	settling sync.WaitGroup // results handed to the Source, not written yet
}

type targetState struct {
	Target
	active    int
	failures  int
	openUntil time.Time
}

type completion struct {
	result     store.AttemptResult
	target     *targetState
	pipeline   string
	repository string
	// final says why a dead delivery is not attempted again.
	final string
	ok    bool
	// untried: the target was not asked (the delivery was filtered, or the
	// provider could not list its files), so its breaker stays as it is.
	untried bool
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
	if opts.Files != nil && opts.Router == nil {
		panic("dispatch: Options.Files needs Options.Router")
	}
	if opts.FilesTimeout == 0 {
		opts.FilesTimeout = DefaultFilesTimeout
	}
	if opts.FilesAttempts == 0 {
		opts.FilesAttempts = DefaultFilesAttempts
	}
	e := &Engine{
		opts:    opts,
		owner:   uuid.NewString(),
		wake:    make(chan struct{}, 1),
		targets: map[string]*targetState{},
		results: make(chan completion, 1024),
	}
	if o, ok := opts.Source.(*Owner); ok {
		o.wake, o.now = e.Wake, opts.Now
		if opts.Metrics != nil {
			inFlight := e.inFlight
			opts.Metrics.inFlight.Store(&inFlight)
		}
	}
	return e
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

// RetainPipelines tells the engine the pipelines of a reloaded
// configuration: the last-success metric of every other pipeline is
// deleted, so that a removed pipeline is not reported (and alerted on) as
// one that stopped succeeding.
func (e *Engine) RetainPipelines(names []string) {
	e.opts.Metrics.retainPipelines(names)
}

// inFlight counts the attempts in flight, on current and replaced targets.
func (e *Engine) inFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, t := range e.targets {
		n += t.active
	}
	for _, t := range e.retired {
		n += t.active
	}
	return n
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
	listenDone := make(chan struct{})
	go func() {
		defer close(listenDone)
		e.opts.Source.Listen(ctx, e.Wake)
	}()

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
	e.settling.Wait()
	<-listenDone
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
	claimed, err := e.opts.Source.Take(ctx, store.ClaimRequest{Owner: e.owner, Now: e.opts.Now(), Leases: leases, Limits: limits})
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
			limits[name], leases[name] = free, t.Lease+e.filesLease()
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
			// Taken for a target a reload removed in between: handed back;
			// it is attempted if the target comes back.
			e.opts.Source.Release(d)
			return
		}
		if err := e.opts.Source.Load(ctx, &d); err != nil {
			e.opts.Log.Error("read delivery: not attempted now", zap.String("delivery", d.ID), zap.Error(err))
			e.mu.Lock()
			t.active--
			e.closeIdleRetired()
			e.mu.Unlock()
			e.Wake()
			return
		}
		e.results <- e.attempt(ctx, t, d)
	}()
}

// filesLease is how much longer leases are for ChangedFiles calls.
func (e *Engine) filesLease() time.Duration {
	if e.opts.Files == nil {
		return 0
	}
	return e.opts.FilesTimeout
}

// attempt runs one attempt and decides what happens to the delivery next.
func (e *Engine) attempt(ctx context.Context, t *targetState, d store.Delivery) completion {
	started := e.opts.Now()
	var (
		res   notify.Result
		m     notify.Message
		files filesOutcome
	)
	if err := json.Unmarshal(d.Message, &m); err != nil {
		res = notify.Result{Err: fmt.Errorf("decode stored message: %w", err)}
	} else {
		files = e.completeFiles(ctx, t.Retry, d, &m, started)
		switch {
		case files.filtered != "":
		case files.retry != nil:
			res = notify.Result{Err: files.retry, Retryable: true}
		default:
			m.Attempt = d.Attempts
			res = t.Notifier.Notify(ctx, &m)
		}
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
	var final string
	r.State, r.NextAttemptAt, final = e.next(t.Retry, d, res, finished)
	if files.filtered != "" {
		r.State, r.NextAttemptAt, r.Error = store.DeliveryFiltered, finished, files.filtered
	}
	if res.Err != nil && ctx.Err() != nil {
		// Cancelled by the shutdown, not failed by the target: retried,
		// never dead-lettered for it.
		r.State, r.NextAttemptAt = store.DeliveryPending, finished
	}
	r.Outcome = outcomeOf(r.State)
	return completion{result: r, target: t, pipeline: d.Pipeline, repository: m.Repository.FullName,
		final: final, ok: res.Err == nil, untried: files.filtered != "" || files.retry != nil}
}

// filesOutcome is what completing a message's changed-file list decided;
// zero: deliver the message (completed or not).
type filesOutcome struct {
	filtered string // why nothing is sent: the complete list matches no filter
	retry    error  // the provider could not be asked: retry the attempt
}

// completeFiles completes the changed-file list of m, a push whose match
// relied on a list the provider truncated or a pull request (whose events
// list no files; the list goes to m.PullRequest.Files), and re-evaluates
// the pipeline on it. A completed list replaces the one in m and in the stored message,
// so that retries and redeliveries send it without asking again; a list
// that cannot be had leaves m as it is. now is when the attempt started.
func (e *Engine) completeFiles(ctx context.Context, p Retry, d store.Delivery, m *notify.Message, now time.Time) filesOutcome {
	if e.opts.Files == nil || !m.FilesIncomplete || m.Push == nil && m.PullRequest == nil {
		return filesOutcome{}
	}
	log := e.opts.Log.With(zap.String("delivery", d.ID), zap.String("pipeline", d.Pipeline),
		zap.String("repository", m.Repository.FullName))
	if m.Push != nil {
		log = log.With(zap.String("ref", m.Push.Ref))
	} else {
		log = log.With(zap.Int("pullRequest", m.PullRequest.Number))
	}
	fctx, cancel := context.WithTimeout(ctx, e.opts.FilesTimeout)
	files, err := e.opts.Files.ChangedFiles(fctx, d, m)
	cancel()
	switch {
	case err == nil:
	case ctx.Err() != nil || errors.Is(err, providers.ErrProviderUnavailable) || errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("list the changed files: %w", err)
		if ctx.Err() != nil {
			return filesOutcome{retry: err} // shutting down
		}
		if state, _, _ := e.next(p, d, notify.Result{Err: err, Retryable: true}, now); state == store.DeliveryDead || d.Attempts >= e.opts.FilesAttempts {
			// A missed (or long delayed) build is worse than a spare one.
			log.Warn("could not list the changed files, and waits no longer for the provider: delivering with the files incomplete",
				zap.Int("attempt", d.Attempts), zap.Error(err))
			return filesOutcome{}
		}
		return filesOutcome{retry: err}
	default:
		log.Info("the changed files cannot be completed: delivering with the files incomplete", zap.Error(err))
		return filesOutcome{}
	}
	var matched, ok bool
	if router := e.opts.Router(); router != nil {
		if m.Push != nil {
			matched, ok = router.MatchesFiles(d.ConnectionID, m.Repository.FullName, d.Pipeline, m.Push, files)
		} else {
			matched, ok = router.MatchesPullRequestFiles(d.ConnectionID, m.Repository.FullName, d.Pipeline, m.PullRequest, files)
		}
	}
	if !ok {
		log.Info("the pipeline is no longer configured for this repository: delivering with the files incomplete")
		return filesOutcome{}
	}
	api := "compare API"
	if m.Push != nil {
		push := *m.Push
		push.Files, push.FilesIncomplete = files, false
		m.Push = &push
	} else {
		api = "pull request API"
		pr := *m.PullRequest
		pr.Files = &files
		m.PullRequest = &pr
	}
	m.FilesIncomplete = false
	if err := e.opts.Source.CompleteDeliveryFiles(ctx, d.ID, d.LeaseOwner, d.Attempts, m.JSON()); err != nil {
		// This attempt goes on with the complete list; a later one asks
		// the provider again.
		log.Warn("record the completed changed files", zap.Error(err))
	}
	if !matched {
		log.Info("no trigger filter matches the complete changed files: nothing is delivered", zap.Int("files", files.Len()))
		return filesOutcome{filtered: fmt.Sprintf("no changed file matched filePaths (full list of %d files from the %s)", files.Len(), api)}
	}
	log.Info("completed the changed files through the "+api, zap.Int("files", files.Len()))
	return filesOutcome{}
}

// next decides the delivery's state after an attempt, and when it is
// dead, why no attempt follows (final).
func (e *Engine) next(p Retry, d store.Delivery, res notify.Result, now time.Time) (state string, at time.Time, final string) {
	switch {
	case res.Err == nil:
		return store.DeliverySucceeded, now, ""
	case !res.Retryable:
		return store.DeliveryDead, now, notRetryable(res)
	case d.Attempts >= p.MaxAttempts:
		return store.DeliveryDead, now, fmt.Sprintf("attempts exhausted (retry.maxAttempts %d)", p.MaxAttempts)
	}
	wait := max(e.backoff(p, d.Attempts), min(res.RetryAfter, time.Hour))
	at = now.Add(wait)
	if at.Sub(d.CreatedAt) > p.MaxAge {
		return store.DeliveryDead, now, fmt.Sprintf("the next attempt would pass retry.maxAge %v", p.MaxAge)
	}
	return store.DeliveryPending, at, ""
}

// notRetryable says why a failed attempt is final.
func notRetryable(res notify.Result) string {
	switch {
	case res.ExitStatus != nil:
		return fmt.Sprintf("exit status %d is not in retryableExitCodes", *res.ExitStatus)
	case res.StatusCode != 0:
		return fmt.Sprintf("HTTP status %d is not retried (408, 429 and 5xx are)", res.StatusCode)
	}
	return "the failure is not retryable"
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
	case store.DeliveryFiltered:
		return "filtered"
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
	e.settling.Add(1)
	e.opts.Source.Settle(results, func(err error) {
		defer e.settling.Done()
		if err != nil {
			// The deliveries stay open in the store and are attempted
			// again (a lease expires, or the next start queues them):
			// at-least-once, never lost.
			e.opts.Log.Error("record attempts", zap.Int("attempts", len(batch)), zap.Error(err))
		}
		for _, c := range batch {
			e.logAttempt(c, err == nil)
		}
		if err == nil {
			for _, c := range batch {
				e.opts.Metrics.attempt(c)
			}
		}
	})
	e.mu.Lock()
	for _, c := range batch {
		e.settle(c)
	}
	e.closeIdleRetired()
	e.mu.Unlock()
	e.Wake() // slots are free, and QUEUED pipelines may release their next
}

// settle frees the attempt's slot and updates the breaker. e.mu held.
func (e *Engine) settle(c completion) {
	t := c.target
	t.active--
	if c.untried {
		return
	}
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
