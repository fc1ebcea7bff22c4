package sqlite_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
	"github.com/forgelink/forgelink/store/sqlite"
)

func TestConnectionCredentials(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s := mustOpen(t, tempPath(t), sqlite.WithClock(func() time.Time { return now }))
	defer mustClose(t, s)
	ctx := t.Context()
	conn := store.Connection{ID: uuid.NewString(), Name: "gl", ProviderType: store.ProviderGitLab, Region: "us-east-1", Status: store.StatusPending}
	if err := s.CreateConnection(ctx, conn, nil, 0); err != nil {
		t.Fatalf("CreateConnection: %v", err)
	}
	held := store.Event{ID: uuid.Must(uuid.NewV7()).String(), ConnectionID: conn.ID, Provider: store.ProviderGitLab, DeliveryID: "d1",
		Kind: "push", RawKind: "Push Hook", Repository: "group/app", Held: true, ReceivedAt: now,
		Headers: []byte(`{}`), Body: []byte(`{}`), Normalized: []byte(`{}`)}
	if _, err := s.RecordEvent(ctx, held); err != nil {
		t.Fatalf("RecordEvent: %v", err)
	}
	if _, err := s.GetConnectionCredential(ctx, conn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConnectionCredential before any: %v, want ErrNotFound", err)
	}
	// An ERROR connection comes back too, its reason cleared.
	if err := s.SetConnectionStatus(ctx, conn.ID, store.StatusError, "token revoked"); err != nil {
		t.Fatalf("SetConnectionStatus: %v", err)
	}

	for i, account := range []string{"jdoe", "ci-bot"} { // the second replaces the first
		now = now.Add(time.Minute)
		want := store.Credential{Kind: store.CredentialToken, Sealed: []byte{1, 2, byte(i)}, Account: account, UpdatedAt: now}
		if err := s.SetConnectionCredential(ctx, conn.ID, want); err != nil {
			t.Fatalf("SetConnectionCredential: %v", err)
		}
		if got, err := s.GetConnectionCredential(ctx, conn.ID); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("GetConnectionCredential = %+v, %v; want %+v", got, err, want)
		}
	}
	got, err := s.GetConnection(ctx, conn.ID)
	if err != nil || got.Status != store.StatusAvailable || got.StatusReason != "" || !got.UpdatedAt.Equal(now) {
		t.Errorf("connection after SetConnectionCredential: %+v, %v; want AVAILABLE with no reason, updated %v", got, err, now)
	}
	if e, err := s.GetEvent(ctx, held.ID); err != nil || e.Held {
		t.Errorf("event after SetConnectionCredential: held %v, %v; want released", e.Held, err)
	}

	if err := s.DeleteConnection(ctx, conn.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if _, err := s.GetConnectionCredential(ctx, conn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConnectionCredential after DeleteConnection: %v, want ErrNotFound", err)
	}
	for _, id := range []string{conn.ID, uuid.NewString()} { // deleted, unknown
		cred := store.Credential{Kind: store.CredentialToken, Sealed: []byte{1}}
		if err := s.SetConnectionCredential(ctx, id, cred); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetConnectionCredential(%s): %v, want ErrNotFound", id, err)
		}
		if _, err := s.GetConnectionCredential(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConnectionCredential(%s) after a refused set: %v, want ErrNotFound", id, err)
		}
	}
}
