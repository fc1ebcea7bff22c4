package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// overlapEnd is when the overlaps of the secret tests end: far beyond any
// store clock, so that which secrets are valid depends only on the now
// passed to WebhookSecrets.
var overlapEnd = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)

// sealed is the i-th sealed secret of a test: arbitrary bytes, as
// ciphertext is.
func sealed(i int) []byte {
	return fmt.Appendf([]byte{0, 0xff}, "sealed-%d", i)
}

// mustCreateSecretConnection creates a connection whose first secret is
// sealed(0).
func mustCreateSecretConnection(t *testing.T, s Store, name string) store.Connection {
	t.Helper()
	c := newConnection(name)
	c.WebhookSecret = sealed(0)
	return mustCreateConnection(t, s, c)
}

func mustRotate(t *testing.T, s Store, connID string, i int, previousUntil time.Time) {
	t.Helper()
	if err := s.RotateWebhookSecret(t.Context(), connID, sealed(i), previousUntil); err != nil {
		t.Fatalf("RotateWebhookSecret(sealed(%d)): %v", i, err)
	}
}

// checkSecrets checks that the secrets of connID valid at now are sealed(i)
// for each i of want, in that order: newest first, only the first current.
func checkSecrets(t *testing.T, s Store, connID string, now time.Time, want ...int) {
	t.Helper()
	got, err := s.WebhookSecrets(t.Context(), connID, now)
	if err != nil {
		t.Fatalf("WebhookSecrets(%v): %v", now, err)
	}
	var gotSealed, wantSealed []string
	for _, i := range want {
		wantSealed = append(wantSealed, string(sealed(i)))
	}
	for i, w := range got {
		gotSealed = append(gotSealed, string(w.Sealed))
		if w.CreatedAt.IsZero() || w.CreatedAt.Location() != time.UTC {
			t.Errorf("at %v: secret %q created at %v, want a UTC time", now, w.Sealed, w.CreatedAt)
		}
		if i == 0 {
			if !w.ExpiresAt.IsZero() {
				t.Errorf("at %v: current secret %q expires at %v, want never", now, w.Sealed, w.ExpiresAt)
			}
			continue
		}
		if !w.ExpiresAt.After(now) || w.ExpiresAt.Location() != time.UTC {
			t.Errorf("at %v: previous secret %q expires at %v, want a UTC time after now", now, w.Sealed, w.ExpiresAt)
		}
		if !w.CreatedAt.Before(got[i-1].CreatedAt) {
			t.Errorf("at %v: secret %q created at %v, not before the newer one (%v)", now, w.Sealed, w.CreatedAt, got[i-1].CreatedAt)
		}
	}
	if !slices.Equal(gotSealed, wantSealed) {
		t.Errorf("at %v: secrets %q, want %q", now, gotSealed, wantSealed)
	}
}

func testWebhookSecrets(t *testing.T, open opener) {
	const ns, hour = time.Nanosecond, time.Hour
	end := overlapEnd
	type validAt struct {
		now  time.Time
		want []int // the secrets valid at now, newest first
	}
	tests := []struct {
		name   string
		until  []time.Time // previousUntil of each rotation; rotation i installs sealed(i+1)
		checks []validAt
	}{
		{
			name:   "created",
			checks: []validAt{{end.Add(-hour), []int{0}}, {end.Add(hour), []int{0}}},
		},
		{
			name:   "rotated",
			until:  []time.Time{end},
			checks: []validAt{{end.Add(-ns), []int{1, 0}}, {end, []int{1}}, {end.Add(ns), []int{1}}},
		},
		{
			name:   "rotated twice within the overlap",
			until:  []time.Time{end, end},
			checks: []validAt{{end.Add(-ns), []int{2, 1, 0}}, {end, []int{2}}},
		},
		{
			name:  "longer second overlap",
			until: []time.Time{end, end.Add(hour)},
			checks: []validAt{
				{end.Add(-ns), []int{2, 1, 0}}, {end, []int{2, 1}},
				{end.Add(hour - ns), []int{2, 1}}, {end.Add(hour), []int{2}},
			},
		},
		{
			name:   "shorter second overlap ends the first",
			until:  []time.Time{end, end.Add(-hour)},
			checks: []validAt{{end.Add(-hour - ns), []int{2, 1, 0}}, {end.Add(-hour), []int{2}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			c := mustCreateSecretConnection(t, s, "rotated")
			neighbour := mustCreateSecretConnection(t, s, "neighbour")
			for i, until := range tt.until {
				mustRotate(t, s, c.ID, i+1, until)
			}
			for _, v := range tt.checks {
				checkSecrets(t, s, c.ID, v.now, v.want...)
			}
			checkSecrets(t, s, neighbour.ID, end.Add(hour), 0)
		})
	}
}

func testWebhookSecretsMissing(t *testing.T, open opener) {
	s := open(t)
	deleted := mustCreateSecretConnection(t, s, "deleted")
	mustRotate(t, s, deleted.ID, 1, overlapEnd)
	if err := s.DeleteConnection(t.Context(), deleted.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	for _, tt := range []struct{ name, id string }{
		{"unknown", uuid.NewString()},
		{"deleted", deleted.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.WebhookSecrets(t.Context(), tt.id, overlapEnd.Add(-time.Hour))
			checkErr(t, "WebhookSecrets", err, store.ErrNotFound)
			checkErr(t, "RotateWebhookSecret", s.RotateWebhookSecret(t.Context(), tt.id, sealed(2), overlapEnd), store.ErrNotFound)
		})
	}
	t.Run("created without a secret", func(t *testing.T) {
		checkSecrets(t, s, mustCreateConnection(t, s, newConnection("bare")).ID, overlapEnd)
	})
}
