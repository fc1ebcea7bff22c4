package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// TestFileModes: the database, its WAL and shared-memory files are the
// daemon user's alone, whether new or left wider by an older version.
func TestFileModes(t *testing.T) {
	tests := []struct {
		name     string
		existing os.FileMode // 0: a new database
	}{
		{"new database", 0},
		{"existing 0644 database", 0o644},
		{"existing 0666 database", 0o666},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			if tt.existing != 0 {
				mustClose(t, mustOpen(t, path))
				for _, p := range []string{path, path + "-wal", path + "-shm"} {
					os.Chmod(p, tt.existing) // -wal and -shm may be gone after a clean close
				}
			}
			s := mustOpen(t, path)
			defer mustClose(t, s)
			// A write makes SQLite create the WAL and shared-memory files.
			c := store.Connection{ID: uuid.NewString(), Name: "c", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusPending}
			if err := s.CreateConnection(t.Context(), c, nil, 10); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(p), err)
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), got)
				}
			}
		})
	}
}
