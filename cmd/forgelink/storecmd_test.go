package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

func TestStoreCheck(t *testing.T) {
	for _, k := range []string{"FORGELINK_CONFIG", "FORGELINK_DATA_DIR", "FORGELINK_STORE_DRIVER", "FORGELINK_STORE_DSN"} {
		t.Setenv(k, "")
	}
	sound, damaged, empty := t.TempDir(), t.TempDir(), t.TempDir()
	fillStore(t, filepath.Join(sound, dbFile), 20)
	fillStore(t, filepath.Join(damaged, dbFile), 200)
	damageLastPage(t, filepath.Join(damaged, dbFile))

	for _, tc := range []struct {
		name, dir string
		code      int
		stdout    string
		stderr    string
	}{
		{"sound", sound, 0, "sqlite store: no integrity problems found\n", ""},
		{"damaged", damaged, 1, "", ": database is damaged: "},
		{"no store", empty, 1, "", "no store to check: " + filepath.Join(empty, dbFile) + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{"store", "check", "--data-dir", tc.dir}, &stdout, &stderr)
			if code != tc.code || stdout.String() != tc.stdout || !strings.Contains(stderr.String(), tc.stderr) || tc.stderr == "" && stderr.Len() > 0 {
				t.Errorf("exit status %d, stdout %q, stderr %q; want %d, %q and %q", code, &stdout, &stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(empty, dbFile)); !os.IsNotExist(err) {
		t.Errorf("store check of an empty data directory created a store (%v)", err)
	}
}

// fillStore creates an SQLite store at path with n events of 2 KiB.
func fillStore(t *testing.T, path string, n int) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := store.Connection{ID: uuid.NewString(), Name: "hooks", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusAvailable}
	if err := s.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: c.ID, Provider: store.ProviderGitHub,
			DeliveryID: fmt.Sprint(i), Kind: "push", RawKind: "push", Repository: "octo/api", ReceivedAt: time.Now(),
			Headers: []byte(`{}`), Body: make([]byte, 2048), Normalized: []byte(`{}`), Routed: true}
		if _, err := s.RecordEvent(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// damageLastPage overwrites the database file's last page, which opening
// the store does not read. The page size is in the file's header.
func damageLastPage(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 100 {
		t.Fatalf("read %s: %d bytes, %v", path, len(data), err)
	}
	size := int(binary.BigEndian.Uint16(data[16:18]))
	copy(data[len(data)-size:], bytes.Repeat([]byte{0xa5}, size))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
