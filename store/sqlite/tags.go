package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/forgelink/forgelink/store"
)

// TagResource adds tags to r, overwriting the values of existing keys. If
// r would end up with more than maxTags tags nothing changes.
func (s *Store) TagResource(ctx context.Context, r store.ResourceRef, tags []store.Tag, maxTags int) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := resourceExists(ctx, tx, r); err != nil {
			return err
		}
		if err := putTags(ctx, tx, r.Kind, r.ID, tags); err != nil {
			return err
		}
		if maxTags <= 0 {
			return nil
		}
		// Counting after the upsert is what makes overwrites free; the
		// error rolls the upsert back.
		n, err := count(ctx, tx, "SELECT COUNT(*) FROM tags WHERE resource_kind = ? AND resource_id = ?",
			string(r.Kind), r.ID)
		if err != nil {
			return err
		}
		if n > maxTags {
			return fmt.Errorf("%d tags, quota %d: %w", n, maxTags, store.ErrLimitExceeded)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tag %s %s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// UntagResource removes the tags with the given keys from r; keys r does not
// have are ignored.
func (s *Store) UntagResource(ctx context.Context, r store.ResourceRef, keys []string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := resourceExists(ctx, tx, r); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, "DELETE FROM tags WHERE resource_kind = ? AND resource_id = ? AND key = ?",
				string(r.Kind), r.ID, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("untag %s %s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// ListTags returns r's tags sorted by key.
func (s *Store) ListTags(ctx context.Context, r store.ResourceRef) ([]store.Tag, error) {
	var tags []store.Tag
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := resourceExists(ctx, tx, r); err != nil {
			return err
		}
		var err error
		tags, err = queryAll(ctx, tx, scanTag,
			"SELECT key, value FROM tags WHERE resource_kind = ? AND resource_id = ? ORDER BY key", string(r.Kind), r.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s %s: %w", r.Kind, r.ID, err)
	}
	if tags == nil {
		return []store.Tag{}, nil
	}
	return tags, nil
}

func scanTag(row scanner) (store.Tag, error) {
	var t store.Tag
	err := row.Scan(&t.Key, &t.Value)
	return t, err
}

// resourceExists returns store.ErrNotFound unless r is a live resource.
func resourceExists(ctx context.Context, q querier, r store.ResourceRef) error {
	var query string
	switch r.Kind {
	case store.KindConnection:
		query = "SELECT COUNT(*) FROM connections WHERE id = ? AND deleted_at IS NULL"
	case store.KindHost:
		query = "SELECT COUNT(*) FROM hosts WHERE id = ?"
	case store.KindRepositoryLink:
		query = "SELECT COUNT(*) FROM repository_links WHERE id = ?"
	default:
		return fmt.Errorf("resource kind %q: %w", r.Kind, store.ErrNotFound)
	}
	n, err := count(ctx, q, query, r.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func putTags(ctx context.Context, tx *sql.Tx, kind store.ResourceKind, id string, tags []store.Tag) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (resource_kind, resource_id, key, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (resource_kind, resource_id, key) DO UPDATE SET value = excluded.value`,
			string(kind), id, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

func deleteTags(ctx context.Context, tx *sql.Tx, kind store.ResourceKind, id string) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM tags WHERE resource_kind = ? AND resource_id = ?", string(kind), id)
	return err
}
