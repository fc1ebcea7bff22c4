// Package storetest is the conformance suite every store implementation
// runs from its own tests, so that SQLite and PostgreSQL behave alike.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

// Store is the behaviour the suite checks.
type Store interface {
	CreateConnection(ctx context.Context, c store.Connection, tags []store.Tag, maxConnections int) error
	GetConnection(ctx context.Context, id string) (store.Connection, error)
	ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, error)
	DeleteConnection(ctx context.Context, id string) error
	SetConnectionStatus(ctx context.Context, id, status, reason string) error

	CreateHost(ctx context.Context, h store.Host, tags []store.Tag, maxHosts int) error
	GetHost(ctx context.Context, id string) (store.Host, error)
	ListHosts(ctx context.Context, f store.HostFilter, p store.Page) ([]store.Host, error)
	UpdateHost(ctx context.Context, id string, u store.HostUpdate) (store.Host, error)
	SetHostStatus(ctx context.Context, id, status, message string) error
	DeleteHost(ctx context.Context, id string) error

	TagResource(ctx context.Context, r store.ResourceRef, tags []store.Tag, maxTags int) error
	UntagResource(ctx context.Context, r store.ResourceRef, keys []string) error
	ListTags(ctx context.Context, r store.ResourceRef) ([]store.Tag, error)

	WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error)
	RotateWebhookSecret(ctx context.Context, connID string, sealed []byte, previousUntil time.Time) error

	RecordEvent(ctx context.Context, e store.Event) (duplicate bool, err error)
	GetEvent(ctx context.Context, id string) (store.Event, error)
	ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error)

	UnroutedEvents(ctx context.Context, limit int) ([]store.Event, error)
	RouteEvent(ctx context.Context, eventID string, ds []store.Delivery) error
	ClaimDeliveries(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error)
	CompleteAttempts(ctx context.Context, results []store.AttemptResult) error
	GetDelivery(ctx context.Context, id string) (store.Delivery, []store.Attempt, error)
	ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error)
	Redeliver(ctx context.Context, id string) error
	Discard(ctx context.Context, id string) error
	DeliveryStats(ctx context.Context) (store.DeliveryStats, error)
	CompleteDeliveryFiles(ctx context.Context, id, owner string, attempt int, message []byte) error

	SetGitHubInstallation(ctx context.Context, connID string, inst store.GitHubInstallation) error
	ConnectionsByInstallation(ctx context.Context, appID, installationID int64) ([]store.Connection, error)

	CreateRepositoryLink(ctx context.Context, l store.RepositoryLink, tags []store.Tag, maxLinks int) error
	GetRepositoryLink(ctx context.Context, id string) (store.RepositoryLink, error)
	ListRepositoryLinks(ctx context.Context, f store.RepositoryLinkFilter, p store.Page) ([]store.RepositoryLink, error)
	LinkedRepositories(ctx context.Context, connID string) ([]string, error)
	UpdateRepositoryLink(ctx context.Context, id string, u store.RepositoryLinkUpdate) (store.RepositoryLink, error)
	DeleteRepositoryLink(ctx context.Context, id string) error
	DeleteRepositoryLinkIf(ctx context.Context, id string, ifUpdatedAt time.Time) error
	ClaimHook(ctx context.Context, connID, repository, owner string, now, until time.Time) (store.RegisteredHook, bool, error)
	CompleteHook(ctx context.Context, h store.RegisteredHook) error
	ReleaseHook(ctx context.Context, connID, repository, owner string) error
	DeleteRegisteredHook(ctx context.Context, connID, repository, owner string) error
	DeleteRegisteredHooks(ctx context.Context, connID string) error
	RegisteredHooks(ctx context.Context, connID string) ([]store.RegisteredHook, error)
	HoldPreviousWebhookSecrets(ctx context.Context, connID string, now, until time.Time) error

	SetConnectionCredential(ctx context.Context, connID string, c store.Credential) error
	GetConnectionCredential(ctx context.Context, connID string) (store.Credential, error)
	CreateNonce(ctx context.Context, id, purpose string, expiresAt time.Time) error
	ConsumeNonce(ctx context.Context, id, purpose string, now time.Time) error
	SaveProviderApp(ctx context.Context, app store.ProviderApp) error
	GetProviderApp(ctx context.Context, id string) (store.ProviderApp, error)
	ListProviderApps(ctx context.Context) ([]store.ProviderApp, error)
	RotateCredential(ctx context.Context, connID string, prev, sealed []byte, expiresAt time.Time) error
	ExpiringCredentials(ctx context.Context, before time.Time) ([]store.Connection, error)
	EnsureKeyCheck(ctx context.Context, sealed []byte, fits func(connID string, sealed []byte) error) ([]byte, error)

	Ping(ctx context.Context) error
	Close() error
}

// opener returns a new, empty store that is closed when t ends.
type opener func(t *testing.T) Store

// Run runs the suite. open must return a new, empty store on every call;
// Run closes it, and fails the test if Close fails. Listings are checked
// against Go's bytewise string order, so IDs and tag keys must sort that
// way (in PostgreSQL, COLLATE "C"). Deliveries recorded with their event
// are due from the event's ReceivedAt; routed ones from their CreatedAt.
func Run(t *testing.T, open func(t *testing.T) Store) {
	fresh := func(t *testing.T) Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"Ping", testPing},
		{"KeyCheck", testKeyCheck},
		{"KeyCheckUpgrade", testKeyCheckUpgrade},
		{"CreateGetConnection", testCreateGetConnection},
		{"CreateConnectionChecks", testCreateConnectionChecks},
		{"DeleteConnection", testDeleteConnection},
		{"SetConnectionStatus", testSetConnectionStatus},
		{"ListConnections", testListConnections},
		{"ConcurrentSameName", testConcurrentSameName},
		{"ConcurrentConnectionsAtQuota", testConcurrentConnectionsAtQuota},
		{"CreateGetHost", testCreateGetHost},
		{"CreateHostChecks", testCreateHostChecks},
		{"ListHosts", testListHosts},
		{"UpdateHost", testUpdateHost},
		{"SetHostStatus", testSetHostStatus},
		{"DeleteHost", testDeleteHost},
		{"ConcurrentHostsAtQuota", testConcurrentHostsAtQuota},
		{"TagMerge", testTagMerge},
		{"TagLimit", testTagLimit},
		{"Untag", testUntag},
		{"ListTagsEmpty", testListTagsEmpty},
		{"TagsMissingResource", testTagsMissingResource},
		{"WebhookSecrets", testWebhookSecrets},
		{"WebhookSecretsMissing", testWebhookSecretsMissing},
		{"RecordGetEvent", testRecordGetEvent},
		{"RecordEventDuplicate", testRecordEventDuplicate},
		{"RecordEventCancelled", testRecordEventCancelled},
		{"ConcurrentRecordEvent", testConcurrentRecordEvent},
		{"ListEvents", testListEvents},
		{"ReleaseHeldEvents", testReleaseHeldEvents},
		{"DeliveryOutbox", testDeliveryOutbox},
		{"RouteReleasedEvents", testRouteReleasedEvents},
		{"ClaimLimits", testClaimLimits},
		{"ClaimParallel", testClaimParallel},
		{"ClaimQueued", testClaimQueued},
		{"ClaimSuperseded", testClaimSuperseded},
		{"ClaimLeaseExpiry", testClaimLeaseExpiry},
		{"ClaimAfterAttempt", testClaimAfterAttempt},
		{"ClaimScansPerTarget", testClaimScansPerTarget},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Attempts", testAttempts},
		{"ListDeliveries", testListDeliveries},
		{"RedeliverDiscard", testRedeliverDiscard},
		{"DeliveryStats", testDeliveryStats},
		{"CompleteDeliveryFiles", testCompleteDeliveryFiles},
		{"GitHubInstallations", testGitHubInstallations},
		{"RepositoryLinksAndHooks", testLinksAndHooks},
		{"Setup", testSetup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, fresh) })
	}
}

func testPing(t *testing.T, open opener) {
	if err := open(t).Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func newConnection(name string) store.Connection {
	return store.Connection{
		ID:           uuid.NewString(),
		Name:         name,
		ProviderType: store.ProviderGitHub,
		Region:       "us-east-1",
		Service:      store.ServiceCodeConnections,
		Status:       store.StatusPending,
	}
}

// newHost returns an AVAILABLE host with an ID shaped like the real ones.
func newHost(name, region string) store.Host {
	return store.Host{
		ID:               name + "-" + uuid.NewString()[:8],
		Name:             name,
		ProviderType:     store.ProviderGitHubEnterpriseServer,
		ProviderEndpoint: "https://" + name + ".example.com",
		Region:           region,
		Service:          store.ServiceCodeConnections,
		Status:           store.StatusAvailable,
	}
}

func mustCreateConnection(t *testing.T, s Store, c store.Connection, tags ...store.Tag) store.Connection {
	t.Helper()
	if err := s.CreateConnection(t.Context(), c, tags, 0); err != nil {
		t.Fatalf("CreateConnection(%s): %v", c.Name, err)
	}
	return c
}

func mustCreateHost(t *testing.T, s Store, h store.Host, tags ...store.Tag) store.Host {
	t.Helper()
	if err := s.CreateHost(t.Context(), h, tags, 0); err != nil {
		t.Fatalf("CreateHost(%s): %v", h.ID, err)
	}
	return h
}

func checkErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", op, err, want)
	}
}

// checkTimes checks what the suite can know about store-set timestamps
// without assuming which clock the store uses.
func checkTimes(t *testing.T, created, updated time.Time) {
	t.Helper()
	if created.IsZero() || updated.IsZero() {
		t.Errorf("CreatedAt %v, UpdatedAt %v: want both set", created, updated)
	}
	if created.Location() != time.UTC || updated.Location() != time.UTC {
		t.Errorf("CreatedAt %v, UpdatedAt %v: want UTC", created, updated)
	}
	if updated.Before(created) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", updated, created)
	}
}

// checkConnection compares got with want, whose timestamps are ignored.
func checkConnection(t *testing.T, got, want store.Connection) {
	t.Helper()
	checkTimes(t, got.CreatedAt, got.UpdatedAt)
	got.CreatedAt, got.UpdatedAt = want.CreatedAt, want.UpdatedAt
	// The sealed secret is written on create and never read back.
	want.WebhookSecret = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("connection\n got %+v\nwant %+v", got, want)
	}
}

func checkTags(t *testing.T, s Store, r store.ResourceRef, want ...store.Tag) {
	t.Helper()
	got, err := s.ListTags(t.Context(), r)
	if err != nil {
		t.Fatalf("ListTags(%s %s): %v", r.Kind, r.ID, err)
	}
	if got == nil {
		t.Errorf("ListTags(%s %s) = nil, want a non-nil slice", r.Kind, r.ID)
	}
	if want == nil {
		want = []store.Tag{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListTags(%s %s) = %v, want %v", r.Kind, r.ID, got, want)
	}
}

// pageAll lists page by page with limit, checking page sizes, and returns
// the IDs in the order listed.
func pageAll[T any](t *testing.T, limit int, list func(store.Page) ([]T, error), id func(T) string) []string {
	t.Helper()
	var ids []string
	p := store.Page{Limit: limit}
	for range 1000 {
		page, err := list(p)
		if err != nil {
			t.Fatalf("list %+v: %v", p, err)
		}
		if limit > 0 && len(page) > limit {
			t.Fatalf("list %+v returned %d records", p, len(page))
		}
		for _, r := range page {
			ids = append(ids, id(r))
		}
		if limit <= 0 || len(page) < limit {
			return ids
		}
		p.After = id(page[len(page)-1])
	}
	t.Fatalf("list with limit %d did not end", limit)
	return nil
}

// concurrently runs n calls of fn released at the same moment and returns
// their errors, indexed like the calls.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// countErrs counts the nil errors and those matching want, and reports any
// other error.
func countErrs(t *testing.T, errs []error, want error) (ok, matched int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok, matched
}
