package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked: another process has the database open. The single-node store
// hands its deliveries to the one process that owns them, in memory; two
// daemons on one file would each deliver everything.
var ErrLocked = errors.New("the database is in use by another process (is another forgelink running on this data directory?)")

// lockFile takes an exclusive lock on path (created if needed) without
// waiting. The lock lasts until the file is closed, or the process ends
// however it ends, so a crash leaves no stale lock behind.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
