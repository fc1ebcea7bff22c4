package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

// RecoveryStore is what relay/recovery keeps in a store, besides events.
type RecoveryStore interface {
	CreateConnection(ctx context.Context, c store.Connection, tags []store.Tag, maxConnections int) error
	RecordEvent(ctx context.Context, e store.Event) (duplicate bool, err error)
	ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error)

	GetRecoveryHook(ctx context.Context, key string) (store.RecoveryHook, error)
	PutRecoveryHook(ctx context.Context, h store.RecoveryHook) error
	RecordedDeliveries(ctx context.Context, connIDs, guids []string) (map[string]bool, error)
	Redeliveries(ctx context.Context, hookKey string, guids []string) (map[string]int, error)
	AddRedelivery(ctx context.Context, hookKey, guid string, at time.Time) error
	GetRecoveryHead(ctx context.Context, connID, repository, ref string) (store.RecoveryHead, error)
	PutRecoveryHead(ctx context.Context, h store.RecoveryHead) error
}

// RunRecovery checks a store's recovery records: open returns a new,
// empty store that is closed when t ends.
func RunRecovery(t *testing.T, open func(t *testing.T) RecoveryStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s RecoveryStore)
	}{
		{"Hooks", testRecoveryHooks},
		{"RecordedDeliveries", testRecordedDeliveries},
		{"Redeliveries", testRedeliveries},
		{"Heads", testRecoveryHeads},
		{"ListRecovered", testListRecovered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func testRecoveryHooks(t *testing.T, s RecoveryStore) {
	ctx := t.Context()
	if _, err := s.GetRecoveryHook(ctx, "repo:c:o/r"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hook: %v, want ErrNotFound", err)
	}
	at := time.Unix(1_900_000_000, 5).UTC()
	for _, h := range []store.RecoveryHook{
		{Key: "repo:c:o/r", CheckedUntil: at, UpdatedAt: at},
		{Key: "repo:c:o/r", CheckedUntil: at.Add(time.Hour), Unrecoverable: true, Reason: "hook delivery log refused: HTTP 403", UpdatedAt: at.Add(time.Hour)},
	} {
		if err := s.PutRecoveryHook(ctx, h); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRecoveryHook(ctx, h.Key)
		if err != nil || got.Key != h.Key || !got.CheckedUntil.Equal(h.CheckedUntil) || got.Unrecoverable != h.Unrecoverable ||
			got.Reason != h.Reason || !got.UpdatedAt.Equal(h.UpdatedAt) {
			t.Fatalf("got %+v, %v; want %+v", got, err, h)
		}
	}
}

func testRecordedDeliveries(t *testing.T, s RecoveryStore) {
	ctx := t.Context()
	a := mustCreateRecoveryConnection(t, s, "a")
	b := mustCreateRecoveryConnection(t, s, "b")
	for _, e := range []store.Event{newEvent(a.ID, "g1"), newEvent(b.ID, "g2")} {
		if _, err := s.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	many := []string{"g1", "g2", "g3"}
	for i := range 1200 { // more than one batch of ids
		many = append(many, "x"+time.Duration(i).String())
	}
	tests := []struct {
		name  string
		conns []string
		want  map[string]bool
	}{
		{"one connection", []string{a.ID}, map[string]bool{"g1": true}},
		{"any of several", []string{a.ID, b.ID}, map[string]bool{"g1": true, "g2": true}},
		{"none", nil, map[string]bool{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RecordedDeliveries(ctx, tt.conns, many)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k := range tt.want {
				if !got[k] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func testRedeliveries(t *testing.T, s RecoveryStore) {
	ctx := t.Context()
	at := time.Unix(1_900_000_000, 0)
	for _, g := range []string{"g1", "g1", "g2"} {
		if err := s.AddRedelivery(ctx, "app:1", g, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddRedelivery(ctx, "app:2", "g1", at); err != nil {
		t.Fatal(err)
	}
	got, err := s.Redeliveries(ctx, "app:1", []string{"g1", "g2", "g3"})
	if err != nil || len(got) != 2 || got["g1"] != 2 || got["g2"] != 1 {
		t.Fatalf("Redeliveries = %v, %v; want g1:2 g2:1", got, err)
	}
}

func testRecoveryHeads(t *testing.T, s RecoveryStore) {
	ctx := t.Context()
	if _, err := s.GetRecoveryHead(ctx, "c", "o/r", "refs/heads/main"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown head: %v, want ErrNotFound", err)
	}
	at := time.Unix(1_900_000_000, 7).UTC()
	for _, sha := range []string{"aaa", "bbb"} {
		h := store.RecoveryHead{ConnectionID: "c", Repository: "o/r", Ref: "refs/heads/main", SHA: sha, CheckedAt: at}
		if err := s.PutRecoveryHead(ctx, h); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRecoveryHead(ctx, "c", "o/r", "refs/heads/main")
		if err != nil || got.SHA != sha || !got.CheckedAt.Equal(at) {
			t.Fatalf("got %+v, %v; want %s", got, err, sha)
		}
	}
	if _, err := s.GetRecoveryHead(ctx, "c", "o/r", "refs/tags/main"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another ref: %v, want ErrNotFound", err)
	}
}

func mustCreateRecoveryConnection(t *testing.T, s RecoveryStore, name string) store.Connection {
	t.Helper()
	c := newConnection(name)
	if err := s.CreateConnection(t.Context(), c, nil, 0); err != nil {
		t.Fatal(err)
	}
	return c
}

func testListRecovered(t *testing.T, s RecoveryStore) {
	ctx := t.Context()
	c := mustCreateRecoveryConnection(t, s, "a")
	for _, id := range []string{"plain", "redelivered", store.SynthesizedDeliveryPrefix + "refs/heads/main:abc"} {
		if _, err := s.RecordEvent(ctx, newEvent(c.ID, id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddRedelivery(ctx, "repo:x", "redelivered", time.Now()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.EventFilter
		want int
	}{
		{"all", store.EventFilter{}, 3},
		{"recovered", store.EventFilter{Recovered: true}, 2},
		{"recovered of the connection", store.EventFilter{Recovered: true, ConnectionID: c.ID, Kind: "push"}, 2},
		{"recovered in a window", store.EventFilter{Recovered: true, Since: eventTime.Add(-time.Hour), Until: eventTime.Add(time.Hour)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, desc := range []bool{false, true} {
				got, err := s.ListEvents(ctx, tt.f, store.Page{Limit: 10, Descending: desc})
				if err != nil || len(got) != tt.want {
					t.Fatalf("ListEvents(%+v) = %d events, %v; want %d", tt.f, len(got), err, tt.want)
				}
				for _, e := range got {
					if tt.f.Recovered && e.DeliveryID == "plain" {
						t.Fatalf("ListEvents(%+v) lists an event recovery did not bring back", tt.f)
					}
				}
			}
		})
	}
}
