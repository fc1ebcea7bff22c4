package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/forgelink/forgelink/store"
)

func hostRef(id string) store.ResourceRef {
	return store.ResourceRef{Kind: store.KindHost, ID: id}
}

// checkHost compares got with want, whose timestamps are ignored.
func checkHost(t *testing.T, got, want store.Host) {
	t.Helper()
	checkTimes(t, got.CreatedAt, got.UpdatedAt)
	got.CreatedAt, got.UpdatedAt = want.CreatedAt, want.UpdatedAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("host\n got %+v (VPC %+v)\nwant %+v (VPC %+v)", got, got.VPC, want, want.VPC)
	}
}

func listHostIDs(t *testing.T, s Store, f store.HostFilter) []string {
	t.Helper()
	return pageAll(t, 0, func(p store.Page) ([]store.Host, error) {
		return s.ListHosts(t.Context(), f, p)
	}, func(h store.Host) string { return h.ID })
}

func testCreateGetHost(t *testing.T, open opener) {
	s := open(t)
	plain := newHost("plain", "us-east-1")
	withVPC := newHost("private", "eu-west-1")
	withVPC.Status = store.StatusPending
	withVPC.StatusMessage = "waiting for setup"
	withVPC.VPC = &store.VPCConfiguration{
		VPCID:            "vpc-1",
		SubnetIDs:        []string{"subnet-1", "subnet-2"},
		SecurityGroupIDs: []string{"sg-1"},
		TLSCertificate:   "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
	}
	tags := []store.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}

	for _, h := range []store.Host{plain, withVPC} {
		if err := s.CreateHost(t.Context(), h, tags, 0); err != nil {
			t.Fatalf("CreateHost(%s): %v", h.ID, err)
		}
		got, err := s.GetHost(t.Context(), h.ID)
		if err != nil {
			t.Fatalf("GetHost(%s): %v", h.ID, err)
		}
		checkHost(t, got, h)
		checkTags(t, s, hostRef(h.ID), store.Tag{Key: "a", Value: "1"}, store.Tag{Key: "b", Value: "2"})
	}

	_, err := s.GetHost(t.Context(), "missing-0000abcd")
	checkErr(t, "GetHost(unknown)", err, store.ErrNotFound)
}

func testCreateHostChecks(t *testing.T, open opener) {
	tests := []struct {
		name string
		edit func(h *store.Host, existing store.Host)
		max  int
		want error
	}{
		{name: "new"},
		{name: "same name in another region", edit: func(h *store.Host, e store.Host) { h.Name = e.Name; h.Region = "eu-west-1" }},
		{name: "below quota", max: 3},
		{name: "zero max is unlimited", max: 0},
		{name: "negative max is unlimited", max: -1},
		{name: "id taken", edit: func(h *store.Host, e store.Host) { h.ID = e.ID }, want: store.ErrAlreadyExists},
		{name: "name taken in region", edit: func(h *store.Host, e store.Host) { h.Name = e.Name }, want: store.ErrAlreadyExists},
		{name: "quota reached", max: 2, want: store.ErrLimitExceeded},
		{
			name: "quota spans regions", edit: func(h *store.Host, _ store.Host) { h.Region = "ap-south-1" },
			max: 2, want: store.ErrLimitExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			existing := mustCreateHost(t, s, newHost("existing", "us-east-1"), store.Tag{Key: "k", Value: "v"})
			mustCreateHost(t, s, newHost("west", "us-west-2"))
			before := listHostIDs(t, s, store.HostFilter{})

			h := newHost("candidate", "us-east-1")
			if tt.edit != nil {
				tt.edit(&h, existing)
			}
			tag := store.Tag{Key: "new", Value: "tag"}
			err := s.CreateHost(t.Context(), h, []store.Tag{tag}, tt.max)
			checkErr(t, "CreateHost", err, tt.want)
			if tt.want == nil {
				got, err := s.GetHost(t.Context(), h.ID)
				if err != nil {
					t.Fatalf("GetHost: %v", err)
				}
				checkHost(t, got, h)
				checkTags(t, s, hostRef(h.ID), tag)
				return
			}
			if got := listHostIDs(t, s, store.HostFilter{}); !slices.Equal(got, before) {
				t.Errorf("hosts %v, want them unchanged: %v", got, before)
			}
			got, err := s.GetHost(t.Context(), existing.ID)
			if err != nil {
				t.Fatalf("GetHost(existing): %v", err)
			}
			checkHost(t, got, existing)
			checkTags(t, s, hostRef(existing.ID), store.Tag{Key: "k", Value: "v"})
		})
	}
}

func testListHosts(t *testing.T, open opener) {
	s := open(t)
	regions := []string{"us-east-1", "eu-west-1", "ap-south-1"}
	var hosts []store.Host
	for i := range 11 {
		hosts = append(hosts, mustCreateHost(t, s, newHost(fmt.Sprintf("host-%02d", i), regions[i%len(regions)])))
	}
	slices.SortFunc(hosts, func(a, b store.Host) int { return strings.Compare(a.ID, b.ID) })

	all, err := s.ListHosts(t.Context(), store.HostFilter{}, store.Page{})
	if err != nil {
		t.Fatalf("ListHosts: %v", err)
	}
	if len(all) != len(hosts) {
		t.Fatalf("ListHosts returned %d hosts, want %d", len(all), len(hosts))
	}
	for i := range all {
		checkHost(t, all[i], hosts[i])
	}

	for _, region := range append(slices.Clone(regions), "", "sa-east-1") {
		t.Run("region="+region, func(t *testing.T) {
			var want []string
			for _, h := range hosts {
				if region == "" || h.Region == region {
					want = append(want, h.ID)
				}
			}
			f := store.HostFilter{Region: region}
			for _, limit := range []int{0, -1, 1, 2, 3, len(want), 100} {
				got := pageAll(t, limit, func(p store.Page) ([]store.Host, error) {
					return s.ListHosts(t.Context(), f, p)
				}, func(h store.Host) string { return h.ID })
				if !slices.Equal(got, want) {
					t.Errorf("limit %d: listed %v, want %v", limit, got, want)
				}
			}
		})
	}
}

func testUpdateHost(t *testing.T, open opener) {
	vpc := &store.VPCConfiguration{VPCID: "vpc-2", SubnetIDs: []string{"subnet-9"}, SecurityGroupIDs: []string{"sg-9"}}
	const endpoint = "https://new.example.com"
	tests := []struct {
		name string
		u    store.HostUpdate
		edit func(h *store.Host) // turns the original host into the expected one
	}{
		{name: "nothing", edit: func(*store.Host) {}},
		{
			name: "same endpoint",
			u:    store.HostUpdate{ProviderEndpoint: new("https://old.example.com")},
			edit: func(*store.Host) {},
		},
		{
			name: "new endpoint",
			u:    store.HostUpdate{ProviderEndpoint: new(endpoint)},
			edit: func(h *store.Host) {
				h.ProviderEndpoint = endpoint
				h.Status, h.StatusMessage = store.StatusPending, "provider endpoint changed; set the host up again"
			},
		},
		{name: "vpc", u: store.HostUpdate{VPC: vpc}, edit: func(h *store.Host) { h.VPC = vpc }},
		{
			name: "endpoint and vpc",
			u:    store.HostUpdate{ProviderEndpoint: new(endpoint), VPC: vpc},
			edit: func(h *store.Host) {
				h.ProviderEndpoint, h.VPC = endpoint, vpc
				h.Status, h.StatusMessage = store.StatusPending, "provider endpoint changed; set the host up again"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			h := newHost("ghe", "us-east-1")
			h.ProviderEndpoint = "https://old.example.com"
			h.StatusMessage = "ready"
			h.VPC = &store.VPCConfiguration{VPCID: "vpc-1", SubnetIDs: []string{"subnet-1"}, SecurityGroupIDs: []string{"sg-1"}}
			mustCreateHost(t, s, h)
			before, err := s.GetHost(t.Context(), h.ID)
			if err != nil {
				t.Fatalf("GetHost: %v", err)
			}

			updated, err := s.UpdateHost(t.Context(), h.ID, tt.u)
			if err != nil {
				t.Fatalf("UpdateHost: %v", err)
			}
			want := h
			tt.edit(&want)
			checkHost(t, updated, want)
			got, err := s.GetHost(t.Context(), h.ID)
			if err != nil {
				t.Fatalf("GetHost: %v", err)
			}
			checkHost(t, got, want)
			if !got.UpdatedAt.Equal(updated.UpdatedAt) {
				t.Errorf("UpdatedAt %v, UpdateHost returned %v", got.UpdatedAt, updated.UpdatedAt)
			}
			if !got.CreatedAt.Equal(before.CreatedAt) || got.UpdatedAt.Before(before.UpdatedAt) {
				t.Errorf("times went from %v/%v to %v/%v", before.CreatedAt, before.UpdatedAt, got.CreatedAt, got.UpdatedAt)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		_, err := open(t).UpdateHost(t.Context(), "missing-0000abcd", store.HostUpdate{ProviderEndpoint: new(endpoint)})
		checkErr(t, "UpdateHost(unknown)", err, store.ErrNotFound)
	})
}

func testSetHostStatus(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	h := newHost("ghe", "us-east-1")
	h.Status = store.StatusPending
	mustCreateHost(t, s, h)
	before, err := s.GetHost(ctx, h.ID)
	if err != nil {
		t.Fatalf("GetHost: %v", err)
	}
	if err := s.SetHostStatus(ctx, h.ID, store.StatusError, "cannot reach endpoint"); err != nil {
		t.Fatalf("SetHostStatus: %v", err)
	}
	got, err := s.GetHost(ctx, h.ID)
	if err != nil {
		t.Fatalf("GetHost: %v", err)
	}
	want := h
	want.Status, want.StatusMessage = store.StatusError, "cannot reach endpoint"
	checkHost(t, got, want)
	if !got.CreatedAt.Equal(before.CreatedAt) || got.UpdatedAt.Before(before.UpdatedAt) {
		t.Errorf("times went from %v/%v to %v/%v", before.CreatedAt, before.UpdatedAt, got.CreatedAt, got.UpdatedAt)
	}
	checkErr(t, "SetHostStatus(unknown)",
		s.SetHostStatus(ctx, "missing-0000abcd", store.StatusAvailable, ""), store.ErrNotFound)
}

func testDeleteHost(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	h := mustCreateHost(t, s, newHost("ghe", "us-east-1"), store.Tag{Key: "k", Value: "v"})
	user := newConnection("user")
	user.ProviderType, user.HostID = store.ProviderGitHubEnterpriseServer, h.ID
	mustCreateConnection(t, s, user)
	// A deleted connection does not hold on to its host.
	former := newConnection("former")
	former.ProviderType, former.HostID = store.ProviderGitHubEnterpriseServer, h.ID
	mustCreateConnection(t, s, former)
	if err := s.DeleteConnection(ctx, former.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}

	checkErr(t, "DeleteHost(in use)", s.DeleteHost(ctx, h.ID), store.ErrInUse)
	got, err := s.GetHost(ctx, h.ID)
	if err != nil {
		t.Fatalf("GetHost after refused delete: %v", err)
	}
	checkHost(t, got, h)
	checkTags(t, s, hostRef(h.ID), store.Tag{Key: "k", Value: "v"})

	if err := s.DeleteConnection(ctx, user.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if err := s.DeleteHost(ctx, h.ID); err != nil {
		t.Fatalf("DeleteHost: %v", err)
	}
	_, err = s.GetHost(ctx, h.ID)
	checkErr(t, "GetHost(deleted)", err, store.ErrNotFound)
	checkErr(t, "DeleteHost(deleted)", s.DeleteHost(ctx, h.ID), store.ErrNotFound)
	checkErr(t, "DeleteHost(unknown)", s.DeleteHost(ctx, "missing-0000abcd"), store.ErrNotFound)
	_, err = s.ListTags(ctx, hostRef(h.ID))
	checkErr(t, "ListTags(deleted)", err, store.ErrNotFound)

	// Host IDs may come back (they derive from the name); the tags and the
	// quota slot of the deleted host must not linger.
	if err := s.CreateHost(ctx, h, nil, 1); err != nil {
		t.Fatalf("CreateHost again: %v", err)
	}
	checkTags(t, s, hostRef(h.ID))
}

func testConcurrentHostsAtQuota(t *testing.T, open opener) {
	s := open(t)
	const quota, n = 3, 12
	errs := concurrently(n, func(i int) error {
		return s.CreateHost(t.Context(), newHost(fmt.Sprintf("racer-%02d", i), "us-east-1"), nil, quota)
	})
	ok, over := countErrs(t, errs, store.ErrLimitExceeded)
	if ok != quota || over != n-quota {
		t.Errorf("%d created, %d over the limit; want %d and %d", ok, over, quota, n-quota)
	}
	if got := listHostIDs(t, s, store.HostFilter{}); len(got) != quota {
		t.Errorf("%d hosts, want the quota %d", len(got), quota)
	}
}
