package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/retention"
)

// vacuumConvertMaxBytes bounds the SQLite database converted to incremental
// auto_vacuum at start: the VACUUM that converts it holds the single
// writer for as long as it copies (about a second for this much).
const vacuumConvertMaxBytes = 256 << 20

// incrementalVacuumer is the SQLite store's conversion (store/sqlite).
type incrementalVacuumer interface {
	EnableIncrementalVacuum(ctx context.Context, maxBytes int64) (converted bool, err error)
}

// newRetention returns the background run of the pruner
// (relay/retention) for cfg.Retention; one that does nothing when the
// store cannot prune.
func newRetention(cfg *config.Config, st daemonStore, reg prometheus.Registerer, log *zap.Logger) func(ctx context.Context) {
	rs, ok := st.(retention.Store)
	if !ok {
		log.Warn("the store cannot prune: retention is off", zap.String("driver", cfg.Store.Driver))
		return func(context.Context) {}
	}
	r := cfg.Retention
	p := retention.New(retention.Options{
		Store:      rs,
		Policy:     retention.Policy{MaxAge: time.Duration(r.Events), MaxBytes: int64(r.MaxBytes), DeadAge: time.Duration(r.DeadDeliveries)},
		Now:        time.Now,
		Log:        log,
		Registerer: reg,
		Pause:      retention.DefaultPause,
	})
	return func(ctx context.Context) {
		if v, ok := st.(incrementalVacuumer); ok {
			enableIncrementalVacuum(ctx, v, log)
		}
		p.Run(ctx)
	}
}

// enableIncrementalVacuum converts a small SQLite database so that pruning
// shrinks its file; a large one keeps reusing its free pages, and says so.
func enableIncrementalVacuum(ctx context.Context, v incrementalVacuumer, log *zap.Logger) {
	converted, err := v.EnableIncrementalVacuum(ctx, vacuumConvertMaxBytes)
	switch {
	case err != nil:
		log.Warn("could not enable incremental vacuum; pruned space is reused but the file does not shrink", zap.Error(err))
	case !converted:
		log.Info("the database is larger than forgelink converts at start to incremental auto_vacuum; pruned space is reused but the file does not shrink (see README: Retention)",
			zap.Int64("convert_max_bytes", vacuumConvertMaxBytes))
	}
}
