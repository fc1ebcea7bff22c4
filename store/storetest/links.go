package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

func newLink(conn store.Connection, owner, name string) store.RepositoryLink {
	return store.RepositoryLink{
		ID:             uuid.NewString(),
		ConnectionID:   conn.ID,
		OwnerID:        owner,
		RepositoryName: name,
		Region:         "us-east-1",
	}
}

func mustCreateLink(t *testing.T, s Store, l store.RepositoryLink) store.RepositoryLink {
	t.Helper()
	if err := s.CreateRepositoryLink(t.Context(), l, nil, 0); err != nil {
		t.Fatalf("CreateRepositoryLink(%s): %v", l.Repository(), err)
	}
	return l
}

// checkLink compares got with want, whose timestamps are ignored and whose
// provider type is the connection's.
func checkLink(t *testing.T, got, want store.RepositoryLink, providerType string) {
	t.Helper()
	checkTimes(t, got.CreatedAt, got.UpdatedAt)
	got.CreatedAt, got.UpdatedAt = want.CreatedAt, want.UpdatedAt
	want.ProviderType = providerType
	if got != want {
		t.Errorf("link\n got %+v\nwant %+v", got, want)
	}
}

func testRepositoryLinks(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	gh := mustCreateConnection(t, s, newConnection("gh"))
	gl := newConnection("gl")
	gl.ProviderType = store.ProviderGitLab
	mustCreateConnection(t, s, gl)

	l := newLink(gl, "group/sub", "app")
	l.EncryptionKeyARN = "arn:aws:kms:us-east-1:123456789012:key/k1"
	if err := s.CreateRepositoryLink(ctx, l, []store.Tag{{Key: "team", Value: "ci"}}, 0); err != nil {
		t.Fatalf("CreateRepositoryLink: %v", err)
	}
	got, err := s.GetRepositoryLink(ctx, l.ID)
	if err != nil {
		t.Fatalf("GetRepositoryLink: %v", err)
	}
	checkLink(t, got, l, store.ProviderGitLab)

	for _, tc := range []struct {
		name string
		link store.RepositoryLink
		want error
	}{
		{"same repository", newLink(gl, "group/sub", "app"), store.ErrAlreadyExists},
		{"other letter case", newLink(gl, "Group/Sub", "App"), store.ErrAlreadyExists},
		{"same id", store.RepositoryLink{ID: l.ID, ConnectionID: gh.ID, OwnerID: "o", RepositoryName: "r", Region: "us-east-1"}, store.ErrAlreadyExists},
		{"unknown connection", newLink(store.Connection{ID: uuid.NewString()}, "o", "r"), store.ErrNotFound},
	} {
		checkErr(t, "CreateRepositoryLink("+tc.name+")", s.CreateRepositoryLink(ctx, tc.link, nil, 0), tc.want)
	}
	// The same repository on another connection is another link.
	other := mustCreateLink(t, s, newLink(gh, "group/sub", "app"))
	checkErr(t, "CreateRepositoryLink over quota", s.CreateRepositoryLink(ctx, newLink(gh, "o", "r"), nil, 2), store.ErrLimitExceeded)
	third := newLink(gh, "o", "r")
	if err := s.CreateRepositoryLink(ctx, third, nil, 3); err != nil {
		t.Fatalf("CreateRepositoryLink at quota: %v", err)
	}

	repos, err := s.LinkedRepositories(ctx, gh.ID)
	if err != nil {
		t.Fatalf("LinkedRepositories: %v", err)
	}
	if want := []string{"group/sub/app", "o/r"}; !slices.Equal(repos, want) {
		t.Errorf("LinkedRepositories = %q, want %q", repos, want)
	}

	_, err = s.GetRepositoryLink(ctx, uuid.NewString())
	checkErr(t, "GetRepositoryLink(unknown)", err, store.ErrNotFound)
	if err := s.DeleteRepositoryLink(ctx, other.ID); err != nil {
		t.Fatalf("DeleteRepositoryLink: %v", err)
	}
	_, err = s.GetRepositoryLink(ctx, other.ID)
	checkErr(t, "GetRepositoryLink(deleted)", err, store.ErrNotFound)
	checkErr(t, "DeleteRepositoryLink(deleted)", s.DeleteRepositoryLink(ctx, other.ID), store.ErrNotFound)
}

func testListRepositoryLinks(t *testing.T, open opener) {
	s := open(t)
	a := mustCreateConnection(t, s, newConnection("a"))
	b := mustCreateConnection(t, s, newConnection("b"))
	var all, ofA []string
	for i := range 7 {
		conn := a
		if i%3 == 0 {
			conn = b
		}
		l := mustCreateLink(t, s, newLink(conn, "owner", uuid.NewString()))
		all = append(all, l.ID)
		if conn.ID == a.ID {
			ofA = append(ofA, l.ID)
		}
	}
	slices.Sort(all)
	slices.Sort(ofA)
	list := func(f store.RepositoryLinkFilter) func(store.Page) ([]store.RepositoryLink, error) {
		return func(p store.Page) ([]store.RepositoryLink, error) { return s.ListRepositoryLinks(t.Context(), f, p) }
	}
	id := func(l store.RepositoryLink) string { return l.ID }
	for _, limit := range []int{0, 1, 3, 7, 8} {
		if got := pageAll(t, limit, list(store.RepositoryLinkFilter{}), id); !slices.Equal(got, all) {
			t.Errorf("limit %d: %v, want %v", limit, got, all)
		}
		if got := pageAll(t, limit, list(store.RepositoryLinkFilter{ConnectionID: a.ID}), id); !slices.Equal(got, ofA) {
			t.Errorf("limit %d, connection a: %v, want %v", limit, got, ofA)
		}
	}
	// A deleted connection's links name nothing.
	if err := s.DeleteConnection(t.Context(), b.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if got := pageAll(t, 0, list(store.RepositoryLinkFilter{}), id); !slices.Equal(got, ofA) {
		t.Errorf("after deleting connection b: %v, want %v", got, ofA)
	}
}

func testUpdateRepositoryLink(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	a := mustCreateConnection(t, s, newConnection("a"))
	b := mustCreateConnection(t, s, newConnection("b"))
	l := mustCreateLink(t, s, newLink(a, "org", "app"))
	mustCreateLink(t, s, newLink(b, "org", "taken"))

	key := "arn:aws:kms:us-east-1:123456789012:key/k2"
	got, err := s.UpdateRepositoryLink(ctx, l.ID, store.RepositoryLinkUpdate{EncryptionKeyARN: &key})
	if err != nil {
		t.Fatalf("UpdateRepositoryLink(key): %v", err)
	}
	l.EncryptionKeyARN = key
	checkLink(t, got, l, store.ProviderGitHub)

	got, err = s.UpdateRepositoryLink(ctx, l.ID, store.RepositoryLinkUpdate{ConnectionID: &b.ID})
	if err != nil {
		t.Fatalf("UpdateRepositoryLink(connection): %v", err)
	}
	l.ConnectionID = b.ID
	checkLink(t, got, l, store.ProviderGitHub)

	taken := mustCreateLink(t, s, newLink(a, "org", "taken"))
	missing := uuid.NewString()
	for _, tc := range []struct {
		name string
		id   string
		u    store.RepositoryLinkUpdate
		want error
	}{
		{"onto a connection linking the repository", taken.ID, store.RepositoryLinkUpdate{ConnectionID: &b.ID}, store.ErrAlreadyExists},
		{"onto an unknown connection", l.ID, store.RepositoryLinkUpdate{ConnectionID: &missing}, store.ErrNotFound},
		{"unknown link", missing, store.RepositoryLinkUpdate{EncryptionKeyARN: &key}, store.ErrNotFound},
	} {
		_, err := s.UpdateRepositoryLink(ctx, tc.id, tc.u)
		checkErr(t, "UpdateRepositoryLink("+tc.name+")", err, tc.want)
	}
	// Refused updates changed nothing.
	if got, err := s.GetRepositoryLink(ctx, taken.ID); err != nil || got.ConnectionID != a.ID {
		t.Errorf("after refused update: %+v, %v", got, err)
	}
}

func testHookLeases(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	c := mustCreateConnection(t, s, newConnection("c"))
	now := time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)
	until := now.Add(time.Minute)

	h, ok, err := s.ClaimHook(ctx, c.ID, "org/app", "one", now, until)
	if err != nil || !ok {
		t.Fatalf("ClaimHook(new) = %v, %v", ok, err)
	}
	want := store.RegisteredHook{ConnectionID: c.ID, Repository: "org/app", State: store.HookPending, LeaseOwner: "one", LeaseUntil: until}
	if h != want {
		t.Errorf("claimed row\n got %+v\nwant %+v", h, want)
	}
	if h, ok, err := s.ClaimHook(ctx, c.ID, "org/app", "two", now.Add(time.Second), until.Add(time.Second)); err != nil || ok || h.LeaseOwner != "one" {
		t.Errorf("ClaimHook(leased to another) = %+v, %v, %v; want the row leased to one, not claimed", h, ok, err)
	}
	done := store.RegisteredHook{ConnectionID: c.ID, Repository: "org/app", HookID: "42", URL: "https://f.example/webhooks/x",
		SecretCreatedAt: now.Add(-time.Hour), State: store.HookOK, CheckedAt: now, LeaseOwner: "two"}
	checkErr(t, "CompleteHook(not the holder)", s.CompleteHook(ctx, done), store.ErrLeaseLost)
	done.LeaseOwner = "one"
	if err := s.CompleteHook(ctx, done); err != nil {
		t.Fatalf("CompleteHook: %v", err)
	}
	hooks, err := s.RegisteredHooks(ctx, c.ID)
	done.LeaseOwner = ""
	if err != nil || len(hooks) != 1 || hooks[0] != done {
		t.Errorf("RegisteredHooks = %+v, %v; want [%+v]", hooks, err, done)
	}

	// A completed lease is free; an expired one too.
	if _, ok, err := s.ClaimHook(ctx, c.ID, "org/app", "two", now, until); err != nil || !ok {
		t.Errorf("ClaimHook(after completion) = %v, %v", ok, err)
	}
	if _, ok, err := s.ClaimHook(ctx, c.ID, "org/app", "one", until, until.Add(time.Minute)); err != nil || !ok {
		t.Errorf("ClaimHook(expired lease) = %v, %v", ok, err)
	}
	if err := s.ReleaseHook(ctx, c.ID, "org/app", "two"); err != nil {
		t.Errorf("ReleaseHook(not the holder): %v", err)
	}
	checkErr(t, "DeleteRegisteredHook(not the holder)", s.DeleteRegisteredHook(ctx, c.ID, "org/app", "two"), store.ErrLeaseLost)
	if err := s.ReleaseHook(ctx, c.ID, "org/app", "one"); err != nil {
		t.Fatalf("ReleaseHook: %v", err)
	}
	if _, ok, _ := s.ClaimHook(ctx, c.ID, "org/app", "two", now, until); !ok {
		t.Error("ClaimHook after release: not claimed")
	}
	if err := s.DeleteRegisteredHook(ctx, c.ID, "org/app", "two"); err != nil {
		t.Fatalf("DeleteRegisteredHook: %v", err)
	}
	if hooks, err := s.RegisteredHooks(ctx, c.ID); err != nil || len(hooks) != 0 {
		t.Errorf("RegisteredHooks after delete = %+v, %v", hooks, err)
	}

	for _, repo := range []string{"a/1", "a/2"} {
		if _, _, err := s.ClaimHook(ctx, c.ID, repo, "one", now, until); err != nil {
			t.Fatalf("ClaimHook(%s): %v", repo, err)
		}
	}
	if err := s.DeleteRegisteredHooks(ctx, c.ID); err != nil {
		t.Fatalf("DeleteRegisteredHooks: %v", err)
	}
	if hooks, err := s.RegisteredHooks(ctx, c.ID); err != nil || len(hooks) != 0 {
		t.Errorf("RegisteredHooks after DeleteRegisteredHooks = %+v, %v", hooks, err)
	}
	_, _, err = s.ClaimHook(ctx, uuid.NewString(), "org/app", "one", now, until)
	checkErr(t, "ClaimHook(unknown connection)", err, store.ErrNotFound)
}

// testConcurrentHookClaims: of claimers racing for one row, exactly one
// wins, whether the row exists yet or not.
func testConcurrentHookClaims(t *testing.T, open opener) {
	s := open(t)
	c := mustCreateConnection(t, s, newConnection("c"))
	now := time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)
	for round := range 2 {
		claimed := make([]bool, 8)
		errs := concurrently(len(claimed), func(i int) error {
			var err error
			_, claimed[i], err = s.ClaimHook(t.Context(), c.ID, "org/app", uuid.NewString(), now, now.Add(time.Minute))
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: ClaimHook: %v", round, err)
			}
		}
		if n := len(slices.DeleteFunc(claimed, func(b bool) bool { return !b })); n != 1 {
			t.Errorf("round %d: %d claimers won, want 1", round, n)
		}
		now = now.Add(2 * time.Minute) // the lease has run out
	}
}

func testHoldPreviousWebhookSecrets(t *testing.T, open opener) {
	const hour = time.Hour
	end := overlapEnd
	s := open(t)
	c := mustCreateSecretConnection(t, s, "held")
	mustRotate(t, s, c.ID, 1, end)
	hold := func(now, until time.Time) {
		t.Helper()
		if err := s.HoldPreviousWebhookSecrets(t.Context(), c.ID, now, until); err != nil {
			t.Fatalf("HoldPreviousWebhookSecrets: %v", err)
		}
	}
	hold(end.Add(-hour), end.Add(hour))
	checkSecrets(t, s, c.ID, end.Add(hour-time.Nanosecond), 1, 0)
	checkSecrets(t, s, c.ID, end.Add(hour), 1)
	hold(end.Add(-hour), end) // never shortens
	checkSecrets(t, s, c.ID, end.Add(hour-time.Nanosecond), 1, 0)
	hold(end.Add(hour), end.Add(2*hour)) // never revives
	checkSecrets(t, s, c.ID, end.Add(hour), 1)
	checkErr(t, "HoldPreviousWebhookSecrets(unknown)", s.HoldPreviousWebhookSecrets(t.Context(), uuid.NewString(), end, end), store.ErrNotFound)
}

// testLinksAndHooks runs the repository-link and hook-registry checks.
func testLinksAndHooks(t *testing.T, open opener) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"Create", testRepositoryLinks},
		{"List", testListRepositoryLinks},
		{"Update", testUpdateRepositoryLink},
		{"Conflicts", testLinkConflicts},
		{"Versions", testLinkVersions},
		{"LostRaces", testLostRaces},
		{"HookLeases", testHookLeases},
		{"ConcurrentHookClaims", testConcurrentHookClaims},
		{"HoldPreviousWebhookSecrets", testHoldPreviousWebhookSecrets},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}
