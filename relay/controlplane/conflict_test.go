package controlplane

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codeconnections/types"

	"github.com/forgelink/forgelink/store"
)

// racingStore runs race once, between the control plane's read of a link
// and its conditional write: a request that loses the race, forced.
type racingStore struct {
	Store
	once sync.Once
	race func()
}

func (s *racingStore) UpdateRepositoryLink(ctx context.Context, id string, u store.RepositoryLinkUpdate) (store.RepositoryLink, error) {
	s.once.Do(s.race)
	return s.Store.UpdateRepositoryLink(ctx, id, u)
}

func (s *racingStore) DeleteRepositoryLinkIf(ctx context.Context, id string, ifUpdatedAt time.Time) error {
	s.once.Do(s.race)
	return s.Store.DeleteRepositoryLinkIf(ctx, id, ifUpdatedAt)
}

// TestLinkRaces: the loser of a race on a repository link gets the error
// the model lists for its operation (ConditionalCheckFailed for
// UpdateRepositoryLink, ConcurrentModification for DeleteRepositoryLink,
// ResourceNotFound when the winner deleted it), and the winner's write
// stands.
func TestLinkRaces(t *testing.T) {
	racerKey := "arn:aws:kms:us-east-1:123456789012:key/racer"
	ourKey := "arn:aws:kms:us-east-1:123456789012:key/ours"
	for _, tc := range []struct {
		name     string
		racer    func(ctx context.Context, st Store, id string) error
		call     func(ctx context.Context, cc *codeconnections.Client, id string) error
		want     func(err error) bool
		wantGone bool
	}{
		{"update loses to an update", updateKey(racerKey), updateVia(ourKey), isAs[*cctypes.ConditionalCheckFailedException], false},
		{"delete loses to an update", updateKey(racerKey), deleteVia, isAs[*cctypes.ConcurrentModificationException], false},
		{"update loses to a delete", deleteLink, updateVia(ourKey), isAs[*cctypes.ResourceNotFoundException], true},
		{"delete loses to a delete", deleteLink, deleteVia, isAs[*cctypes.ResourceNotFoundException], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := &racingStore{}
			f := newFixture(t, Limits{}, true, func(o *Options) { rs.Store = o.Store; o.Store = rs })
			ctx := t.Context()
			conn := f.mustConnection(t, "c", cctypes.ProviderTypeGithub)
			l, err := f.link(t, conn, "org", "app")
			if err != nil {
				t.Fatalf("CreateRepositoryLink: %v", err)
			}
			id := aws.ToString(l.RepositoryLinkId)
			rs.race = func() {
				if err := tc.racer(ctx, f.store, id); err != nil {
					t.Errorf("racer: %v", err)
				}
			}
			if err := tc.call(ctx, f.cc, id); !tc.want(err) {
				t.Fatalf("loser: %v (%s)", err, apiCode(err))
			}
			got, err := f.store.GetRepositoryLink(ctx, id)
			switch {
			case tc.wantGone:
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("after the race: %+v, %v; want it gone", got, err)
				}
			case err != nil || got.EncryptionKeyARN != racerKey:
				t.Errorf("after the race: %+v, %v; want the racer's key", got, err)
			}
		})
	}
}

func isAs[E error](err error) bool {
	var e E
	return errors.As(err, &e)
}

func updateKey(key string) func(ctx context.Context, st Store, id string) error {
	return func(ctx context.Context, st Store, id string) error {
		_, err := st.UpdateRepositoryLink(ctx, id, store.RepositoryLinkUpdate{EncryptionKeyARN: &key})
		return err
	}
}

func deleteLink(ctx context.Context, st Store, id string) error {
	return st.DeleteRepositoryLinkIf(ctx, id, time.Time{})
}

func updateVia(key string) func(ctx context.Context, cc *codeconnections.Client, id string) error {
	return func(ctx context.Context, cc *codeconnections.Client, id string) error {
		_, err := cc.UpdateRepositoryLink(ctx, &codeconnections.UpdateRepositoryLinkInput{RepositoryLinkId: &id, EncryptionKeyArn: &key})
		return err
	}
}

func deleteVia(ctx context.Context, cc *codeconnections.Client, id string) error {
	_, err := cc.DeleteRepositoryLink(ctx, &codeconnections.DeleteRepositoryLinkInput{RepositoryLinkId: &id})
	return err
}
