package ingress

import (
	"testing"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// TestAppDeliveriesStayInTheirRegions: App 42 serves us-east-1 only (a
// Milan connection has an App of its own); an installation id it shares
// with a Milan connection never brings that connection its deliveries.
func TestAppDeliveriesStayInTheirRegions(t *testing.T) {
	f := newFixtureWith(t, store.StatusAvailable, func(o *Options) {
		o.GitHubAppRegions = map[int64][]string{42: {"us-east-1"}}
	})
	ctx := t.Context()
	milan := store.Connection{ID: uuid.NewString(), Name: "milan", ProviderType: store.ProviderGitHub,
		Region: "eu-south-1", Status: store.StatusAvailable}
	if err := f.store.CreateConnection(ctx, milan, nil, 0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{f.conn.ID, milan.ID} { // f.conn is homed in us-east-1
		if err := f.store.SetGitHubInstallation(ctx, id, store.GitHubInstallation{AppID: 42, InstallationID: 7}); err != nil {
			t.Fatal(err)
		}
	}
	status, out := f.sendApp(t, "42", "d1", []byte(`{"repo":"acme/app","installation":{"id":7}}`), []byte("app-secret"))
	if events, _ := out["events"].([]any); status != 202 || len(events) != 1 {
		t.Fatalf("App delivery: %d %v, want one event", status, out)
	}
	for _, e := range f.events(t) {
		if e.ConnectionID != f.conn.ID {
			t.Errorf("an event was recorded for %s, a connection of another region than the App's", e.ConnectionID)
		}
	}
}
