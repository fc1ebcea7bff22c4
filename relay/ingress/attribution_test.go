package ingress

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// TestCachedPreviousSecretExpiresOnTime: a rotated-out secret is refused
// from the very nanosecond its overlap ends, although the cache entry that
// holds it is still fresh.
func TestCachedPreviousSecretExpiresOnTime(t *testing.T) {
	counting := &countingStore{}
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) { counting.Store = o.Store; o.Store = counting })
	newSecret := []byte("new-secret")
	until := f.clock.Now().Add(cacheTTL / 2) // ends while the entry is cached
	if err := f.store.RotateWebhookSecret(t.Context(), f.conn.ID, f.kr.Seal(newSecret, []byte(f.conn.ID)), until); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"repo":"acme/app"}`)
	tests := []struct {
		at     time.Time
		secret []byte
		status int
	}{
		{f.clock.Now(), f.secret, http.StatusAccepted}, // loads the cache
		{until.Add(-time.Nanosecond), f.secret, http.StatusAccepted},
		{until, f.secret, http.StatusUnauthorized},
		{until.Add(time.Nanosecond), f.secret, http.StatusUnauthorized},
		{until.Add(time.Nanosecond), newSecret, http.StatusAccepted},
	}
	for i, tc := range tests {
		f.clock.Set(tc.at)
		if status, out := f.send(t, testDelivery{id: fmt.Sprint("e", i), body: body, secret: tc.secret}); status != tc.status {
			t.Errorf("step %d at %v: %d %v, want %d", i, tc.at.Sub(until), status, out, tc.status)
		}
	}
	if n := counting.lookups.Load(); n != 1 {
		t.Errorf("%d store lookups: want the cache to have served every step after the first", n)
	}
}

// TestAppDeliveriesStayOnTheirHost: github.com and a GHES host both know
// an App 42 with an installation 7; each App's deliveries reach only the
// connections of its own host.
func TestAppDeliveriesStayOnTheirHost(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	ctx := t.Context()
	const host = "ghes-a-00000001"
	h := store.Host{ID: host, Name: "ghes-a", ProviderType: store.ProviderGitHubEnterpriseServer,
		ProviderEndpoint: "https://ghes-a.example.com", Region: "us-east-1", Status: store.StatusAvailable}
	if err := f.store.CreateHost(ctx, h, nil, 0); err != nil {
		t.Fatal(err)
	}
	ghes := store.Connection{ID: uuid.NewString(), Name: "ghes", ProviderType: store.ProviderGitHubEnterpriseServer,
		Region: "us-east-1", Status: store.StatusAvailable, HostID: host}
	if err := f.store.CreateConnection(ctx, ghes, nil, 0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{f.conn.ID, ghes.ID} {
		if err := f.store.SetGitHubInstallation(ctx, id, store.GitHubInstallation{AppID: 42, InstallationID: 7}); err != nil {
			t.Fatal(err)
		}
	}
	f.h.opts.RegisteredApps = fakeRegistered{
		"ghes-a": {42, host, []byte("ghes-secret")},
		"github": {42, "", []byte("dotcom-secret")}, // registered by manifest on github.com
	}
	body := []byte(`{"repo":"acme/app","installation":{"id":7}}`)
	tests := []struct {
		app    string
		secret string
		want   string // the one connection recorded
	}{
		{"42", "app-secret", f.conn.ID}, // configured: a github.com App
		{"ghes-a", "ghes-secret", ghes.ID},
		{"github", "dotcom-secret", f.conn.ID},
	}
	for i, tc := range tests {
		status, out := f.sendApp(t, tc.app, fmt.Sprint("app", i), body, []byte(tc.secret))
		events, _ := out["events"].([]any)
		if status != http.StatusAccepted || len(events) != 1 {
			t.Fatalf("App %s: %d %v, want one event", tc.app, status, out)
		}
		if got := events[0].(map[string]any)["connectionId"]; got != tc.want {
			t.Errorf("App %s: recorded for %v, want %s", tc.app, got, tc.want)
		}
	}
}
