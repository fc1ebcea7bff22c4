package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

// ListingPlans returns PostgreSQL's plan of each query ListEvents (events
// set) or ListDeliveries runs for page p, with sequential scans and sorts
// priced out: a plan that still has one has no index to use instead.
func (s *Store) ListingPlans(ctx context.Context, events *store.EventFilter, deliveries store.DeliveryFilter, p store.Page) ([]string, error) {
	parts, columns := []listing{deliveryQuery(deliveries)}, deliveryColumns
	if events != nil {
		parts, columns = eventParts(*events), eventColumns
	}
	var plans []string
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off"); err != nil {
			return err
		}
		for _, part := range parts {
			query, args := part.query(columns, p)
			rows, err := tx.Query(ctx, "EXPLAIN "+query, args...)
			if err != nil {
				return err
			}
			steps, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("explain %s: %w", query, err)
			}
			plans = append(plans, strings.Join(steps, "\n"))
		}
		return nil
	})
	return plans, err
}

// BulkInsert copies d's events and deliveries straight into the tables:
// a benchmark's fixture.
func (s *Store) BulkInsert(ctx context.Context, each func(func(store.Event) error) error) error {
	var events, deliveries [][]any
	flush := func() error {
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"id", "connection_id", "provider", "delivery_id",
			"kind", "raw_kind", "repository", "held", "received_at", "headers", "body", "normalized", "routed"},
			pgx.CopyFromRows(events)); err != nil {
			return err
		}
		_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"deliveries"}, []string{"id", "event_id", "connection_id", "pipeline",
			"target", "mode", "branch", "files_incomplete", "message", "state", "attempts", "next_attempt_at", "created_at", "updated_at"},
			pgx.CopyFromRows(deliveries))
		events, deliveries = events[:0], deliveries[:0]
		return err
	}
	err := each(func(e store.Event) error {
		events = append(events, []any{e.ID, e.ConnectionID, e.Provider, e.DeliveryID, e.Kind, e.RawKind, e.Repository,
			false, e.ReceivedAt.UnixNano(), string(e.Headers), e.Body, string(e.Normalized), true})
		for _, x := range e.Deliveries {
			deliveries = append(deliveries, []any{x.ID, x.EventID, x.ConnectionID, x.Pipeline, x.Target, x.Mode, x.Branch,
				false, string(x.Message), x.State, x.Attempts, x.NextAttemptAt.UnixNano(), x.CreatedAt.UnixNano(), x.UpdatedAt.UnixNano()})
		}
		if len(events) < 5000 {
			return nil
		}
		return flush()
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, "ANALYZE events; ANALYZE deliveries")
	return err
}
