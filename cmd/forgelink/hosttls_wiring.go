package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/forgelink/forgelink/relay/egress"
	"github.com/forgelink/forgelink/store"
)

// hostRootsTTL is how long the hosts' certificates are reused before the
// store is read again: an UpdateHost takes effect within it, without a
// restart, and a burst of provider calls reads the store once.
const hostRootsTTL = 2 * time.Second

// hostLister is what the hosts' certificates are read from.
type hostLister interface {
	ListHosts(ctx context.Context, f store.HostFilter, p store.Page) ([]store.Host, error)
}

// hostRoots gives the provider transport (egress.HostTransport) the
// TlsCertificate of the hosts at each origin. Hosts of every region at
// one endpoint all have theirs trusted there: each is the operator's word
// about that endpoint.
type hostRoots struct {
	st  hostLister
	now func() time.Time

	mu       sync.Mutex
	read     time.Time
	byOrigin map[string][]byte
}

func newHostRoots(st hostLister, now func() time.Time) *hostRoots {
	return &hostRoots{st: st, now: now}
}

// noHostRoots trusts the system roots alone.
func noHostRoots(context.Context, string) ([]byte, error) { return nil, nil }

// roots is an egress.RootsFunc.
func (h *hostRoots) roots(ctx context.Context, origin string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byOrigin == nil || !h.now().Before(h.read.Add(hostRootsTTL)) {
		m, err := h.load(ctx)
		if err != nil {
			return nil, err
		}
		h.byOrigin, h.read = m, h.now()
	}
	return h.byOrigin[origin], nil
}

// load reads every host's certificate, keyed by its endpoint's origin, in
// host id order (so an unchanged set reads the same).
func (h *hostRoots) load(ctx context.Context) (map[string][]byte, error) {
	m := map[string][]byte{}
	p := store.Page{Limit: 100}
	for {
		hosts, err := h.st.ListHosts(ctx, store.HostFilter{}, p)
		if err != nil {
			return nil, fmt.Errorf("hosts' certificates: %w", err)
		}
		for _, host := range hosts {
			if host.VPC == nil || host.VPC.TLSCertificate == "" {
				continue
			}
			o, err := egress.Origin(host.ProviderEndpoint)
			if err != nil {
				continue // no request can be sent there either
			}
			m[o] = append(m[o], bytes.TrimSpace([]byte(host.VPC.TLSCertificate))...)
			m[o] = append(m[o], '\n')
		}
		if len(hosts) < p.Limit {
			return m, nil
		}
		p.After = hosts[len(hosts)-1].ID
	}
}
