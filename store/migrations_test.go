package store

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	good := fstest.MapFS{
		"migrations/0002_more.sql": file("B"),
		"migrations/0001_init.sql": file("A"),
	}
	ms, err := LoadMigrations(good)
	if err != nil || len(ms) != 2 || ms[0] != (Migration{1, "A"}) || ms[1] != (Migration{2, "B"}) {
		t.Fatalf("LoadMigrations = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":        {"migrations/0001_a.sql": file("A"), "migrations/0003_c.sql": file("C")},
		"not first":  {"migrations/0002_b.sql": file("B")},
		"unnumbered": {"migrations/init.sql": file("A")},
		"not sql":    {"migrations/0001_a.txt": file("A")},
		"no dir":     {},
	} {
		if ms, err := LoadMigrations(fsys); err == nil {
			t.Errorf("%s: LoadMigrations = %+v, want an error", name, ms)
		}
	}
}
