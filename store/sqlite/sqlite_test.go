package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
	"github.com/forgelink/forgelink/store/storetest"
)

func mustOpen(tb testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path, zaptest.NewLogger(tb), opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func mustClose(tb testing.TB, s *sqlite.Store) {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
}

func tempPath(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "forgelink.db")
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return mustOpen(t, tempPath(t))
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := tempPath(t)
	clock := sqlite.WithClock(func() time.Time { return time.Unix(1700000000, 42) })
	s := mustOpen(t, path, clock)
	ctx := t.Context()
	h := store.Host{ID: "ghe-0123abcd", Name: "ghe", ProviderType: store.ProviderGitHubEnterpriseServer,
		ProviderEndpoint: "https://ghe.example.com", Region: "us-east-1", Status: store.StatusAvailable}
	c := store.Connection{ID: uuid.NewString(), Name: "kept", ProviderType: store.ProviderGitHubEnterpriseServer,
		Region: "us-east-1", Status: store.StatusAvailable, HostID: h.ID}
	deleted := store.Connection{ID: uuid.NewString(), Name: "deleted", ProviderType: store.ProviderGitHub,
		Region: "us-east-1", Status: store.StatusPending}
	tags := []store.Tag{{Key: "team", Value: "core"}}
	if err := s.CreateHost(ctx, h, tags, 0); err != nil {
		t.Fatalf("CreateHost: %v", err)
	}
	for _, conn := range []store.Connection{c, deleted} {
		if err := s.CreateConnection(ctx, conn, tags, 0); err != nil {
			t.Fatalf("CreateConnection: %v", err)
		}
	}
	if err := s.DeleteConnection(ctx, deleted.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	wantConn, err := s.GetConnection(ctx, c.ID)
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	wantHost, err := s.GetHost(ctx, h.ID)
	if err != nil {
		t.Fatalf("GetHost: %v", err)
	}
	mustClose(t, s)

	s = mustOpen(t, path)
	defer mustClose(t, s)
	if got, err := s.GetConnection(ctx, c.ID); err != nil || !reflect.DeepEqual(got, wantConn) {
		t.Errorf("GetConnection after reopen = %+v, %v; want %+v", got, err, wantConn)
	}
	if got, err := s.GetHost(ctx, h.ID); err != nil || got != wantHost {
		t.Errorf("GetHost after reopen = %+v, %v; want %+v", got, err, wantHost)
	}
	if got, err := s.ListTags(ctx, store.ResourceRef{Kind: store.KindConnection, ID: c.ID}); err != nil || len(got) != 1 || got[0] != tags[0] {
		t.Errorf("ListTags after reopen = %v, %v; want %v", got, err, tags)
	}
	deleted.Name = "reborn"
	if err := s.CreateConnection(ctx, deleted, nil, 0); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateConnection with a deleted ID after reopen: %v, want %v", err, store.ErrAlreadyExists)
	}
}

func TestWithClock(t *testing.T) {
	// A zone other than UTC checks that the store hands back UTC.
	now := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	created := now
	s := mustOpen(t, tempPath(t), sqlite.WithClock(func() time.Time { return now }))
	defer mustClose(t, s)
	ctx := t.Context()
	h := store.Host{ID: "ghe-0123abcd", Name: "ghe", ProviderType: store.ProviderGitHubEnterpriseServer,
		ProviderEndpoint: "https://ghe.example.com", Region: "us-east-1", Status: store.StatusAvailable}
	if err := s.CreateHost(ctx, h, nil, 0); err != nil {
		t.Fatalf("CreateHost: %v", err)
	}
	now = now.Add(time.Minute)
	got, err := s.UpdateHost(ctx, h.ID, store.HostUpdate{ProviderEndpoint: new("https://new.example.com")})
	if err != nil {
		t.Fatalf("UpdateHost: %v", err)
	}
	if !got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(now) || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt %v, UpdatedAt %v; want %v and %v in UTC", got.CreatedAt, got.UpdatedAt, created, now)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := tempPath(t)
	for range 3 {
		mustClose(t, mustOpen(t, path))
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	db := rawDB(t, path)
	var n, latest int
	if err := db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &latest); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if n != len(files) || latest != len(files) {
		t.Errorf("schema_migrations has %d rows up to version %d, want %d", n, latest, len(files))
	}
}

// rawDB opens path without the store, to inspect or tamper with it.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name     string
		asRoot   bool // whether the case can be set up when running as root
		setUp    func(t *testing.T, dir string) string
		want     string // in the error message, besides the path
		wantErrs error  // matched with errors.Is when set
	}{
		{
			name:     "directory does not exist",
			asRoot:   true,
			setUp:    func(t *testing.T, dir string) string { return filepath.Join(dir, "missing", "forgelink.db") },
			want:     "no such file or directory",
			wantErrs: fs.ErrNotExist,
		},
		{
			name:   "parent is a file",
			asRoot: true,
			setUp: func(t *testing.T, dir string) string {
				writeFile(t, filepath.Join(dir, "file"), []byte("x"))
				return filepath.Join(dir, "file", "forgelink.db")
			},
			want: "not a directory",
		},
		{
			name: "directory not writable",
			setUp: func(t *testing.T, dir string) string {
				readOnly(t, dir)
				return filepath.Join(dir, "forgelink.db")
			},
			want: "unable to open database file",
		},
		{
			name: "existing database in a read-only directory",
			setUp: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "forgelink.db")
				mustClose(t, mustOpen(t, path))
				readOnly(t, dir)
				return path
			},
		},
		{
			name: "read-only database file",
			setUp: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "forgelink.db")
				mustClose(t, mustOpen(t, path))
				if err := os.Chmod(path, 0o400); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want: "readonly",
		},
		{
			name:   "not a database",
			asRoot: true,
			setUp: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "forgelink.db")
				writeFile(t, path, bytes.Repeat([]byte("not a database\n"), 1000))
				return path
			},
			want: "not a database",
		},
		{
			name:   "schema from a newer binary",
			asRoot: true,
			setUp: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "forgelink.db")
				mustClose(t, mustOpen(t, path))
				if _, err := rawDB(t, path).Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)"); err != nil {
					t.Fatalf("insert version: %v", err)
				}
				return path
			},
			want: "schema version 9999 is newer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.asRoot && os.Geteuid() == 0 {
				t.Skip("root ignores file permissions: run the tests as another user to test this case")
			}
			path := tt.setUp(t, t.TempDir())
			s, err := sqlite.Open(t.Context(), path, zap.NewNop())
			if err == nil {
				mustClose(t, s)
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			msg := err.Error()
			if !strings.HasPrefix(msg, "open store: ") || !strings.Contains(msg, path) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want it to start with %q and mention %q and %q", msg, "open store: ", path, tt.want)
			}
			if tt.wantErrs != nil && !errors.Is(err, tt.wantErrs) {
				t.Errorf("error %v, want %v", err, tt.wantErrs)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// readOnly makes dir read-only until the test ends, so that TempDir can
// remove it.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
}

// damagePage overwrites the n-th (1-based) page of the database at path
// with garbage, leaving the header page intact.
func damagePage(t *testing.T, path string, n int) {
	t.Helper()
	db := rawDB(t, path)
	var size int
	if err := db.QueryRow("PRAGMA page_size").Scan(&size); err != nil {
		t.Fatalf("page size: %v", err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, size), int64((n-1)*size)); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkGetConnection(b *testing.B) {
	s := mustOpen(b, tempPath(b))
	defer mustClose(b, s)
	c := store.Connection{ID: uuid.NewString(), Name: "bench", ProviderType: store.ProviderGitHub,
		Region: "us-east-1", Status: store.StatusAvailable}
	if err := s.CreateConnection(b.Context(), c, nil, 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetConnection(b.Context(), c.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateConnection(b *testing.B) {
	s := mustOpen(b, tempPath(b))
	defer mustClose(b, s)
	i := 0
	for b.Loop() {
		c := store.Connection{ID: uuid.NewString(), Name: fmt.Sprintf("bench-%d", i), ProviderType: store.ProviderGitHub,
			Region: "us-east-1", Status: store.StatusPending}
		if err := s.CreateConnection(b.Context(), c, []store.Tag{{Key: "k", Value: "v"}}, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
