package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/forgelink/forgelink/store"
)

// linkColumns are read through a join with the link's live connection,
// which supplies the provider type: a link whose connection was deleted
// names nothing.
const linkColumns = "l.id, l.connection_id, c.provider_type, l.owner_id, l.repository_name, l.encryption_key_arn, l.region, l.created_at, l.updated_at"

const linkFrom = " FROM repository_links l JOIN connections c ON c.id = l.connection_id AND c.deleted_at IS NULL"

// CreateRepositoryLink inserts l and its tags. The connection must be
// live; (connection, repository) is unique regardless of letter case; and
// when maxLinks > 0 the account may hold at most maxLinks links. Every
// check runs inside the write transaction.
func (s *Store) CreateRepositoryLink(ctx context.Context, l store.RepositoryLink, tags []store.Tag, maxLinks int) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := checkNewLink(ctx, tx, l, maxLinks); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO repository_links (id, connection_id, owner_id, repository_name,
			repository_key, encryption_key_arn, region, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.ConnectionID, l.OwnerID, l.RepositoryName, store.RepositoryKey(l.Repository()), l.EncryptionKeyARN, l.Region, now, now)
		if err != nil {
			return alreadyExists(err)
		}
		return putTags(ctx, tx, store.KindRepositoryLink, l.ID, tags)
	})
	if err != nil {
		return fmt.Errorf("create repository link %s: %w", l.ID, err)
	}
	return nil
}

func checkNewLink(ctx context.Context, tx *sql.Tx, l store.RepositoryLink, maxLinks int) error {
	if err := requireLiveConnection(ctx, tx, l.ConnectionID); err != nil {
		return err
	}
	if maxLinks <= 0 {
		return nil
	}
	n, err := count(ctx, tx, "SELECT COUNT(*)"+linkFrom)
	if err != nil {
		return err
	}
	if n >= maxLinks {
		return fmt.Errorf("quota %d: %w", maxLinks, store.ErrLimitExceeded)
	}
	return nil
}

// GetRepositoryLink returns the link id of a live connection.
func (s *Store) GetRepositoryLink(ctx context.Context, id string) (store.RepositoryLink, error) {
	l, err := getLink(ctx, s.r, id)
	if err != nil {
		return store.RepositoryLink{}, fmt.Errorf("get repository link %s: %w", id, err)
	}
	return l, nil
}

func getLink(ctx context.Context, q querier, id string) (store.RepositoryLink, error) {
	l, err := scanLink(q.QueryRowContext(ctx, "SELECT "+linkColumns+linkFrom+" WHERE l.id = ?", id))
	return l, notFound(err)
}

// ListRepositoryLinks returns the links matching f, ordered by ID.
func (s *Store) ListRepositoryLinks(ctx context.Context, f store.RepositoryLinkFilter, p store.Page) ([]store.RepositoryLink, error) {
	q := "SELECT " + linkColumns + linkFrom + " WHERE l.id > ?"
	args := []any{p.After}
	if f.ConnectionID != "" {
		q += " AND l.connection_id = ?"
		args = append(args, f.ConnectionID)
	}
	q += " ORDER BY l.id"
	if p.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, p.Limit)
	}
	links, err := queryAll(ctx, s.r, scanLink, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list repository links: %w", err)
	}
	return links, nil
}

// LinkedRepositories returns the "owner/name" of every link of the
// connection, in RepositoryKey form, sorted.
func (s *Store) LinkedRepositories(ctx context.Context, connID string) ([]string, error) {
	repos, err := queryAll(ctx, s.r, scanString,
		"SELECT l.repository_key"+linkFrom+" WHERE l.connection_id = ? ORDER BY l.repository_key", connID)
	if err != nil {
		return nil, fmt.Errorf("linked repositories of %s: %w", connID, err)
	}
	return repos, nil
}

// UpdateRepositoryLink applies u. A new connection must be live and must
// not link the same repository already (ErrAlreadyExists); a link changed
// since u.IfUpdatedAt is left alone (ErrConflict).
func (s *Store) UpdateRepositoryLink(ctx context.Context, id string, u store.RepositoryLinkUpdate) (store.RepositoryLink, error) {
	var l store.RepositoryLink
	err := s.write(ctx, func(tx *sql.Tx) error {
		old, err := getLink(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := store.CheckUnchanged(old.UpdatedAt, u.IfUpdatedAt); err != nil {
			return err
		}
		if u.ConnectionID != nil {
			if err := requireLiveConnection(ctx, tx, *u.ConnectionID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE repository_links SET connection_id = COALESCE(?, connection_id),
			encryption_key_arn = COALESCE(?, encryption_key_arn), updated_at = ? WHERE id = ?`,
			u.ConnectionID, u.EncryptionKeyARN, store.NextUpdatedAt(old.UpdatedAt, s.now().UnixNano()), id)
		if err != nil {
			return alreadyExists(err)
		}
		l, err = getLink(ctx, tx, id)
		return err
	})
	if err != nil {
		return store.RepositoryLink{}, fmt.Errorf("update repository link %s: %w", id, err)
	}
	return l, nil
}

// DeleteRepositoryLink removes the link and its tags. The webhook of its
// repository is the reconciler's to remove, once nothing else wants it.
func (s *Store) DeleteRepositoryLink(ctx context.Context, id string) error {
	return s.DeleteRepositoryLinkIf(ctx, id, time.Time{})
}

// DeleteRepositoryLinkIf is DeleteRepositoryLink for a link last updated
// at ifUpdatedAt (zero: any): a link changed since stays (ErrConflict).
func (s *Store) DeleteRepositoryLinkIf(ctx context.Context, id string, ifUpdatedAt time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		old, err := getLink(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := store.CheckUnchanged(old.UpdatedAt, ifUpdatedAt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM repository_links WHERE id = ?", id); err != nil {
			return err
		}
		return deleteTags(ctx, tx, store.KindRepositoryLink, id)
	})
	if err != nil {
		return fmt.Errorf("delete repository link %s: %w", id, err)
	}
	return nil
}

func scanLink(row scanner) (store.RepositoryLink, error) {
	var (
		l                store.RepositoryLink
		created, updated int64
	)
	err := row.Scan(&l.ID, &l.ConnectionID, &l.ProviderType, &l.OwnerID, &l.RepositoryName, &l.EncryptionKeyARN,
		&l.Region, &created, &updated)
	if err != nil {
		return store.RepositoryLink{}, err
	}
	l.CreatedAt, l.UpdatedAt = fromNanos(created), fromNanos(updated)
	return l, nil
}

func scanString(row scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}
