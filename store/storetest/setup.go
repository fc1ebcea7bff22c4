package storetest

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/forgelink/forgelink/store"
)

func testSetup(t *testing.T, open opener) {
	t.Run("Nonces", func(t *testing.T) { testNonces(t, open(t)) })
	t.Run("ProviderApps", func(t *testing.T) { testProviderApps(t, open(t)) })
	t.Run("ExpiringCredentials", func(t *testing.T) { testExpiringCredentials(t, open(t)) })
}

func testNonces(t *testing.T, s Store) {
	ctx := t.Context()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, n := range []struct {
		id, purpose string
		expires     time.Time
	}{
		{"a", "connection", now.Add(10 * time.Minute)},
		{"b", "connection", now.Add(-time.Second)}, // already expired
		{"c", "host", now.Add(10 * time.Minute)},
		{"d", "host", now.Add(10 * time.Minute)},
	} {
		if err := s.CreateNonce(ctx, n.id, n.purpose, n.expires); err != nil {
			t.Fatalf("CreateNonce(%s): %v", n.id, err)
		}
	}
	checkErr(t, "CreateNonce(a) again", s.CreateNonce(ctx, "a", "connection", now.Add(time.Hour)), store.ErrAlreadyExists)
	for _, c := range []struct {
		id, purpose string
		at          time.Time
		want        error
	}{
		{"a", "connection", now, nil},
		{"a", "connection", now, store.ErrNotFound}, // replayed
		{"b", "connection", now, store.ErrNotFound}, // expired
		{"c", "connection", now, store.ErrNotFound}, // other purpose
		{"c", "host", now, nil},                     // still there after the mismatch
		{"d", "host", now.Add(10 * time.Minute), store.ErrNotFound},
		{"zz", "host", now, store.ErrNotFound},
	} {
		checkErr(t, "ConsumeNonce("+c.id+", "+c.purpose+")", s.ConsumeNonce(ctx, c.id, c.purpose, c.at), c.want)
	}
	// The expired ones were collected: their ids are free again.
	for _, id := range []string{"b", "d"} {
		if err := s.CreateNonce(ctx, id, "host", now.Add(time.Hour)); err != nil {
			t.Errorf("CreateNonce(%s) after expiry: %v", id, err)
		}
	}
}

func testProviderApps(t *testing.T, s Store) {
	ctx := t.Context()
	h := newHost("ghes", "us-east-1")
	h.Status = store.StatusPending
	mustCreateHost(t, s, h)
	hostApp := store.ProviderApp{ID: h.ID, Kind: store.AppGitHub, HostID: h.ID, AppID: 7, Slug: "forgelink-ab",
		Name: "forgelink ab", ClientID: "Iv1.x", Owner: "admin", HTMLURL: "https://ghes/apps/forgelink-ab", Sealed: []byte{1, 2}}
	cloud := store.ProviderApp{ID: "gh-1", Kind: store.AppGitHub, AppID: 900001, Slug: "forgelink-cd", Sealed: []byte{3}}
	checkErr(t, "SaveProviderApp(unknown host)", s.SaveProviderApp(ctx,
		store.ProviderApp{ID: "nope-12345678", Kind: store.AppGitLabOAuth, HostID: "nope-12345678", Sealed: []byte{1}}), store.ErrNotFound)
	for _, app := range []store.ProviderApp{cloud, hostApp} {
		if err := s.SaveProviderApp(ctx, app); err != nil {
			t.Fatalf("SaveProviderApp(%s): %v", app.ID, err)
		}
	}
	if got, err := s.GetHost(ctx, h.ID); err != nil || got.Status != store.StatusAvailable || got.StatusMessage != "" {
		t.Errorf("host after SaveProviderApp: %+v, %v; want AVAILABLE", got, err)
	}
	got, err := s.GetProviderApp(ctx, h.ID)
	if err != nil {
		t.Fatalf("GetProviderApp: %v", err)
	}
	checkTimes(t, got.CreatedAt, got.UpdatedAt)
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, hostApp) {
		t.Errorf("GetProviderApp = %+v, want %+v", got, hostApp)
	}
	// Registering again replaces the app under the same id.
	hostApp.AppID, hostApp.Sealed = 8, []byte{9}
	if err := s.SaveProviderApp(ctx, hostApp); err != nil {
		t.Fatalf("SaveProviderApp again: %v", err)
	}
	if got, err := s.GetProviderApp(ctx, h.ID); err != nil || got.AppID != 8 || !bytes.Equal(got.Sealed, []byte{9}) {
		t.Errorf("replaced app: %+v, %v", got, err)
	}
	_, err = s.GetProviderApp(ctx, "gh-2")
	checkErr(t, "GetProviderApp(unknown)", err, store.ErrNotFound)
	all, err := s.ListProviderApps(ctx)
	if err != nil {
		t.Fatalf("ListProviderApps: %v", err)
	}
	var ids []string
	for _, a := range all {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{cloud.ID, h.ID}) {
		t.Errorf("ListProviderApps ids %v, want oldest first %v", ids, []string{cloud.ID, h.ID})
	}
	// Deleting the host deletes its app and the secrets sealed in it.
	if err := s.DeleteHost(ctx, h.ID); err != nil {
		t.Fatalf("DeleteHost: %v", err)
	}
	_, err = s.GetProviderApp(ctx, h.ID)
	checkErr(t, "GetProviderApp(deleted host)", err, store.ErrNotFound)
	if _, err := s.GetProviderApp(ctx, cloud.ID); err != nil {
		t.Errorf("the cloud app after deleting a host: %v", err)
	}
}

func testExpiringCredentials(t *testing.T, s Store) {
	ctx := t.Context()
	soon := time.Now().UTC().Add(5 * time.Minute).Truncate(time.Microsecond)
	due := mustCreateConnection(t, s, newConnection("due"))
	later := mustCreateConnection(t, s, newConnection("later"))
	pat := mustCreateConnection(t, s, newConnection("pat"))
	failed := mustCreateConnection(t, s, newConnection("failed"))
	for _, c := range []struct {
		conn    store.Connection
		expires time.Time
	}{{due, soon}, {later, soon.Add(time.Hour)}, {pat, time.Time{}}, {failed, soon}} {
		cred := store.Credential{Kind: store.CredentialOAuth, Sealed: []byte(c.conn.Name), Account: "u", ExpiresAt: c.expires}
		if err := s.SetConnectionCredential(ctx, c.conn.ID, cred); err != nil {
			t.Fatalf("SetConnectionCredential(%s): %v", c.conn.Name, err)
		}
	}
	if err := s.SetConnectionStatus(ctx, failed.ID, store.StatusError, "refresh failed"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnectionCredential(ctx, due.ID)
	if err != nil || !got.ExpiresAt.Equal(soon) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("credential expiry %v (%v), want %v UTC", got.ExpiresAt, err, soon)
	}
	if got, err := s.GetConnectionCredential(ctx, pat.ID); err != nil || !got.ExpiresAt.IsZero() {
		t.Errorf("credential without expiry: %v (%v), want zero", got.ExpiresAt, err)
	}
	expiring := func() []string {
		t.Helper()
		conns, err := s.ExpiringCredentials(ctx, soon.Add(10*time.Minute))
		if err != nil {
			t.Fatalf("ExpiringCredentials: %v", err)
		}
		var names []string
		for _, c := range conns {
			names = append(names, c.Name)
		}
		return names
	}
	if got := expiring(); !slices.Equal(got, []string{"due"}) {
		t.Errorf("ExpiringCredentials = %v, want [due]", got)
	}

	// A rotation applies only over the credential it was computed from.
	next := soon.Add(2 * time.Hour)
	checkErr(t, "RotateCredential(stale)", s.RotateCredential(ctx, due.ID, []byte("stale"), []byte("new"), next), store.ErrNotFound)
	if err := s.RotateCredential(ctx, due.ID, []byte("due"), []byte("new"), next); err != nil {
		t.Fatalf("RotateCredential: %v", err)
	}
	got, err = s.GetConnectionCredential(ctx, due.ID)
	if err != nil || string(got.Sealed) != "new" || !got.ExpiresAt.Equal(next) || got.Account != "u" || got.Kind != store.CredentialOAuth {
		t.Errorf("rotated credential %+v, %v", got, err)
	}
	if got := expiring(); len(got) != 0 {
		t.Errorf("ExpiringCredentials after rotation = %v, want none", got)
	}
	if err := s.DeleteConnection(ctx, due.ID); err != nil {
		t.Fatal(err)
	}
	checkErr(t, "RotateCredential(deleted)", s.RotateCredential(ctx, due.ID, []byte("new"), []byte("x"), next), store.ErrNotFound)
}
