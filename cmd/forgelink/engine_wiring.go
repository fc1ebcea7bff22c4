package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/relay/dispatch"
	"github.com/forgelink/forgelink/store/sqlite"
)

// owningStore is a store whose one process owns every delivery (SQLite,
// locked to this process): the engine schedules them in memory, handed
// over as their transactions commit, instead of claiming them back.
type owningStore interface {
	dispatch.OwnerStore
	Own(ctx context.Context, o sqlite.Owner) error
}

// newEngine returns the delivery engine with the source that fits st: the
// owner on the embedded store, the claimer on a store replicas share. On
// the embedded store every unfinished delivery is queued again now.
func newEngine(ctx context.Context, st daemonStore, opts dispatch.Options) (*dispatch.Engine, error) {
	owning, ok := st.(owningStore)
	if !ok {
		opts.Source = dispatch.NewClaimer(st)
		return dispatch.New(opts), nil
	}
	owner := dispatch.NewOwner(owning, opts.Log)
	opts.Source = owner
	engine := dispatch.New(opts) // before Own: the owner wakes the engine
	if err := owning.Own(ctx, owner); err != nil {
		return nil, fmt.Errorf("delivery engine: %w", err)
	}
	opts.Log.Info("queued the unfinished deliveries", zap.Int("deliveries", owner.Open()))
	return engine, nil
}
