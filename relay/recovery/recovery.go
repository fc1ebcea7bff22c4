// Package recovery finds the webhooks forgelink never received and gets
// them delivered after all. GitHub never retries a failed delivery, so
// each round reads the delivery log of every hook forgelink relies on
// (the App's hook and the repository hooks it registered), from where the
// previous round stopped, and asks GitHub to redeliver the events that
// forgelink never recorded; the redelivery arrives as an ordinary,
// verified, de-duplicated webhook. Refs of pipelines whose hook cannot be
// read (403/404), or that ask for it (recovery.poll), are polled instead:
// a head that moved without a recorded push becomes a synthesised push.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// HookLog is one hook's delivery log at its provider
// (providers/github.DeliveryLog).
type HookLog interface {
	// Deliveries lists the attempts newer than since, newest first.
	Deliveries(ctx context.Context, since time.Time) ([]providers.HookDelivery, error)
	// Redeliver asks the provider to make attempt id again.
	Redeliver(ctx context.Context, id string) error
}

// HeadReader reads the head of a ref (providers/github.Heads): last is
// the head seen before, which a conditional request may answer unchanged.
type HeadReader interface {
	Head(ctx context.Context, repository, ref, last string) (string, error)
}

// Hook is a hook whose delivery log a round reads.
type Hook struct {
	Key      string // store.RecoveryHook.Key
	Provider string // store.Provider*
	// ConnectionIDs are the connections whose recorded delivery ids an
	// event of this hook would be under: the repository hook's connection,
	// or every connection of an App's installations.
	ConnectionIDs []string
	// App: the hook delivers events of installations forgelink may not
	// serve, which it never records; only attempts that all failed count
	// as missed.
	App bool
	// Retention is how far back the provider keeps deliveries (3 days on
	// github.com, 7 on GHES).
	Retention time.Duration
	Log       HookLog
	// Gap is the least pause before each redelivery of this hook, when
	// longer than RedeliverGap (GitLab: 5 resends a minute).
	Gap time.Duration
}

// Watch is a ref a pipeline watches, polled when Poll is set or its hook
// (HookKey) is unrecoverable.
type Watch struct {
	ConnectionID string
	Provider     string
	Repository   string
	Ref          string // refs/heads/<branch> or refs/tags/<tag>
	HookKey      string // "" when forgelink manages no hook for it
	Poll         bool
	Heads        HeadReader
}

// Source names what a round checks: built from the store, the
// configuration and the connections' credentials (the wiring).
type Source interface {
	Hooks(ctx context.Context) ([]Hook, error)
	Watches(ctx context.Context) ([]Watch, error)
}

// Store is what recovery keeps and reads.
type Store interface {
	GetRecoveryHook(ctx context.Context, key string) (store.RecoveryHook, error)
	PutRecoveryHook(ctx context.Context, h store.RecoveryHook) error
	// RecordedDeliveries returns which of guids are recorded as delivery
	// ids on any of connIDs.
	RecordedDeliveries(ctx context.Context, connIDs, guids []string) (map[string]bool, error)
	// Redeliveries returns how often each of guids was asked for again.
	Redeliveries(ctx context.Context, hookKey string, guids []string) (map[string]int, error)
	AddRedelivery(ctx context.Context, hookKey, guid string, at time.Time) error
	GetRecoveryHead(ctx context.Context, connID, repository, ref string) (store.RecoveryHead, error)
	PutRecoveryHead(ctx context.Context, h store.RecoveryHead) error
	ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error)
}

// SyntheticPush is a push forgelink saw only as a moved head.
type SyntheticPush struct {
	ConnectionID string
	Provider     string
	Repository   string
	Ref          string
	Before       string // the head seen before
	After        string
}

// Options configure a Recoverer.
type Options struct {
	Store  Store
	Source Source
	// Synthesize records p as a push event marked synthesized and routes
	// it like a webhook's.
	Synthesize func(ctx context.Context, p SyntheticPush) error
	// MarkError puts a connection whose credential the provider refused
	// (401) in ERROR with reason.
	MarkError func(ctx context.Context, connID, reason string)
	Metrics   *Metrics // optional
	Log       *zap.Logger
	Now       func() time.Time
	// Sleep waits d or until ctx ends; time.Sleep's behaviour if nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Interval between readings of the delivery logs; 15 minutes if zero.
	Interval time.Duration
	// PollInterval between polls of the watched refs; Interval if zero.
	PollInterval time.Duration
	// RedeliverGap is the pause between two redeliveries: GitHub asks for
	// at least a second between mutating calls.
	RedeliverGap time.Duration
	// PollBudget caps, per provider type, the head reads per connection
	// and hour (Bitbucket Cloud: 1,000 requests an hour in all); refs over
	// it wait for a later round, the least recently read first. Providers
	// not named have no cap.
	PollBudget map[string]int
}

// Limits of one round.
const (
	// maxRedeliveries: an event redelivered this often while forgelink
	// was up was refused each time (a body it cannot take); asking again
	// would loop until the provider forgets it.
	maxRedeliveries = 3
	// maxRateWaits bounds the waits for one call's rate limit.
	maxRateWaits = 3
	// maxRateWait: a longer wait ends the round; the next one resumes.
	maxRateWait = time.Hour
	// recheckUnrecoverable: a hook the provider refused is asked again
	// after this long (admin rights may have been granted since).
	recheckUnrecoverable = 24 * time.Hour
)

// Recoverer runs recovery rounds.
type Recoverer struct {
	o    Options
	wake chan struct{}

	mu             sync.Mutex
	warned         map[string]bool // unrecoverable hooks already logged
	unrecoverable  map[string]bool // by hook key, as the last log round found
	lastPolled     map[string]time.Time
	lastRedelivery time.Time
}

// New returns a Recoverer; Run starts its rounds.
func New(o Options) *Recoverer {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Interval <= 0 {
		o.Interval = 15 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = o.Interval
	}
	if o.RedeliverGap <= 0 {
		o.RedeliverGap = time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return &Recoverer{o: o, wake: make(chan struct{}, 1), warned: map[string]bool{}, unrecoverable: map[string]bool{},
		lastPolled: map[string]time.Time{}}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run reads the delivery logs at once (a start is a gap in ingress),
// then every Interval and whenever Trigger asks, and polls the watched
// refs every PollInterval, until ctx ends.
func (r *Recoverer) Run(ctx context.Context) {
	t := time.NewTicker(min(r.o.PollInterval, r.o.Interval))
	defer t.Stop()
	logsDue, lastLogs := true, time.Time{}
	for {
		if logsDue {
			lastLogs = r.o.Now()
		}
		r.round(ctx, logsDue)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			logsDue = r.o.Now().Sub(lastLogs) >= r.o.Interval
		case <-r.wake:
			logsDue = true
		}
	}
}

// Trigger asks Run for a round soon: ingress saw a gap (the store was
// unavailable). It never blocks.
func (r *Recoverer) Trigger() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stats is what one round did.
type Stats struct {
	Hooks         int // delivery logs read
	Listed        int // attempts listed
	Missed        int // events found missed
	Redelivered   int
	Unrecoverable int // hooks whose log the provider refuses
	Polled        int // refs read
	Deferred      int // refs left for a later round by a provider's budget
	Synthesized   int
	Failed        int // hooks and refs that could not be checked
	failedBy      map[string]bool
}

func (s *Stats) fail(provider string) {
	s.Failed++
	if s.failedBy == nil {
		s.failedBy = map[string]bool{}
	}
	s.failedBy[provider] = true
}

// Round checks every hook and polled ref once and reports what it did.
func (r *Recoverer) Round(ctx context.Context) Stats {
	return r.round(ctx, true)
}

// round polls the watched refs, and reads the delivery logs first when
// logs is set; between log rounds, refs of hooks known unrecoverable are
// polled.
func (r *Recoverer) round(ctx context.Context, logs bool) Stats {
	start := r.o.Now()
	var st Stats
	providersSeen := map[string]bool{}
	var hooks []Hook
	var err error
	if logs {
		hooks, err = r.o.Source.Hooks(ctx)
	}
	if err != nil {
		r.o.Log.Warn("recovery: cannot list hooks", zap.Error(err))
		st.fail("all")
	}
	unrecoverable := r.knownUnrecoverable()
	for _, h := range hooks {
		if ctx.Err() != nil {
			break
		}
		providersSeen[h.Provider] = true
		unrecoverable[h.Key] = r.checkHook(ctx, h, &st)
	}
	r.setUnrecoverable(unrecoverable)
	watches, err := r.o.Source.Watches(ctx)
	if err != nil {
		r.o.Log.Warn("recovery: cannot list watched refs", zap.Error(err))
		st.fail("all")
	}
	for _, w := range r.due(watches, unrecoverable, &st) {
		if ctx.Err() != nil {
			break
		}
		providersSeen[w.Provider] = true
		r.poll(ctx, w, &st)
	}
	r.o.Metrics.round(providersSeen, st)
	r.o.Log.Info("recovery round",
		zap.Int("hooks", st.Hooks), zap.Int("listed", st.Listed), zap.Int("missed", st.Missed),
		zap.Int("redelivered", st.Redelivered), zap.Int("unrecoverable", st.Unrecoverable),
		zap.Int("polled", st.Polled), zap.Int("deferred", st.Deferred), zap.Int("synthesized", st.Synthesized), zap.Int("failed", st.Failed),
		zap.Duration("took", r.o.Now().Sub(start)))
	return st
}

func (r *Recoverer) knownUnrecoverable() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.unrecoverable)
}

func (r *Recoverer) setUnrecoverable(m map[string]bool) {
	maps.DeleteFunc(m, func(_ string, v bool) bool { return !v })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unrecoverable = m
}

// call runs f, waiting out the rate limits it reports.
func (r *Recoverer) call(ctx context.Context, f func() error) error {
	for waits := 0; ; waits++ {
		err := f()
		var rl *providers.RateLimitError
		if !errors.As(err, &rl) || waits >= maxRateWaits || rl.Wait > maxRateWait {
			return err
		}
		r.o.Log.Info("recovery: rate limited, waiting", zap.Duration("wait", rl.Wait))
		if err := r.o.Sleep(ctx, rl.Wait); err != nil {
			return fmt.Errorf("recovery: %w", err)
		}
	}
}

// refused handles a provider's refusal of a connection's credential.
func (r *Recoverer) refused(ctx context.Context, connIDs []string, what string, err error) bool {
	if !errors.Is(err, providers.ErrTokenRejected) || r.o.MarkError == nil {
		return false
	}
	reason := "the provider refused the connection's credential (HTTP 401) when recovery read " + what +
		"; update its credential or set up the connection again"
	for _, id := range connIDs {
		r.o.MarkError(ctx, id, reason)
	}
	return true
}
