package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

// populateWriters is how many RecordEvent calls are in flight at once:
// enough for the store's group commit to fill its batches.
const populateWriters = 64

// populate gives the daemon's data directory in dir a store that has run
// for a while: the daemon starts once (its master key, its schema), then
// cfg.populate events spread over the last cfg.populateAge, each with
// body, are written directly into the SQLite store, oldest first. They are
// routed to no pipeline, so all of them are retention's to prune by age
// and size.
func populate(ctx context.Context, cfg config, dir string, body []byte, progress io.Writer) error {
	d, err := startDaemon(ctx, cfg, dir, "")
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	if err := d.stop(); err != nil {
		return fmt.Errorf("stop daemon: %w", err)
	}
	start := time.Now()
	fmt.Fprintf(progress, "populating the store with %d events over %v\n", cfg.populate, cfg.populateAge)
	st, err := sqlite.Open(ctx, filepath.Join(d.dataDir, "forgelink.db"), zap.NewNop())
	if err != nil {
		return err
	}
	// As a store created by this release: the daemon converts a new one
	// in the background, which its quick stop may have cut short.
	if _, err := st.EnableIncrementalVacuum(ctx, 1<<30); err != nil {
		return errors.Join(err, st.Close())
	}
	first := start.Add(-cfg.populateAge)
	step := cfg.populateAge / time.Duration(cfg.populate)
	conn := uuid.NewString()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, populateWriters)
	)
	for range populateWriters {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(cfg.populate) && ctx.Err() == nil; i = next.Add(1) - 1 {
				if err := recordPopulated(ctx, st, conn, first.Add(time.Duration(i)*step), body); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	err = <-errs
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	fmt.Fprintf(progress, "populated %d events (%.1f GiB of data directory) in %v\n",
		cfg.populate, float64(dirSize(d.dataDir))/(1<<30), time.Since(start).Round(time.Second))
	return ctx.Err()
}

func recordPopulated(ctx context.Context, st *sqlite.Store, conn string, at time.Time, body []byte) error {
	id, err := store.NewEventID(at)
	if err != nil {
		return err
	}
	delivery := uuid.NewString()
	_, err = st.RecordEvent(ctx, store.Event{
		ID: id, ConnectionID: conn, Provider: store.ProviderGitHub, DeliveryID: delivery,
		Kind: "push", RawKind: "push", Repository: "acme/web", ReceivedAt: at, Routed: true,
		Headers:    fmt.Appendf(nil, `{"X-GitHub-Delivery":%q,"X-GitHub-Event":"push"}`, delivery),
		Body:       body,
		Normalized: []byte(`{"kind":"push","repository":"acme/web","ref":"refs/heads/main"}`),
	})
	return err
}
