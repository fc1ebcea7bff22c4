// Package hookreg keeps the webhooks forgelink registers at the providers
// right: one hook per repository that a connection's repository links or
// pipelines name, carrying the connection's URL and current webhook
// secret. It records each hook in the store (registered_hooks), repairs
// drift on a schedule, pushes a rotated secret to every hook (holding the
// previous secret valid until all carry the new one, but never past the
// rotation's overlap), moves hooks from former URL forms to the current
// one, removes hooks that nothing wants any more, and all of them when a
// connection is deleted.
//
// Daemons sharing one database coordinate through a lease per
// (connection, repository) row: only the holder calls the provider.
package hookreg

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/providers"
	"github.com/forgelink/forgelink/store"
)

// Hooks manages forgelink's hooks at one provider with one connection's
// credential (providers/github.Hooks, providers/gitlab.Hooks,
// providers/bitbucket.Hooks).
type Hooks interface {
	Ensure(ctx context.Context, repository string, spec providers.HookSpec) (providers.Hook, error)
	Delete(ctx context.Context, repository, id string) error
}

// Store is what the reconciler needs from persistence.
type Store interface {
	GetConnection(ctx context.Context, id string) (store.Connection, error)
	ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, error)
	LinkedRepositories(ctx context.Context, connID string) ([]string, error)
	RegisteredHooks(ctx context.Context, connID string) ([]store.RegisteredHook, error)
	ClaimHook(ctx context.Context, connID, repository, owner string, now, until time.Time) (store.RegisteredHook, bool, error)
	CompleteHook(ctx context.Context, h store.RegisteredHook) error
	ReleaseHook(ctx context.Context, connID, repository, owner string) error
	DeleteRegisteredHook(ctx context.Context, connID, repository, owner string) error
	DeleteRegisteredHooks(ctx context.Context, connID string) error
	HoldPreviousWebhookSecrets(ctx context.Context, connID string, now, until time.Time) error
	WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error)
}

// Options configure a Reconciler.
type Options struct {
	Store Store
	// Hooks returns the provider client for conn. Nil Hooks and nil error:
	// the connection needs no repository hooks (a GitHub App connection
	// receives the App's webhooks).
	Hooks func(ctx context.Context, conn store.Connection) (Hooks, error)
	// Secret returns the connection's current webhook secret and its
	// version (store.WebhookSecret.CreatedAt).
	Secret func(ctx context.Context, connID string) (string, time.Time, error)
	// WebhookURL is the connection's webhook URL.
	WebhookURL func(connID string) string
	// FormerURLs are URLs the connection's hooks may still carry from an
	// older URL form; such hooks are moved to WebhookURL, not duplicated.
	// Optional.
	FormerURLs func(connID string) []string
	// SecretOverlap caps how long after a rotation the previous secret
	// may be held valid for hooks that still carry it (24 hours if zero);
	// past it they are reported as failing.
	SecretOverlap time.Duration
	// Registerer takes the registry's metrics; optional.
	Registerer prometheus.Registerer
	// Repositories lists the repositories the configured pipelines name on
	// the connection, besides those of its links; nil: none.
	Repositories func(connID string) []string
	// MarkError puts the connection in ERROR with reason.
	MarkError func(ctx context.Context, connID, reason string)
	Log       *zap.Logger
	Now       func() time.Time
	// Interval is the period of full reconciles; 10 minutes if zero.
	Interval time.Duration
	// Owner names this daemon in leases; a random id if empty.
	Owner string
}

// Timing. A hook checked less than Interval/2 ago is left alone; a failing
// one waits Interval/2, doubling per failure up to maxBackoff. A lease
// outlives the provider calls it covers. The previous secret is held for
// holdRounds intervals at a time, so a daemon that stops holding it lets
// it lapse soon after.
const (
	hookTimeout  = time.Minute
	leaseFor     = 2 * hookTimeout
	maxBackoff   = 6 * time.Hour
	holdRounds   = 3
	maxLastError = 500
)

// Reconciler keeps the hooks of AVAILABLE connections as they should be.
type Reconciler struct {
	o    Options
	wake chan struct{}

	mu sync.Mutex
	// pending are the connections Sync or Recheck asked for, with the time
	// of the latest Recheck (zero for Sync alone); recheckAll the time of
	// the latest RecheckAll.
	pending    map[string]time.Time
	recheckAll time.Time
	stale      map[string]int // per connection, hooks carrying an expired secret
	staleG     prometheus.Gauge
}

// New returns a Reconciler; Run starts it.
func New(o Options) *Reconciler {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Minute
	}
	if o.Owner == "" {
		o.Owner = uuid.NewString()
	}
	if o.Repositories == nil {
		o.Repositories = func(string) []string { return nil }
	}
	if o.FormerURLs == nil {
		o.FormerURLs = func(string) []string { return nil }
	}
	if o.SecretOverlap <= 0 {
		o.SecretOverlap = DefaultSecretOverlap
	}
	r := &Reconciler{o: o, wake: make(chan struct{}, 1), pending: map[string]time.Time{}, stale: map[string]int{},
		staleG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgelink_hooks_stale_secret",
			Help: "Registered webhooks that still carry a webhook secret no longer accepted (the update failed past the rotation's overlap, or the secret was revoked): their deliveries are refused.",
		})}
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.staleG)
	}
	return r
}

// DefaultSecretOverlap is the longest a previous secret is held valid
// after a rotation, as webhooks.secretOverlap's default.
const DefaultSecretOverlap = 24 * time.Hour

// Run reconciles every AVAILABLE connection each Interval, and the
// connections Sync, Recheck and RecheckAll name as soon as it can, until
// ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	r.reconcileAll(ctx, trigger{})
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reconcileAll(ctx, trigger{})
		case <-r.wake:
			r.reconcilePending(ctx)
		}
	}
}

// reconcilePending reconciles what Sync, Recheck and RecheckAll asked for.
func (r *Reconciler) reconcilePending(ctx context.Context) {
	ids, all := r.takePending()
	if !all.IsZero() {
		r.reconcileAll(ctx, trigger{onDemand: true, since: all})
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		r.logged(ctx, id, trigger{onDemand: true, since: ids[id]})
	}
}

// trigger is why a connection is reconciled: on schedule, or on demand,
// when failing hooks do not wait out their backoff; since, when not zero,
// is the time of a trigger after which every hook is asked at the
// provider again, however recently it was checked.
type trigger struct {
	onDemand bool
	since    time.Time
}

// Sync asks Run for a prompt reconcile of one connection: a link was
// created or removed, or its secret rotated. Hooks checked recently are
// left alone. It never blocks.
func (r *Reconciler) Sync(connID string) {
	r.request(connID, time.Time{})
}

// Recheck asks Run for a prompt reconcile of one connection in which every
// hook is asked at the provider again, checked recently or not: the
// connection was set up again or became AVAILABLE, so what the provider
// holds may have changed behind forgelink's back. It never blocks.
func (r *Reconciler) Recheck(connID string) {
	r.request(connID, r.o.Now())
}

// RecheckAll asks Run for a prompt reconcile of every AVAILABLE
// connection, every hook asked at the provider again, and the hooks that
// nothing wants any more removed: the operator reloaded the configuration
// (SIGHUP), perhaps to repair hooks or after removing pipelines. It never
// blocks.
func (r *Reconciler) RecheckAll() {
	r.mu.Lock()
	r.recheckAll = r.o.Now()
	r.mu.Unlock()
	r.wakeRun()
}

func (r *Reconciler) request(connID string, since time.Time) {
	r.mu.Lock()
	if prev, ok := r.pending[connID]; !ok || since.After(prev) {
		r.pending[connID] = since
	}
	r.mu.Unlock()
	r.wakeRun()
}

func (r *Reconciler) wakeRun() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// takePending returns and forgets what was asked for since the last call.
func (r *Reconciler) takePending() (map[string]time.Time, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids, all := r.pending, r.recheckAll
	r.pending, r.recheckAll = map[string]time.Time{}, time.Time{}
	return ids, all
}

// Reconcile brings the connection's hooks in line now, retrying failed
// ones without waiting out their backoff.
func (r *Reconciler) Reconcile(ctx context.Context, connID string) error {
	return r.reconcile(ctx, connID, trigger{onDemand: true})
}

func (r *Reconciler) reconcileAll(ctx context.Context, why trigger) {
	p := store.Page{Limit: 100}
	for ctx.Err() == nil {
		conns, err := r.o.Store.ListConnections(ctx, store.ConnectionFilter{}, p)
		if err != nil {
			r.o.Log.Warn("webhook reconcile: list connections", zap.Error(err))
			return
		}
		for _, c := range conns {
			if c.Status == store.StatusAvailable {
				r.logged(ctx, c.ID, why)
			}
		}
		if len(conns) < p.Limit {
			return
		}
		p.After = conns[len(conns)-1].ID
	}
}

func (r *Reconciler) logged(ctx context.Context, connID string, why trigger) {
	if err := r.reconcile(ctx, connID, why); err != nil {
		r.o.Log.Warn("webhook reconcile failed", zap.String("connection", connID), zap.Error(err))
	}
}

// round is one reconcile of one connection.
type round struct {
	*Reconciler
	conn    store.Connection
	hooks   Hooks
	secret  string
	version time.Time // of secret
	url     string
	former  []string
	why     trigger
}

func (r *Reconciler) reconcile(ctx context.Context, connID string, why trigger) error {
	conn, err := r.o.Store.GetConnection(ctx, connID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("reconcile hooks of %s: %w", connID, err)
	}
	if conn.Status != store.StatusAvailable {
		return nil // the provider cannot be asked on its behalf
	}
	hooks, err := r.o.Hooks(ctx, conn)
	if err != nil || hooks == nil {
		return wrapIf("provider client for "+connID, err)
	}
	secret, version, err := r.o.Secret(ctx, connID)
	if err != nil {
		return fmt.Errorf("webhook secret of %s: %w", connID, err)
	}
	rd := &round{Reconciler: r, conn: conn, hooks: hooks, secret: secret, version: version,
		url: r.o.WebhookURL(connID), former: r.o.FormerURLs(connID), why: why}
	return rd.run(ctx)
}

func (rd *round) run(ctx context.Context) error {
	want, err := rd.desired(ctx)
	if err != nil {
		return err
	}
	rows, err := rd.o.Store.RegisteredHooks(ctx, rd.conn.ID)
	if err != nil {
		return err
	}
	have := make(map[string]store.RegisteredHook, len(rows))
	for _, h := range rows {
		have[h.Repository] = h
	}
	var errs []error
	for _, repo := range want {
		if h, ok := have[repo]; ok && !rd.due(h) {
			continue
		}
		err := rd.ensure(ctx, repo)
		if errors.Is(err, errTokenRefused) {
			return err // every further call would be refused too
		}
		errs = append(errs, err)
	}
	for _, h := range rows {
		if !slices.Contains(want, h.Repository) {
			errs = append(errs, rd.remove(ctx, h.Repository))
		}
	}
	errs = append(errs, rd.holdIfBehind(ctx))
	return errors.Join(errs...)
}

// desired is the connection's repositories, in RepositoryKey form, sorted
// and without duplicates.
func (rd *round) desired(ctx context.Context) ([]string, error) {
	linked, err := rd.o.Store.LinkedRepositories(ctx, rd.conn.ID)
	if err != nil {
		return nil, err
	}
	want := slices.Clone(linked)
	for _, repo := range rd.o.Repositories(rd.conn.ID) {
		want = append(want, store.RepositoryKey(repo))
	}
	slices.Sort(want)
	return slices.Compact(want), nil
}

// due reports whether h needs the provider asked: never checked, aimed at
// another URL, carrying an older secret, failing and past its backoff,
// last checked half an interval ago, or not since a recheck was asked
// for. A failing hook waits out its backoff even for a new secret, except
// on demand.
func (rd *round) due(h store.RegisteredHook) bool {
	now := rd.o.Now()
	if h.State == store.HookError && !rd.why.onDemand && now.Before(h.CheckedAt.Add(rd.backoff(h.Failures))) {
		return false
	}
	return h.State != store.HookOK || h.URL != rd.url || !h.SecretCreatedAt.Equal(rd.version) ||
		!now.Before(h.CheckedAt.Add(rd.o.Interval/2)) || rd.recheck(h)
}

// recheck reports whether h was last checked no later than a recheck was
// asked for. Another daemon's check after that satisfies it.
func (rd *round) recheck(h store.RegisteredHook) bool {
	return !rd.why.since.IsZero() && !h.CheckedAt.After(rd.why.since)
}

func (r *Reconciler) backoff(failures int) time.Duration {
	d := r.o.Interval / 2
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// errTokenRefused marks a round ended because the provider refused the
// connection's credential.
var errTokenRefused = errors.New("the provider refused the connection's credential")

// ensure claims repo's row and, if it is still due once claimed (another
// daemon may have just done it), ensures the hook and records the outcome.
func (rd *round) ensure(ctx context.Context, repo string) error {
	now := rd.o.Now()
	h, claimed, err := rd.o.Store.ClaimHook(ctx, rd.conn.ID, repo, rd.o.Owner, now, now.Add(leaseFor))
	if err != nil || !claimed {
		return err
	}
	if !rd.due(h) {
		return rd.o.Store.ReleaseHook(ctx, rd.conn.ID, repo, rd.o.Owner)
	}
	callCtx, cancel := context.WithTimeout(ctx, hookTimeout)
	got, err := rd.hooks.Ensure(callCtx, repo, providers.HookSpec{
		URL: rd.url, Secret: rd.secret, SecretCurrent: h.SecretCreatedAt.Equal(rd.version) && h.HookID != "",
		FormerURLs: rd.former,
	})
	cancel()
	h.CheckedAt = rd.o.Now()
	if err != nil {
		h.State, h.LastError, h.Failures = store.HookError, lastError(err), h.Failures+1
		return rd.failed(ctx, h, err)
	}
	h.HookID, h.URL, h.SecretCreatedAt = got.ID, rd.url, rd.version
	h.State, h.LastError, h.Failures = store.HookOK, "", 0
	if got.Created || got.Updated || got.Removed > 0 {
		rd.o.Log.Info("webhook repaired", zap.String("connection", rd.conn.ID), zap.String("repository", repo),
			zap.String("hook", got.ID), zap.Bool("created", got.Created), zap.Bool("updated", got.Updated),
			zap.Int("duplicates_removed", got.Removed))
	}
	return rd.o.Store.CompleteHook(ctx, h)
}

// failed records a failed attempt. A 401 means the credential itself is
// refused: the connection goes to ERROR. A 403 is this repository's
// problem (the credential may not manage its hooks), kept on its row.
func (rd *round) failed(ctx context.Context, h store.RegisteredHook, err error) error {
	rd.o.Log.Warn("webhook not ensured", zap.String("connection", rd.conn.ID), zap.String("repository", h.Repository),
		zap.Int("failures", h.Failures), zap.Error(err))
	recErr := rd.o.Store.CompleteHook(ctx, h)
	if !unauthorized(err) {
		return errors.Join(fmt.Errorf("hook on %s: %w", h.Repository, err), recErr)
	}
	if rd.o.MarkError != nil {
		rd.o.MarkError(ctx, rd.conn.ID, "the provider answered 401 while registering webhooks: reconnect the connection")
	}
	return errors.Join(fmt.Errorf("hook on %s: %w: %w", h.Repository, errTokenRefused, err), recErr)
}

func unauthorized(err error) bool {
	var status *providers.StatusError
	if errors.As(err, &status) {
		return status.StatusCode == 401
	}
	return errors.Is(err, providers.ErrTokenRejected)
}

// remove deletes the hook of a repository nothing wants any more, then its
// row. A failure keeps the row (in error) for the next round.
func (rd *round) remove(ctx context.Context, repo string) error {
	now := rd.o.Now()
	h, claimed, err := rd.o.Store.ClaimHook(ctx, rd.conn.ID, repo, rd.o.Owner, now, now.Add(leaseFor))
	if err != nil || !claimed {
		return err
	}
	if h.HookID != "" {
		callCtx, cancel := context.WithTimeout(ctx, hookTimeout)
		err = rd.hooks.Delete(callCtx, repo, h.HookID)
		cancel()
	}
	if err != nil {
		h.CheckedAt, h.State, h.LastError, h.Failures = rd.o.Now(), store.HookError, lastError(err), h.Failures+1
		return rd.failed(ctx, h, err)
	}
	rd.o.Log.Info("webhook removed", zap.String("connection", rd.conn.ID), zap.String("repository", repo), zap.String("hook", h.HookID))
	return rd.o.Store.DeleteRegisteredHook(ctx, rd.conn.ID, repo, rd.o.Owner)
}

// holdIfBehind keeps the previous secret valid while a hook at the
// provider still carries it, but never past SecretOverlap from the
// rotation (the current secret's creation), so that a leaked secret can
// be revoked: a secret rotated with no overlap (--revoke-now) is never
// held at all. Hooks left carrying a secret that is no longer valid are
// reported: a log line each and the stale-secret gauge.
func (rd *round) holdIfBehind(ctx context.Context) error {
	rows, err := rd.o.Store.RegisteredHooks(ctx, rd.conn.ID)
	if err != nil {
		return err
	}
	behind := slices.DeleteFunc(rows, func(h store.RegisteredHook) bool {
		return h.HookID == "" || h.SecretCreatedAt.Equal(rd.version)
	})
	if len(behind) == 0 {
		rd.Reconciler.setStale(rd.conn.ID, 0)
		return nil
	}
	now := rd.o.Now()
	valid, err := rd.o.Store.WebhookSecrets(ctx, rd.conn.ID, now)
	if err != nil {
		return err
	}
	if len(valid) < 2 { // the previous secret has expired or was revoked
		rd.reportStale(behind)
		return nil
	}
	rd.Reconciler.setStale(rd.conn.ID, 0)
	limit := rd.version.Add(rd.o.SecretOverlap)
	if !now.Before(limit) {
		return nil // it expires when the rotation said, not later
	}
	until := now.Add(holdRounds * rd.o.Interval)
	if until.After(limit) {
		until = limit
	}
	return rd.o.Store.HoldPreviousWebhookSecrets(ctx, rd.conn.ID, now, until)
}

func (rd *round) reportStale(behind []store.RegisteredHook) {
	for _, h := range behind {
		rd.o.Log.Warn("webhook carries a secret that is no longer accepted: its deliveries are refused until it is updated",
			zap.String("connection", rd.conn.ID), zap.String("repository", h.Repository), zap.String("hook", h.HookID),
			zap.String("last_error", h.LastError))
	}
	rd.Reconciler.setStale(rd.conn.ID, len(behind))
}

// setStale records the connection's count of stale hooks in the gauge.
func (r *Reconciler) setStale(connID string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n == 0 {
		delete(r.stale, connID)
	} else {
		r.stale[connID] = n
	}
	total := 0
	for _, n := range r.stale {
		total += n
	}
	r.staleG.Set(float64(total))
}

// RemoveAll deletes every hook forgelink registered for conn, before conn
// is deleted, and forgets them all, including those the provider could
// not be made to delete (the error says which).
func (r *Reconciler) RemoveAll(ctx context.Context, conn store.Connection) error {
	rows, err := r.o.Store.RegisteredHooks(ctx, conn.ID)
	if err != nil || len(rows) == 0 {
		return wrapIf("hooks of "+conn.ID, err)
	}
	var errs []error
	hooks, err := r.o.Hooks(ctx, conn)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("provider client: %w", err))
	case hooks != nil:
		for _, h := range rows {
			if h.HookID == "" {
				continue
			}
			callCtx, cancel := context.WithTimeout(ctx, hookTimeout)
			if err := hooks.Delete(callCtx, h.Repository, h.HookID); err != nil {
				errs = append(errs, fmt.Errorf("hook %s on %s: %w", h.HookID, h.Repository, err))
			}
			cancel()
		}
	}
	errs = append(errs, r.o.Store.DeleteRegisteredHooks(ctx, conn.ID))
	return wrapIf("remove hooks of "+conn.ID, errors.Join(errs...))
}

func wrapIf(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func lastError(err error) string {
	s := err.Error()
	if len(s) > maxLastError {
		s = s[:maxLastError-3] + "..."
	}
	return s
}
