package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/forgelink/forgelink/store"
)

// CompleteDeliveryFiles replaces the message of delivery id with message,
// whose changed-file list the delivery engine completed through the
// provider's compare API, and clears files_incomplete, provided attempt
// attempt still holds the delivery's lease for owner; otherwise it changes
// nothing and returns ErrUnavailable (ErrNotFound for an unknown id).
func (s *Store) CompleteDeliveryFiles(ctx context.Context, id, owner string, attempt int, message []byte) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET message = ?, files_incomplete = 0, updated_at = ?
			WHERE id = ? AND state = ? AND lease_owner = ? AND attempts = ?`,
			string(message), now, id, store.DeliveryLeased, owner, attempt)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var state string
		if err := tx.QueryRowContext(ctx, "SELECT state FROM deliveries WHERE id = ?", id).Scan(&state); err != nil {
			return notFound(err)
		}
		return fmt.Errorf("the attempt's lease is lost: %w", store.ErrUnavailable)
	})
	if err != nil {
		return fmt.Errorf("complete files of delivery %s: %w", id, err)
	}
	return nil
}
