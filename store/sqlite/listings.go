package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/store"
)

// ListEvents returns events in id (arrival) order, past p.After in p's
// direction, without their bodies: a listing of many 25 MiB deliveries must
// stay cheap. Use GetEvent for the body.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error) {
	var q listing
	q.where(f.ConnectionID != "", "connection_id = ?", f.ConnectionID)
	q.where(f.Repository != "", "repository = ?", f.Repository)
	q.where(f.Kind != "", "kind = ?", f.Kind)
	q.where(!f.Since.IsZero(), "received_at >= ?", f.Since.UnixNano())
	q.where(!f.Until.IsZero(), "received_at < ?", f.Until.UnixNano())
	columns := strings.Replace(eventColumns, "body", "X'' AS body", 1)
	events, err := queryAll(ctx, s.r, scanEvent, q.query(columns, "events", p), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// ListDeliveries returns deliveries in id order, past p.After in p's
// direction.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error) {
	var q listing
	q.where(f.Pipeline != "", "pipeline = ?", f.Pipeline)
	q.where(f.State != "", "state = ?", f.State)
	q.where(f.EventID != "", "event_id = ?", f.EventID)
	ds, err := queryAll(ctx, s.r, scanDelivery, q.query(deliveryColumns, "deliveries", p), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

// listing builds a keyset-paged query: the filters, then the page's id
// bound, order and limit.
type listing struct {
	conds []string
	args  []any
}

func (q *listing) where(set bool, cond string, arg any) {
	if set {
		q.conds, q.args = append(q.conds, cond), append(q.args, arg)
	}
}

func (q *listing) query(columns, table string, p store.Page) string {
	order := "id"
	if p.Descending {
		// "" starts at the newest; any other After is an upper bound.
		q.where(p.After != "", "id < ?", p.After)
		order = "id DESC"
	} else {
		q.where(p.After != "", "id > ?", p.After)
	}
	query := "SELECT " + columns + " FROM " + table
	if len(q.conds) > 0 {
		query += " WHERE " + strings.Join(q.conds, " AND ")
	}
	query += " ORDER BY " + order
	if p.Limit > 0 {
		query += " LIMIT ?"
		q.args = append(q.args, p.Limit)
	}
	return query
}
