// Package egress keeps forgelink's requests to providers away from the
// daemon's own machine, its cloud metadata service and (unless the
// operator allows it) private networks. Host endpoints are chosen by API
// callers, and forgelink sends them provider credentials: a name that
// resolves to 127.0.0.1 or 169.254.169.254 must not get a request. The
// check runs on the address actually dialled, after DNS resolution, so a
// name that changes its answer between a check and the connection (DNS
// rebinding) gains nothing.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrForbiddenAddress is wrapped by every refusal of an address.
var ErrForbiddenAddress = errors.New("forbidden address")

// Class says where an address leads, as far as forgelink's requests care.
type Class uint8

const (
	// Public addresses are always allowed.
	Public Class = iota
	// Private addresses (RFC 1918, carrier-grade NAT of RFC 6598, unique
	// local IPv6) are allowed only when the operator allows them.
	Private
	// Local addresses (loopback, unspecified, 0.0.0.0/8) are this machine.
	Local
	// LinkLocal addresses (link-local unicast such as the cloud metadata
	// service 169.254.169.254, and every multicast address) are never
	// provider endpoints.
	LinkLocal
)

func (c Class) String() string {
	switch c {
	case Private:
		return "a private address"
	case Local:
		return "this machine"
	case LinkLocal:
		return "a link-local or multicast address"
	}
	return "a public address"
}

// privatePrefixes are the ranges of Private, besides what netip knows.
var privatePrefixes = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

// thisNetwork is 0.0.0.0/8: Linux connects 0.0.0.0 to the local host.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// Classify tells where a is. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// is classified as its IPv4 address, which is where the kernel sends it,
// and a zone changes nothing.
func Classify(a netip.Addr) Class {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return Local // no address: refused as if local, never dialled
	case a.IsLoopback(), a.IsUnspecified(), thisNetwork.Contains(a):
		return Local
	case a.IsLinkLocalUnicast(), a.IsMulticast():
		return LinkLocal
	}
	for _, p := range privatePrefixes {
		if p.Contains(a) {
			return Private
		}
	}
	return Public
}

// Check returns nil if a may be connected to, or an error wrapping
// ErrForbiddenAddress that names a and its class.
func Check(a netip.Addr, allowPrivate bool) error {
	switch c := Classify(a); {
	case c == Public, c == Private && allowPrivate:
		return nil
	case c == Private:
		return fmt.Errorf("%w: %s is %s (allowPrivateProviderEndpoints in the forgelink config allows it)", ErrForbiddenAddress, a, c)
	default:
		return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, a, c)
	}
}
