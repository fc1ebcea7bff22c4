package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/forgelink/forgelink/store"
)

func testGitHubInstallations(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	a := mustCreateConnection(t, s, newConnection("a"))
	b := mustCreateConnection(t, s, newConnection("b"))
	c := mustCreateConnection(t, s, newConnection("c"))
	for _, set := range []struct {
		conn string
		inst store.GitHubInstallation
	}{
		{a.ID, store.GitHubInstallation{AppID: 1, InstallationID: 10, Account: "acme"}},
		{b.ID, store.GitHubInstallation{AppID: 1, InstallationID: 10, Account: "acme"}},
		{c.ID, store.GitHubInstallation{AppID: 2, InstallationID: 10}}, // same installation id, other App
		{c.ID, store.GitHubInstallation{AppID: 1, InstallationID: 11}}, // replaces the previous one
	} {
		if err := s.SetGitHubInstallation(ctx, set.conn, set.inst); err != nil {
			t.Fatalf("SetGitHubInstallation(%s): %v", set.conn, err)
		}
	}
	ids := func(appID, instID int64) []string {
		t.Helper()
		conns, err := s.ConnectionsByInstallation(ctx, appID, instID)
		if err != nil {
			t.Fatalf("ConnectionsByInstallation(%d, %d): %v", appID, instID, err)
		}
		out := []string{}
		for _, c := range conns {
			out = append(out, c.ID)
		}
		return out
	}
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if got := ids(1, 10); !slices.Equal(got, want) {
		t.Errorf("installation 1/10: %v, want %v", got, want)
	}
	if got := ids(2, 10); len(got) != 0 {
		t.Errorf("replaced installation 2/10 still names %v", got)
	}
	if got := ids(1, 11); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("installation 1/11: %v", got)
	}
	if err := s.DeleteConnection(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := ids(1, 10); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("after deleting a: %v, want only b", got)
	}
	if err := s.SetGitHubInstallation(ctx, a.ID, store.GitHubInstallation{AppID: 1, InstallationID: 10}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("installation on a deleted connection: %v, want ErrNotFound", err)
	}
}
