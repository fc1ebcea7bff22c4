// Package retention prunes what the store keeps of finished work: events
// older than an age, and the oldest events while the store is over a size
// limit, with their deliveries and attempts. Which events may go is the
// store's rule (store.PruneRequest): never one with work still to do. The
// pruner works in small batches with a pause between them, off the hot
// path: on SQLite every batch waits its turn on the single writer, like
// the ingest it must not slow down.
package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// Store is what the pruner needs from the store.
type Store interface {
	PruneEvents(ctx context.Context, req store.PruneRequest) (store.PruneResult, error)
	StoreUsage(ctx context.Context) (store.Usage, error)
	// ReclaimSpace gives some free space back to the file system and
	// reports how much is still free (in the store's units); a store that
	// has nothing to give back reports 0.
	ReclaimSpace(ctx context.Context) (free int64, err error)
}

// Policy is what to keep. Zero fields keep everything they govern.
type Policy struct {
	MaxAge   time.Duration // events received longer ago are pruned
	MaxBytes int64         // the oldest events are pruned while the store holds more
	DeadAge  time.Duration // a dead delivery keeps its event this long after it died
}

// Defaults of Options. A batch of 100 events of a few KiB takes 5-10 ms
// on SQLite; at a tenth of the writer's time the pruner still removes
// over a thousand events a second.
const (
	DefaultInterval = time.Minute
	DefaultBatch    = 100
	DefaultPause    = 10 * time.Millisecond
	DefaultDuty     = 0.1
)

// Options configure a Pruner.
type Options struct {
	Store  Store
	Policy Policy
	Now    func() time.Time
	Log    *zap.Logger
	// Registerer takes the metrics; optional.
	Registerer prometheus.Registerer
	Interval   time.Duration // between rounds
	Batch      int           // events per transaction
	// Pause is the least time between two batches (or vacuum steps), so
	// that writes queued meanwhile go first; Duty stretches it so that
	// batches take at most that share of the time (0 < Duty <= 1).
	Pause time.Duration
	Duty  float64
}

// Pruner runs retention rounds.
type Pruner struct {
	o          Options
	m          metrics
	overWarned bool // the store is over its limit with nothing left to prune: said once
}

// New returns a Pruner; Store, Now and Log are required.
func New(o Options) *Pruner {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Duty <= 0 || o.Duty > 1 {
		o.Duty = DefaultDuty
	}
	return &Pruner{o: o, m: newMetrics(o.Registerer)}
}

// Run runs a round at once and then every Interval, until ctx ends. A
// failed round is logged and the next one tries again.
func (p *Pruner) Run(ctx context.Context) {
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		if _, err := p.Round(ctx); err != nil && ctx.Err() == nil {
			p.o.Log.Warn("retention round failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Result is what a round removed.
type Result struct {
	ByAge, BySize store.PruneResult // Last is the last event of each pass
	Usage         store.Usage       // after the round
}

// Round prunes by age, then by size, gives the space back and updates the
// metrics. It logs one line when it removed anything.
func (p *Pruner) Round(ctx context.Context) (Result, error) {
	start, now := time.Now(), p.o.Now()
	var (
		res  Result
		err  error
		base store.PruneRequest
	)
	if p.o.Policy.DeadAge > 0 {
		base.DeadBefore = now.Add(-p.o.Policy.DeadAge)
	}
	if p.o.Policy.MaxAge > 0 {
		req := base
		req.Before = now.Add(-p.o.Policy.MaxAge)
		if res.ByAge, err = p.prune(ctx, req, "age", nil); err != nil {
			return res, err
		}
	}
	if res.Usage, err = p.usage(ctx); err != nil {
		return res, err
	}
	if p.o.Policy.MaxBytes > 0 && res.Usage.Bytes > p.o.Policy.MaxBytes {
		req := base
		req.BySize = true
		if res.BySize, err = p.prune(ctx, req, "size", &res.Usage); err != nil {
			return res, err
		}
	}
	p.warnOver(res.Usage)
	if res.ByAge.Events+res.BySize.Events > 0 {
		if err := p.reclaim(ctx); err != nil {
			return res, err
		}
	}
	if res.Usage, err = p.usage(ctx); err != nil {
		return res, err
	}
	p.report(res, time.Since(start))
	return res, nil
}

// usage measures the store and shows it in the metrics at once: a first
// round with much to prune takes minutes.
func (p *Pruner) usage(ctx context.Context) (store.Usage, error) {
	u, err := p.o.Store.StoreUsage(ctx)
	if err == nil {
		p.m.bytes.Set(float64(u.Bytes))
		p.m.events.Set(float64(u.Events))
	}
	return u, err
}

// prune runs batches of req until one comes back short or, by size
// (usage given), until the store is under its limit by the pruned rows'
// sizes. The next round measures again.
func (p *Pruner) prune(ctx context.Context, req store.PruneRequest, reason string, usage *store.Usage) (store.PruneResult, error) {
	var total store.PruneResult
	for {
		req.Limit = p.o.Batch
		if usage != nil {
			req.Limit = p.sizeBatch(*usage)
		}
		began := time.Now()
		r, err := p.o.Store.PruneEvents(ctx, req)
		took := time.Since(began)
		if err != nil {
			return total, fmt.Errorf("prune by %s: %w", reason, err)
		}
		total = add(total, r)
		p.m.prunedEvents.WithLabelValues(reason).Add(float64(r.Events))
		p.m.prunedBytes.Add(float64(r.Bytes))
		if usage != nil {
			usage.Bytes -= r.Bytes
			usage.Events -= int64(r.Events)
		}
		if r.Events < req.Limit || (usage != nil && usage.Bytes <= p.o.Policy.MaxBytes) {
			return total, nil
		}
		req.After = r.Last
		if err := p.pause(ctx, took); err != nil {
			return total, err
		}
	}
}

// sizeBatch is about as many of the oldest events as bring the store under
// its limit, at their average size, within the batch size.
func (p *Pruner) sizeBatch(u store.Usage) int {
	avg := u.Bytes / max(u.Events, 1)
	need := (u.Bytes-p.o.Policy.MaxBytes)/max(avg, 1) + 1
	return int(min(max(need, 1), int64(p.o.Batch)))
}

// warnOver says once that the store stays over its size limit because
// what is left may not be pruned (open work, dead deliveries kept).
func (p *Pruner) warnOver(u store.Usage) {
	over := p.o.Policy.MaxBytes > 0 && u.Bytes > p.o.Policy.MaxBytes
	if over && !p.overWarned {
		p.o.Log.Warn("store is over retention.maxBytes and nothing left in it may be pruned (open or dead deliveries, held events)",
			zap.Int64("bytes", u.Bytes), zap.Int64("max_bytes", p.o.Policy.MaxBytes))
	}
	p.overWarned = over
}

// reclaim gives free space back until none is left or the store stops
// giving any (SQLite not in incremental auto_vacuum mode reuses it instead).
func (p *Pruner) reclaim(ctx context.Context) error {
	prev := int64(-1)
	for {
		began := time.Now()
		free, err := p.o.Store.ReclaimSpace(ctx)
		if err != nil || free == 0 || free == prev {
			return err
		}
		prev = free
		if err := p.pause(ctx, time.Since(began)); err != nil {
			return err
		}
	}
}

// pause waits after a step that took took: at least Pause, and long
// enough that steps take at most Duty of the time.
func (p *Pruner) pause(ctx context.Context, took time.Duration) error {
	d := max(p.o.Pause, time.Duration(float64(took)*(1-p.o.Duty)/p.o.Duty))
	if p.o.Pause <= 0 {
		return ctx.Err() // tests: no pacing
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *Pruner) report(res Result, took time.Duration) {
	all := add(res.ByAge, res.BySize)
	if all.Events == 0 {
		return
	}
	p.o.Log.Info("pruned old events",
		zap.Int("events", all.Events), zap.Int("by_age", res.ByAge.Events), zap.Int("by_size", res.BySize.Events),
		zap.Int("deliveries", all.Deliveries), zap.Int("attempts", all.Attempts), zap.Int64("bytes", all.Bytes),
		zap.Int64("store_bytes", res.Usage.Bytes), zap.Int64("store_events", res.Usage.Events), zap.Duration("took", took))
}

func add(a, b store.PruneResult) store.PruneResult {
	a.Events += b.Events
	a.Deliveries += b.Deliveries
	a.Attempts += b.Attempts
	a.Bytes += b.Bytes
	if b.Last != "" {
		a.Last = b.Last
	}
	return a
}

type metrics struct {
	bytes, events prometheus.Gauge
	prunedEvents  *prometheus.CounterVec
	prunedBytes   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "forgelink_store_bytes",
			Help: "Bytes the store holds, as retention.maxBytes counts them (SQLite: pages in use; PostgreSQL: the rows' stored contents)."}),
		events: prometheus.NewGauge(prometheus.GaugeOpts{Name: "forgelink_store_events", Help: "Events the store holds."}),
		prunedEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "forgelink_retention_pruned_events_total",
			Help: "Events pruned with their deliveries and attempts, by reason (age, size)."}, []string{"reason"}),
		prunedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "forgelink_retention_pruned_bytes_total",
			Help: "Bytes of row contents pruned (bodies, headers, messages, attempt output)."}),
	}
	for _, r := range []string{"age", "size"} {
		m.prunedEvents.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.bytes, m.events, m.prunedEvents, m.prunedBytes)
	}
	return m
}
