package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/store"
)

// ListEvents returns events in id (arrival) order, after p.After, without
// their bodies: a listing of many 25 MiB deliveries must stay cheap. Use
// GetEvent for the body.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error) {
	var args params
	where := []string{"id > " + args.add(p.After)}
	for _, c := range []struct {
		cond string
		arg  any
		set  bool
	}{
		{"connection_id = ", f.ConnectionID, f.ConnectionID != ""},
		{"repository = ", f.Repository, f.Repository != ""},
		{"kind = ", f.Kind, f.Kind != ""},
		{"received_at >= ", f.Since.UnixNano(), !f.Since.IsZero()},
		{"received_at < ", f.Until.UnixNano(), !f.Until.IsZero()},
	} {
		if c.set {
			where = append(where, c.cond+args.add(c.arg))
		}
	}
	query := "SELECT " + strings.Replace(eventColumns, "body", "''::bytea AS body", 1) + " FROM events WHERE " + strings.Join(where, " AND ")
	events, err := queryAll(ctx, s.pool, scanEvent, args.page(query, "id", p), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// ListDeliveries returns deliveries in id order after p.After.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error) {
	var args params
	where := []string{"id > " + args.add(p.After)}
	for _, c := range []struct{ col, v string }{{"pipeline", f.Pipeline}, {"state", f.State}, {"event_id", f.EventID}} {
		if c.v != "" {
			where = append(where, c.col+" = "+args.add(c.v))
		}
	}
	query := "SELECT " + deliveryColumns + " FROM deliveries WHERE " + strings.Join(where, " AND ")
	ds, err := queryAll(ctx, s.pool, scanDelivery, args.page(query, "id", p), args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}
