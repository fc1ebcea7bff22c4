package store

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one version of a store's schema.
type Migration struct {
	Version int
	SQL     string
}

// LoadMigrations reads a store's schema history from the directory
// "migrations" of fsys: one file per version, named NNNN_description.sql
// and numbered from 1 without gaps (the SQLite and PostgreSQL stores keep
// theirs in step). It returns them in version order.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, 0, len(entries))
	for i, e := range entries { // ReadDir sorts by name
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v != i+1 || path.Ext(e.Name()) != ".sql" {
			return nil, fmt.Errorf("migration %s: want %04d_<description>.sql", e.Name(), i+1)
		}
		b, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, SQL: string(b)})
	}
	return ms, nil
}
