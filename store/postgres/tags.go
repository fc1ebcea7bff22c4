package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

// TagResource adds tags to r, overwriting the values of existing keys. If
// r would end up with more than maxTags tags nothing changes. The
// resource's row is locked (serialize), so concurrent taggers of one
// resource count one after the other and a concurrent delete finds no tag
// added behind it.
func (s *Store) TagResource(ctx context.Context, r store.ResourceRef, tags []store.Tag, maxTags int) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := resourceExists(ctx, tx, r, serialize); err != nil {
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
		n, err := count(ctx, tx, "SELECT COUNT(*) FROM tags WHERE resource_kind = $1 AND resource_id = $2", string(r.Kind), r.ID)
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := resourceExists(ctx, tx, r, serialize); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM tags WHERE resource_kind = $1 AND resource_id = $2 AND key = ANY($3)",
			string(r.Kind), r.ID, keys)
		return err
	})
	if err != nil {
		return fmt.Errorf("untag %s %s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// ListTags returns r's tags sorted by key.
func (s *Store) ListTags(ctx context.Context, r store.ResourceRef) ([]store.Tag, error) {
	var tags []store.Tag
	err := s.read(ctx, func(tx pgx.Tx) error {
		if err := resourceExists(ctx, tx, r, ""); err != nil {
			return err
		}
		var err error
		tags, err = queryAll(ctx, tx, scanTag,
			"SELECT key, value FROM tags WHERE resource_kind = $1 AND resource_id = $2 ORDER BY key", string(r.Kind), r.ID)
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

// resourceExists returns store.ErrNotFound unless r is a live resource. A
// non-empty lock (a locking clause) locks its row until the commit.
func resourceExists(ctx context.Context, tx pgx.Tx, r store.ResourceRef, lock string) error {
	var query string
	switch r.Kind {
	case store.KindConnection:
		query = "SELECT 1 FROM connections WHERE id = $1 AND deleted_at IS NULL "
	case store.KindHost:
		query = "SELECT 1 FROM hosts WHERE id = $1 "
	case store.KindRepositoryLink:
		query = "SELECT 1 FROM repository_links WHERE id = $1 "
	default:
		return fmt.Errorf("resource kind %q: %w", r.Kind, store.ErrNotFound)
	}
	var one int
	return notFound(tx.QueryRow(ctx, query+lock, r.ID).Scan(&one))
}

// putTags upserts tags in one round trip.
func putTags(ctx context.Context, tx pgx.Tx, kind store.ResourceKind, id string, tags []store.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, t := range tags {
		b.Queue(`INSERT INTO tags (resource_kind, resource_id, key, value) VALUES ($1, $2, $3, $4)
			ON CONFLICT (resource_kind, resource_id, key) DO UPDATE SET value = excluded.value`,
			string(kind), id, t.Key, t.Value)
	}
	return tx.SendBatch(ctx, b).Close()
}

func deleteTags(ctx context.Context, tx pgx.Tx, kind store.ResourceKind, id string) error {
	_, err := tx.Exec(ctx, "DELETE FROM tags WHERE resource_kind = $1 AND resource_id = $2", string(kind), id)
	return err
}
