package ingress

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// fakeRegistered is the registered Apps of two GHES hosts, each with an
// App 1 (ids are per host), and one whose lookup fails.
type fakeRegistered map[string]struct {
	id     int64
	host   string
	secret []byte
}

func (f fakeRegistered) GitHubAppSecret(_ context.Context, key string) (int64, string, []byte, error) {
	if key == "broken" {
		return 0, "", nil, errors.New("store unavailable")
	}
	app, ok := f[key]
	if !ok {
		return 0, "", nil, store.ErrNotFound
	}
	return app.id, app.host, app.secret, nil
}

func TestGitHubAppDeliveriesOfRegisteredApps(t *testing.T) {
	f := newFixture(t, store.StatusAvailable)
	ctx := t.Context()
	conns := map[string]string{} // host id → connection id
	for _, host := range []string{"ghes-a-00000001", "ghes-b-00000002"} {
		h := store.Host{ID: host, Name: host[:6], ProviderType: store.ProviderGitHubEnterpriseServer,
			ProviderEndpoint: "https://" + host[:6] + ".example.com", Region: "us-east-1", Status: store.StatusAvailable}
		if err := f.store.CreateHost(ctx, h, nil, 0); err != nil {
			t.Fatal(err)
		}
		c := store.Connection{ID: uuid.NewString(), Name: host[:6], ProviderType: store.ProviderGitHubEnterpriseServer,
			Region: "us-east-1", Status: store.StatusAvailable, HostID: host}
		if err := f.store.CreateConnection(ctx, c, nil, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.store.SetGitHubInstallation(ctx, c.ID, store.GitHubInstallation{AppID: 1, InstallationID: 1}); err != nil {
			t.Fatal(err)
		}
		conns[host] = c.ID
	}
	registered := fakeRegistered{
		"ghes-a-00000001": {1, "ghes-a-00000001", []byte("secret-a")},
		"ghes-b-00000002": {1, "ghes-b-00000002", []byte("secret-b")},
	}
	h := New(Options{
		Store: f.store, Keyring: f.kr, Log: zap.NewNop(), Now: f.clock.Now, MaxBody: 4096,
		Providers: map[string]Provider{store.ProviderGitHub: fakeProvider{}}, AppProvider: fakeProvider{},
		GitHubApps: map[int64][]byte{42: []byte("app-secret")}, RegisteredApps: registered,
		ConnectionARN: func(id string) string { return "arn:test:" + id },
	})
	f.serve(t, h)

	body := []byte(`{"repo":"acme/app","installation":{"id":1}}`)
	if status, _ := f.sendApp(t, "ghes-a-00000001", "d1", body, []byte("secret-b")); status != http.StatusUnauthorized {
		t.Errorf("host b's secret on host a's App: %d, want 401", status)
	}
	if status, _ := f.sendApp(t, "ghes-c-00000003", "d1", body, []byte("secret-a")); status != http.StatusNotFound {
		t.Errorf("unknown App key: %d, want 404", status)
	}
	if status, _ := f.sendApp(t, "broken", "d1", body, []byte("secret-a")); status != http.StatusInternalServerError {
		t.Errorf("failed lookup: %d, want 500", status)
	}
	status, out := f.sendApp(t, "ghes-a-00000001", "d1", body, []byte("secret-a"))
	if status != http.StatusAccepted {
		t.Fatalf("delivery to host a's App: %d %v", status, out)
	}
	events := f.events(t)
	if len(events) != 1 || events[0].ConnectionID != conns["ghes-a-00000001"] {
		t.Errorf("recorded %+v, want one event for host a's connection only", events)
	}
	// The configured Apps are still found by their numeric id.
	if status, _ := f.sendApp(t, "42", "d2", body, []byte("app-secret")); status != http.StatusAccepted {
		t.Errorf("configured App: %d, want 202", status)
	}
}
