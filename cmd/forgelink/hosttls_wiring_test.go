package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forgelink/forgelink/relay/clocktest"
	"github.com/forgelink/forgelink/store"
)

// hostList is a store's ListHosts over a slice, paged by id.
type hostList struct {
	hosts []store.Host
	reads int
	err   error
}

func (l *hostList) ListHosts(_ context.Context, _ store.HostFilter, p store.Page) ([]store.Host, error) {
	l.reads++
	var out []store.Host
	for _, h := range l.hosts {
		if h.ID > p.After && len(out) < p.Limit {
			out = append(out, h)
		}
	}
	return out, l.err
}

func hostAt(id, endpoint, cert string) store.Host {
	h := store.Host{ID: id, ProviderEndpoint: endpoint}
	if cert != "" {
		h.VPC = &store.VPCConfiguration{VPCID: "vpc-1", TLSCertificate: cert}
	}
	return h
}

func TestHostRoots(t *testing.T) {
	hosts := []store.Host{
		hostAt("a", "https://GHES.example.com", "CA-A\n"),
		hostAt("b", "https://ghes.example.com:443/", "CA-B"), // another region's host at the same endpoint
		hostAt("c", "https://gitlab.example.com:8443", "CA-C"),
		hostAt("d", "https://public.example.com", ""),
		hostAt("e", "://bad", "CA-E"),
	}
	for i := range 150 { // more than a page
		hosts = append(hosts, hostAt("p"+string(rune('a'+i/26))+string(rune('a'+i%26)), "https://x.example.com", ""))
	}
	tests := []struct {
		origin, want string
	}{
		{"ghes.example.com:443", "CA-A\nCA-B\n"},
		{"gitlab.example.com:8443", "CA-C\n"},
		{"gitlab.example.com:443", ""},
		{"public.example.com:443", ""},
		{"api.github.com:443", ""},
	}
	l := &hostList{hosts: hosts}
	h := newHostRoots(l, clocktest.New(time.Unix(1e9, 0)).Now)
	for _, tt := range tests {
		got, err := h.roots(t.Context(), tt.origin)
		if err != nil || string(got) != tt.want {
			t.Errorf("roots(%s) = %q, %v; want %q", tt.origin, got, err, tt.want)
		}
	}
	if l.reads != 2 {
		t.Errorf("%d store reads for %d look-ups within the TTL, want 2 (two pages)", l.reads, len(tests))
	}
}

// TestHostRootsFollowUpdates: a certificate changed by UpdateHost is
// trusted once the TTL has passed; a store that cannot be read is an
// error, not the system roots alone.
func TestHostRootsFollowUpdates(t *testing.T) {
	clk := clocktest.New(time.Unix(1e9, 0))
	l := &hostList{hosts: []store.Host{hostAt("a", "https://ghes.example.com", "OLD")}}
	h := newHostRoots(l, clk.Now)
	steps := []struct {
		after   time.Duration
		change  func()
		want    string
		wantErr bool
	}{
		{0, func() {}, "OLD\n", false},
		{hostRootsTTL - time.Millisecond, func() { l.hosts[0].VPC.TLSCertificate = "NEW" }, "OLD\n", false},
		{time.Millisecond, func() {}, "NEW\n", false},
		{hostRootsTTL, func() { l.hosts[0].VPC = nil }, "", false},
		{hostRootsTTL, func() { l.err = errors.New("store down") }, "", true},
	}
	for i, s := range steps {
		clk.Add(s.after)
		s.change()
		got, err := h.roots(t.Context(), "ghes.example.com:443")
		if string(got) != s.want || (err != nil) != s.wantErr {
			t.Errorf("step %d: %q, %v; want %q, error %v", i, got, err, s.want, s.wantErr)
		}
	}
}
