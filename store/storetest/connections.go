package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/forgelink/forgelink/store"
)

func connectionRef(id string) store.ResourceRef {
	return store.ResourceRef{Kind: store.KindConnection, ID: id}
}

func listConnectionIDs(t *testing.T, s Store, f store.ConnectionFilter) []string {
	t.Helper()
	return pageAll(t, 0, func(p store.Page) ([]store.Connection, error) {
		return s.ListConnections(t.Context(), f, p)
	}, func(c store.Connection) string { return c.ID })
}

func testCreateGetConnection(t *testing.T, open opener) {
	s := open(t)
	h := mustCreateHost(t, s, newHost("ghe", "us-east-1"))
	plain := newConnection("plain")
	hosted := newConnection("hosted")
	hosted.ProviderType = store.ProviderGitHubEnterpriseServer
	hosted.HostID = h.ID
	hosted.Region = "eu-west-1"
	hosted.Service = store.ServiceCodeStarConnections // kept as created
	hosted.Status = store.StatusError
	hosted.StatusReason = "app uninstalled"
	tags := []store.Tag{{Key: "team", Value: "core"}, {Key: "env", Value: "prod"}}

	for _, c := range []store.Connection{plain, hosted} {
		if err := s.CreateConnection(t.Context(), c, tags, 0); err != nil {
			t.Fatalf("CreateConnection(%s): %v", c.Name, err)
		}
		got, err := s.GetConnection(t.Context(), c.ID)
		if err != nil {
			t.Fatalf("GetConnection(%s): %v", c.Name, err)
		}
		checkConnection(t, got, c)
		checkTags(t, s, connectionRef(c.ID), store.Tag{Key: "env", Value: "prod"}, store.Tag{Key: "team", Value: "core"})
	}

	_, err := s.GetConnection(t.Context(), uuid.NewString())
	checkErr(t, "GetConnection(unknown)", err, store.ErrNotFound)
}

// connectionFixture is the state CreateConnection's checks run against: one
// live and one deleted connection, one AVAILABLE and one PENDING host.
type connectionFixture struct {
	live, deleted      store.Connection
	available, pending store.Host
}

func setUpConnections(t *testing.T, s Store) connectionFixture {
	t.Helper()
	f := connectionFixture{
		live:      newConnection("live"),
		deleted:   newConnection("deleted"),
		available: newHost("available", "us-east-1"),
		pending:   newHost("pending", "us-east-1"),
	}
	f.pending.Status = store.StatusPending
	mustCreateHost(t, s, f.available)
	mustCreateHost(t, s, f.pending)
	mustCreateConnection(t, s, f.live, store.Tag{Key: "k", Value: "v"})
	mustCreateConnection(t, s, f.deleted)
	if err := s.DeleteConnection(t.Context(), f.deleted.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	return f
}

func testCreateConnectionChecks(t *testing.T, open opener) {
	useHost := func(h func(f connectionFixture) store.Host) func(*store.Connection, connectionFixture) {
		return func(c *store.Connection, f connectionFixture) {
			c.ProviderType = store.ProviderGitHubEnterpriseServer
			c.HostID = h(f).ID
		}
	}
	tests := []struct {
		name    string
		edit    func(c *store.Connection, f connectionFixture)
		max     int
		want    error
		mention string // a word the error message must contain
	}{
		{name: "new"},
		{name: "name of a deleted connection", edit: func(c *store.Connection, f connectionFixture) { c.Name = f.deleted.Name }},
		{name: "deleted connections do not count", max: 2},
		{name: "zero max is unlimited", max: 0},
		{name: "negative max is unlimited", max: -1},
		{name: "available host", edit: useHost(func(f connectionFixture) store.Host { return f.available })},
		{
			name: "name of a live connection", edit: func(c *store.Connection, f connectionFixture) { c.Name = f.live.Name },
			want: store.ErrAlreadyExists, mention: "name",
		},
		{
			name: "id of a live connection", edit: func(c *store.Connection, f connectionFixture) { c.ID = f.live.ID },
			want: store.ErrAlreadyExists, mention: "id",
		},
		{
			name: "id of a deleted connection", edit: func(c *store.Connection, f connectionFixture) { c.ID = f.deleted.ID },
			want: store.ErrAlreadyExists, mention: "id",
		},
		{name: "quota reached", max: 1, want: store.ErrLimitExceeded},
		{
			// AWS's quota is per region: another home region has its own.
			name: "quota is per home region", edit: func(c *store.Connection, _ connectionFixture) { c.Region = "ap-south-1" },
			max: 1,
		},
		{
			name: "unknown host", edit: func(c *store.Connection, _ connectionFixture) { c.HostID = "missing-0000abcd" },
			want: store.ErrNotFound,
		},
		{
			name: "pending host", edit: useHost(func(f connectionFixture) store.Host { return f.pending }),
			want: store.ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			f := setUpConnections(t, s)
			c := newConnection("candidate")
			if tt.edit != nil {
				tt.edit(&c, f)
			}
			tag := store.Tag{Key: "new", Value: "tag"}
			err := s.CreateConnection(t.Context(), c, []store.Tag{tag}, tt.max)
			checkErr(t, "CreateConnection", err, tt.want)
			if err != nil && !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if tt.want == nil {
				got, err := s.GetConnection(t.Context(), c.ID)
				if err != nil {
					t.Fatalf("GetConnection: %v", err)
				}
				checkConnection(t, got, c)
				checkTags(t, s, connectionRef(c.ID), tag)
				return
			}
			checkConnectionsUnchanged(t, s, f, c)
		})
	}
}

// checkConnectionsUnchanged checks that the failed creation of c left the
// fixture as it was.
func checkConnectionsUnchanged(t *testing.T, s Store, f connectionFixture, c store.Connection) {
	t.Helper()
	if got := listConnectionIDs(t, s, store.ConnectionFilter{}); !slices.Equal(got, []string{f.live.ID}) {
		t.Errorf("live connections %v, want only %v", got, f.live.ID)
	}
	got, err := s.GetConnection(t.Context(), f.live.ID)
	if err != nil {
		t.Fatalf("GetConnection(live): %v", err)
	}
	checkConnection(t, got, f.live)
	checkTags(t, s, connectionRef(f.live.ID), store.Tag{Key: "k", Value: "v"})
	if c.ID != f.live.ID && c.ID != f.deleted.ID {
		_, err := s.GetConnection(t.Context(), c.ID)
		checkErr(t, "GetConnection(rejected)", err, store.ErrNotFound)
	}
}

func testDeleteConnection(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	c := mustCreateConnection(t, s, newConnection("doomed"), store.Tag{Key: "k", Value: "v"})
	other := mustCreateConnection(t, s, newConnection("other"))

	if err := s.DeleteConnection(ctx, c.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	_, err := s.GetConnection(ctx, c.ID)
	checkErr(t, "GetConnection(deleted)", err, store.ErrNotFound)
	checkErr(t, "DeleteConnection(deleted)", s.DeleteConnection(ctx, c.ID), store.ErrNotFound)
	checkErr(t, "DeleteConnection(unknown)", s.DeleteConnection(ctx, uuid.NewString()), store.ErrNotFound)
	checkErr(t, "SetConnectionStatus(deleted)",
		s.SetConnectionStatus(ctx, c.ID, store.StatusAvailable, ""), store.ErrNotFound)
	_, err = s.ListTags(ctx, connectionRef(c.ID))
	checkErr(t, "ListTags(deleted)", err, store.ErrNotFound)
	if got := listConnectionIDs(t, s, store.ConnectionFilter{}); !slices.Equal(got, []string{other.ID}) {
		t.Errorf("live connections %v, want only %v", got, other.ID)
	}

	// The name is free again; the ID never is.
	mustCreateConnection(t, s, newConnection(c.Name))
	reuse := newConnection("fresh")
	reuse.ID = c.ID
	checkErr(t, "CreateConnection(deleted id)", s.CreateConnection(ctx, reuse, nil, 0), store.ErrAlreadyExists)
}

func testSetConnectionStatus(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	c := mustCreateConnection(t, s, newConnection("status"))
	before, err := s.GetConnection(ctx, c.ID)
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	steps := []struct{ status, reason string }{
		{store.StatusError, "token revoked"},
		{store.StatusAvailable, ""},
	}
	for _, st := range steps {
		if err := s.SetConnectionStatus(ctx, c.ID, st.status, st.reason); err != nil {
			t.Fatalf("SetConnectionStatus(%s): %v", st.status, err)
		}
		got, err := s.GetConnection(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetConnection: %v", err)
		}
		want := c
		want.Status, want.StatusReason = st.status, st.reason
		checkConnection(t, got, want)
		if !got.CreatedAt.Equal(before.CreatedAt) || got.UpdatedAt.Before(before.UpdatedAt) {
			t.Errorf("times went from %v/%v to %v/%v", before.CreatedAt, before.UpdatedAt, got.CreatedAt, got.UpdatedAt)
		}
		before = got
	}
	checkErr(t, "SetConnectionStatus(unknown)",
		s.SetConnectionStatus(ctx, uuid.NewString(), store.StatusError, "x"), store.ErrNotFound)
}

func testListConnections(t *testing.T, open opener) {
	s := open(t)
	hosts := []store.Host{
		mustCreateHost(t, s, newHost("ghe-a", "us-east-1")),
		mustCreateHost(t, s, newHost("ghe-b", "us-east-1")),
	}
	providers := []string{store.ProviderGitHub, store.ProviderGitLab, store.ProviderGitHubEnterpriseServer}
	var live []store.Connection
	for i := range 14 {
		c := newConnection(fmt.Sprintf("conn-%02d", i))
		c.ProviderType = providers[i%3]
		if c.ProviderType == store.ProviderGitHubEnterpriseServer {
			c.HostID = hosts[i%2].ID
		}
		mustCreateConnection(t, s, c)
		if i%5 == 0 {
			if err := s.DeleteConnection(t.Context(), c.ID); err != nil {
				t.Fatalf("DeleteConnection: %v", err)
			}
			continue
		}
		live = append(live, c)
	}
	slices.SortFunc(live, func(a, b store.Connection) int { return strings.Compare(a.ID, b.ID) })

	all, err := s.ListConnections(t.Context(), store.ConnectionFilter{}, store.Page{})
	if err != nil {
		t.Fatalf("ListConnections: %v", err)
	}
	if len(all) != len(live) {
		t.Fatalf("ListConnections returned %d connections, want %d", len(all), len(live))
	}
	for i := range all {
		checkConnection(t, all[i], live[i])
	}

	filters := []struct {
		name string
		f    store.ConnectionFilter
	}{
		{"all", store.ConnectionFilter{}},
		{"provider", store.ConnectionFilter{ProviderType: store.ProviderGitHub}},
		{"host", store.ConnectionFilter{HostID: hosts[0].ID}},
		{"provider and host", store.ConnectionFilter{ProviderType: store.ProviderGitHubEnterpriseServer, HostID: hosts[1].ID}},
		{"nothing matches", store.ConnectionFilter{ProviderType: store.ProviderGitLab, HostID: hosts[0].ID}},
		{"unknown provider", store.ConnectionFilter{ProviderType: store.ProviderBitbucket}},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, c := range live {
				if (tt.f.ProviderType == "" || c.ProviderType == tt.f.ProviderType) && (tt.f.HostID == "" || c.HostID == tt.f.HostID) {
					want = append(want, c.ID)
				}
			}
			for _, limit := range []int{0, -1, 1, 2, 3, len(want), 100} {
				got := pageAll(t, limit, func(p store.Page) ([]store.Connection, error) {
					return s.ListConnections(t.Context(), tt.f, p)
				}, func(c store.Connection) string { return c.ID })
				if !slices.Equal(got, want) {
					t.Errorf("limit %d: listed %v, want %v", limit, got, want)
				}
			}
		})
	}

	last := live[len(live)-1].ID
	if got, err := s.ListConnections(t.Context(), store.ConnectionFilter{}, store.Page{After: last}); err != nil || len(got) != 0 {
		t.Errorf("ListConnections after the last ID = %v, %v; want none", got, err)
	}
}

func testConcurrentSameName(t *testing.T, open opener) {
	s := open(t)
	const n = 16
	cs := make([]store.Connection, n)
	for i := range cs {
		cs[i] = newConnection("contended")
	}
	errs := concurrently(n, func(i int) error {
		return s.CreateConnection(t.Context(), cs[i], nil, 0)
	})
	ok, dup := countErrs(t, errs, store.ErrAlreadyExists)
	if ok != 1 || dup != n-1 {
		t.Fatalf("%d created, %d already existed; want 1 and %d", ok, dup, n-1)
	}
	winner := cs[slices.IndexFunc(errs, func(err error) bool { return err == nil })]
	if got := listConnectionIDs(t, s, store.ConnectionFilter{}); !slices.Equal(got, []string{winner.ID}) {
		t.Errorf("live connections %v, want only the winner %v", got, winner.ID)
	}
}

func testConcurrentConnectionsAtQuota(t *testing.T, open opener) {
	s := open(t)
	const quota, existing, n = 5, 2, 16
	for i := range existing {
		mustCreateConnection(t, s, newConnection(fmt.Sprintf("existing-%d", i)))
	}
	errs := concurrently(n, func(i int) error {
		return s.CreateConnection(t.Context(), newConnection(fmt.Sprintf("racer-%02d", i)), nil, quota)
	})
	ok, over := countErrs(t, errs, store.ErrLimitExceeded)
	if ok != quota-existing || over != n-ok {
		t.Errorf("%d created, %d over the limit; want %d and %d", ok, over, quota-existing, n-(quota-existing))
	}
	if got := listConnectionIDs(t, s, store.ConnectionFilter{}); len(got) != quota {
		t.Errorf("%d live connections, want the quota %d", len(got), quota)
	}
}
