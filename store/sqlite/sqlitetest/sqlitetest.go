// Package sqlitetest opens throwaway SQLite stores for the tests of the
// packages that use one.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store/sqlite"
)

// Open opens a fresh store in a temporary directory of t, with opts, and
// closes it when the test ends. It fails the test if either goes wrong.
func Open(t testing.TB, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "forgelink.db"), zap.NewNop(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return st
}
