package egress

import (
	"errors"
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want Class
	}{
		{"93.184.216.34", Public},
		{"8.8.8.8", Public},
		{"172.32.0.1", Public},
		{"100.128.0.1", Public},
		{"2606:4700::1111", Public},
		{"127.0.0.1", Local},
		{"127.255.255.254", Local},
		{"0.0.0.0", Local},
		{"0.1.2.3", Local},
		{"::1", Local},
		{"::", Local},
		{"::ffff:127.0.0.1", Local},
		{"::ffff:0.0.0.0", Local},
		{"169.254.169.254", LinkLocal},
		{"169.254.0.1", LinkLocal},
		{"::ffff:169.254.169.254", LinkLocal},
		{"fe80::1", LinkLocal},
		{"fe80::1%eth0", LinkLocal},
		{"febf::1", LinkLocal},
		{"fd00:ec2::254", Private}, // EC2's IPv6 metadata service is unique local
		{"224.0.0.1", LinkLocal},
		{"239.255.255.250", LinkLocal},
		{"ff02::1", LinkLocal},
		{"ff05::1%2", LinkLocal},
		{"10.0.0.1", Private},
		{"10.255.255.255", Private},
		{"172.16.0.1", Private},
		{"172.31.255.255", Private},
		{"192.168.1.1", Private},
		{"100.64.0.1", Private},
		{"100.127.255.255", Private},
		{"fc00::1", Private},
		{"fdff::1%eth0", Private},
		{"::ffff:10.1.2.3", Private},
		{"::ffff:192.168.0.1", Private},
		{"fe00::1", Public},
		{"::ffff:8.8.8.8", Public},
	}
	for _, tc := range tests {
		if got := Classify(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Classify(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if got := Classify(netip.Addr{}); got != Local {
		t.Errorf("Classify(zero Addr) = %v, want refused as Local", got)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		addr          string
		strict, loose bool // allowed without and with allowPrivate
	}{
		{"93.184.216.34", true, true},
		{"10.0.0.1", false, true},
		{"fd00::1", false, true},
		{"127.0.0.1", false, false},
		{"169.254.169.254", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"ff02::1", false, false},
	}
	for _, tc := range tests {
		a := netip.MustParseAddr(tc.addr)
		for allow, want := range map[bool]bool{false: tc.strict, true: tc.loose} {
			err := Check(a, allow)
			if (err == nil) != want {
				t.Errorf("Check(%s, %v) = %v, want allowed %v", a, allow, err, want)
			}
			if err != nil && !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("Check(%s, %v) = %v, not ErrForbiddenAddress", a, allow, err)
			}
		}
	}
}

// FuzzClassify holds Classify to a reference written with netip's own
// predicates.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:169.254.169.254", "fe80::1%eth0", "10.0.0.1", "100.64.0.0", "8.8.8.8", "ff02::1", "0.0.0.1"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		if got, want := Classify(a), reference(a); got != want {
			t.Fatalf("Classify(%s) = %v, want %v", a, got, want)
		}
	})
}

func reference(a netip.Addr) Class {
	u := a.Unmap()
	switch {
	case u.IsLoopback(), u.IsUnspecified(), u.Is4() && u.As4()[0] == 0:
		return Local
	case u.IsLinkLocalUnicast(), u.IsLinkLocalMulticast(), u.IsInterfaceLocalMulticast(), u.IsMulticast():
		return LinkLocal
	case u.IsPrivate():
		return Private
	case u.Is4() && u.As4()[0] == 100 && u.As4()[1]&0xc0 == 64:
		return Private
	}
	return Public
}
