package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/config"
	"github.com/forgelink/forgelink/relay/changes"
	"github.com/forgelink/forgelink/relay/console"
	"github.com/forgelink/forgelink/relay/controlplane"
	"github.com/forgelink/forgelink/relay/dispatch"
	"github.com/forgelink/forgelink/relay/hookreg"
	"github.com/forgelink/forgelink/relay/ingress"
	"github.com/forgelink/forgelink/relay/setup"
	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/postgres"
	"github.com/forgelink/forgelink/store/sqlite"
)

// daemonStore is what the daemon's parts need from persistence, each
// through the interface it declares; the embedded and the shared store
// both provide it.
type daemonStore interface {
	controlplane.Store
	ingress.Store
	dispatch.Store
	changes.Store
	setup.Store
	console.Store
	hookreg.Store
	UnroutedEvents(ctx context.Context, limit int) ([]store.Event, error)
	RouteEvent(ctx context.Context, eventID string, ds []store.Delivery) error
	SetConnectionStatus(ctx context.Context, id, status, reason string) error
	DeliveryStats(ctx context.Context) (store.DeliveryStats, error)
	keyChecker
	Ping(ctx context.Context) error
	Close() error
}

// storeExists reports whether the configured store already holds records,
// so that a missing master key is refused rather than replaced. A shared
// store always has its key configured (config validation), so only the
// embedded one is looked for.
func storeExists(cfg *config.Config) bool {
	if cfg.Store.Driver != config.StoreSQLite {
		return true
	}
	_, err := os.Stat(filepath.Join(cfg.DataDir, dbFile))
	return !errors.Is(err, fs.ErrNotExist)
}

// openStore opens the configured store, migrating its schema.
func openStore(ctx context.Context, cfg *config.Config, log *zap.Logger) (daemonStore, error) {
	switch cfg.Store.Driver {
	case config.StoreSQLite:
		return openSQLite(ctx, filepath.Join(cfg.DataDir, dbFile), log)
	case config.StorePostgres:
		st, err := postgres.Open(ctx, cfg.Store.DSN, log)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("store driver %q is not available", cfg.Store.Driver)
}

func openSQLite(ctx context.Context, path string, log *zap.Logger) (daemonStore, error) {
	st, err := sqlite.Open(ctx, path, log)
	if err != nil {
		return nil, err
	}
	return st, nil
}
