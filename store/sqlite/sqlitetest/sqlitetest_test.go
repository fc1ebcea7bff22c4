package sqlitetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

// TestOpen checks that each store is fresh, usable and takes its options.
func TestOpen(t *testing.T) {
	at := time.Date(2030, time.May, 1, 12, 0, 0, 0, time.UTC)
	a := Open(t, sqlite.WithClock(func() time.Time { return at }))
	b := Open(t)
	c := store.Connection{ID: uuid.NewString(), Name: "ci", ProviderType: store.ProviderGitHub, Region: "us-east-1", Status: store.StatusPending}
	if err := a.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	got, err := a.GetConnection(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(at) {
		t.Errorf("created at %v, want the clock's %v", got.CreatedAt, at)
	}
	if _, err := b.GetConnection(t.Context(), c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other store: %v, want %v", err, store.ErrNotFound)
	}
}
