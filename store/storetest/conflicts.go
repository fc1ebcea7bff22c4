package storetest

import (
	"testing"

	"github.com/forgelink/forgelink/store"
)

// testLinkConflicts interleaves two requests on one repository link
// deterministically: both read the link, one writes, then the other writes
// on its stale read. The loser gets ErrConflict and changes nothing.
func testLinkConflicts(t *testing.T, open opener) {
	keyA := "arn:aws:kms:us-east-1:123456789012:key/a"
	keyB := "arn:aws:kms:us-east-1:123456789012:key/b"
	update := func(key string) func(s Store, l store.RepositoryLink) error {
		return func(s Store, l store.RepositoryLink) error {
			_, err := s.UpdateRepositoryLink(t.Context(), l.ID, store.RepositoryLinkUpdate{EncryptionKeyARN: &key, IfUpdatedAt: l.UpdatedAt})
			return err
		}
	}
	del := func(s Store, l store.RepositoryLink) error {
		return s.DeleteRepositoryLinkIf(t.Context(), l.ID, l.UpdatedAt)
	}
	for _, tc := range []struct {
		name          string
		first, second func(s Store, l store.RepositoryLink) error
		want          error // of second
		wantKey       string
		wantGone      bool
	}{
		{"update then update", update(keyA), update(keyB), store.ErrConflict, keyA, false},
		{"update then delete", update(keyA), del, store.ErrConflict, keyA, false},
		{"delete then update", del, update(keyB), store.ErrNotFound, "", true},
		{"delete then delete", del, del, store.ErrNotFound, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			conn := mustCreateConnection(t, s, newConnection("c"))
			l := mustCreateLink(t, s, newLink(conn, "org", "app"))
			ref := store.ResourceRef{Kind: store.KindRepositoryLink, ID: l.ID}
			tag := store.Tag{Key: "team", Value: "x"}
			if err := s.TagResource(t.Context(), ref, []store.Tag{tag}, 0); err != nil {
				t.Fatalf("TagResource: %v", err)
			}
			read, err := s.GetRepositoryLink(t.Context(), l.ID) // both requests' read
			if err != nil {
				t.Fatalf("GetRepositoryLink: %v", err)
			}
			if err := tc.first(s, read); err != nil {
				t.Fatalf("first: %v", err)
			}
			checkErr(t, "second", tc.second(s, read), tc.want)
			got, err := s.GetRepositoryLink(t.Context(), l.ID)
			if tc.wantGone {
				checkErr(t, "GetRepositoryLink", err, store.ErrNotFound)
				return
			}
			if err != nil || got.EncryptionKeyARN != tc.wantKey {
				t.Errorf("after the race: %+v, %v; want key %s", got, err, tc.wantKey)
			}
			checkTags(t, s, ref, tag)
		})
	}
}

// testLinkVersions: every update moves UpdatedAt forward, even on a store
// clock that does not move, so that it serves as the link's version; an
// update on an old read is refused, an unconditional one (zero
// IfUpdatedAt) is not checked.
func testLinkVersions(t *testing.T, open opener) {
	s := open(t)
	conn := mustCreateConnection(t, s, newConnection("c"))
	l := mustCreateLink(t, s, newLink(conn, "org", "app"))
	first, err := s.GetRepositoryLink(t.Context(), l.ID)
	if err != nil {
		t.Fatalf("GetRepositoryLink: %v", err)
	}
	key := "arn:aws:kms:us-east-1:123456789012:key/a"
	prev := first
	for i := range 2 {
		got, err := s.UpdateRepositoryLink(t.Context(), l.ID, store.RepositoryLinkUpdate{EncryptionKeyARN: &key, IfUpdatedAt: prev.UpdatedAt})
		if err != nil {
			t.Fatalf("UpdateRepositoryLink %d: %v", i, err)
		}
		if !got.UpdatedAt.After(prev.UpdatedAt) {
			t.Errorf("update %d: UpdatedAt %v, not after %v", i, got.UpdatedAt, prev.UpdatedAt)
		}
		prev = got
	}
	_, err = s.UpdateRepositoryLink(t.Context(), l.ID, store.RepositoryLinkUpdate{EncryptionKeyARN: &key, IfUpdatedAt: first.UpdatedAt})
	checkErr(t, "UpdateRepositoryLink(old read)", err, store.ErrConflict)
	if _, err := s.UpdateRepositoryLink(t.Context(), l.ID, store.RepositoryLinkUpdate{EncryptionKeyARN: &key}); err != nil {
		t.Errorf("unconditional update: %v", err)
	}
}

// testLostRaces: where the model lists no ConcurrentModificationException,
// a write that loses a race with a delete is the losing operation's
// ResourceNotFound, and leaves nothing behind (no orphaned tags).
func testLostRaces(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	conn := mustCreateConnection(t, s, newConnection("c"))
	host := mustCreateHost(t, s, newHost("h", "us-east-1"))
	if err := s.DeleteConnection(ctx, conn.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if err := s.DeleteHost(ctx, host.ID); err != nil {
		t.Fatalf("DeleteHost: %v", err)
	}
	tag := []store.Tag{{Key: "k", Value: "v"}}
	checkErr(t, "TagResource(deleted connection)", s.TagResource(ctx, connectionRef(conn.ID), tag, 50), store.ErrNotFound)
	checkErr(t, "TagResource(deleted host)", s.TagResource(ctx, hostRef(host.ID), tag, 50), store.ErrNotFound)
	checkErr(t, "UntagResource(deleted connection)", s.UntagResource(ctx, connectionRef(conn.ID), []string{"k"}), store.ErrNotFound)
	endpoint := "https://ghes.example.com"
	_, err := s.UpdateHost(ctx, host.ID, store.HostUpdate{ProviderEndpoint: &endpoint})
	checkErr(t, "UpdateHost(deleted)", err, store.ErrNotFound)
	_, err = s.ListTags(ctx, connectionRef(conn.ID))
	checkErr(t, "ListTags(deleted connection)", err, store.ErrNotFound)
}
