package sqlite_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

const uncleanMessage = "the store was not closed cleanly; checking the database file"

// openObserved opens path and reports whether Open checked the file for an
// unclean shutdown.
func openObserved(t *testing.T, path string) (*sqlite.Store, bool, error) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	s, err := sqlite.Open(t.Context(), path, zap.New(core))
	return s, logs.FilterMessage(uncleanMessage).Len() == 1, err
}

// fill records n events with 2 KiB bodies, so that they span many pages.
func fill(t *testing.T, s *sqlite.Store, n int) {
	t.Helper()
	c := store.Connection{ID: uuid.NewString(), Name: "hooks", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := s.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatalf("CreateConnection: %v", err)
	}
	for i := range n {
		e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: c.ID, Provider: store.ProviderGitHub,
			DeliveryID: fmt.Sprint(i), Kind: "push", RawKind: "push", Repository: "octo/api", ReceivedAt: time.Now(),
			Headers: []byte(`{}`), Body: make([]byte, 2048), Normalized: []byte(`{}`), Routed: true}
		if _, err := s.RecordEvent(t.Context(), e); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
	}
}

// crashImage copies the files of the open database at path into a new
// directory, as a machine that lost power would leave them: the database
// and its WAL (the -shm index is rebuilt from the WAL).
func crashImage(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "forgelink.db")
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, path+suffix, dst+suffix)
	}
	return dst
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStartCheck: Open checks the file only when the last process did not
// close the store.
func TestStartCheck(t *testing.T) {
	t.Run("clean close", func(t *testing.T) {
		path := tempPath(t)
		s := mustOpen(t, path)
		fill(t, s, 10)
		mustClose(t, s)
		if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("WAL after Close: %v, want none", err)
		}
		s, checked, err := openObserved(t, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		mustClose(t, s)
		if checked {
			t.Error("Open after a clean Close checked the file")
		}
	})
	t.Run("not closed", func(t *testing.T) {
		path := tempPath(t)
		s := mustOpen(t, path)
		defer mustClose(t, s)
		fill(t, s, 10)
		image := crashImage(t, path)
		again, checked, err := openObserved(t, image)
		if err != nil {
			t.Fatalf("Open after a crash: %v", err)
		}
		if !checked {
			t.Error("Open after a crash did not check the file")
		}
		if n := countEvents(t, again); n != 10 {
			t.Errorf("%d events after the crash, want the 10 committed", n)
		}
		mustClose(t, again)
		// Closed now: the next start is clean again.
		s, checked, err = openObserved(t, image)
		if err != nil || checked {
			t.Errorf("Open after closing the recovered store: checked %v, %v; want no check", checked, err)
		}
		mustClose(t, s)
	})
}

// TestDamage: damage is found at start after an unclean shutdown, and by
// Check at any time, as ErrDamaged naming it.
func TestDamage(t *testing.T) {
	path := tempPath(t)
	s := mustOpen(t, path)
	fill(t, s, 200)
	mustClose(t, s)
	damageLastPage(t, path)

	t.Run("start after an unclean shutdown", func(t *testing.T) {
		// A process that wrote to the damaged file and died.
		db := rawDB(t, path)
		if _, err := db.Exec("CREATE TABLE crash (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
		image := crashImage(t, path)
		db.Close()
		s, checked, err := openObserved(t, image)
		if err == nil {
			mustClose(t, s)
		}
		var damage *sqlite.DamageError
		if !checked || !errors.Is(err, sqlite.ErrDamaged) || !errors.As(err, &damage) || !strings.Contains(err.Error(), "page ") {
			t.Fatalf("Open of a damaged file after a crash: checked %v, %v; want ErrDamaged", checked, err)
		}
	})
	t.Run("Check", func(t *testing.T) {
		s := mustOpen(t, path) // closed cleanly: Open does not look
		defer mustClose(t, s)
		err := s.Check(t.Context())
		var damage *sqlite.DamageError
		if !errors.Is(err, sqlite.ErrDamaged) || !errors.As(err, &damage) || !strings.Contains(err.Error(), "page ") {
			t.Fatalf("Check of a damaged file = %v, want ErrDamaged", err)
		}
	})
	t.Run("Check of a sound file", func(t *testing.T) {
		s := mustOpen(t, tempPath(t))
		defer mustClose(t, s)
		fill(t, s, 20)
		if err := s.Check(t.Context()); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
}

// damageLastPage overwrites the file's last page, the newest events' rows
// or index entries, which opening the store does not read.
func damageLastPage(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var size int64
	if err := db.QueryRow("PRAGMA page_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	db.Close()
	damagePage(t, path, int(fi.Size()/size))
}

func countEvents(t *testing.T, s *sqlite.Store) int {
	t.Helper()
	es, err := s.ListEvents(t.Context(), store.EventFilter{}, store.Page{})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	return len(es)
}
