package cidr

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestNextNetwork(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{in: "10.224.0.0/16", want: "10.225.0.0/16"},
		{in: "10.224.0.0/12", want: "10.240.0.0/12"},
		{in: "192.168.1.0/24", want: "192.168.2.0/24"},
		{in: "10.0.255.0/24", want: "10.1.0.0/24"},
		{in: "172.16.0.248/29", want: "172.16.1.0/29"},
		{in: "0.0.0.0/1", want: "128.0.0.0/1"},
		{in: "255.255.0.0/16", err: "last /16"},
		{in: "128.0.0.0/1", err: "last /1"},
		{in: "255.255.255.255/32", err: "last /32"},
		{in: "0.0.0.0/0", err: "whole IPv4"},
		{in: "10.224.0.1/16", err: "host bits"},
		{in: "fd00::/64", err: "not an IPv4"},
	}
	for _, c := range cases {
		got, err := NextNetwork(netip.MustParsePrefix(c.in))
		if c.err != "" {
			if err == nil || !contains(err.Error(), c.err) {
				t.Errorf("NextNetwork(%s) = %v, %v; want error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("NextNetwork(%s) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestContainsAndOverlaps(t *testing.T) {
	p := netip.MustParsePrefix
	cases := []struct {
		outer, inner      string
		contains, overlap bool
	}{
		{"10.224.0.0/15", "10.225.0.0/16", true, true},
		{"10.224.0.0/16", "10.224.0.0/16", true, true},
		{"10.224.0.0/16", "10.224.0.0/15", false, true},
		{"10.224.0.0/16", "10.225.0.0/16", false, false},
		{"10.0.0.0/8", "10.255.255.248/29", true, true},
		{"10.0.0.0/8", "11.0.0.0/29", false, false},
	}
	for _, c := range cases {
		if got := Contains(p(c.outer), p(c.inner)); got != c.contains {
			t.Errorf("Contains(%s, %s) = %v, want %v", c.outer, c.inner, got, c.contains)
		}
		if _, got := FirstOverlap(p(c.outer), []Range{{"a", p("192.168.0.0/24")}, {"b", p(c.inner)}}); got != c.overlap {
			t.Errorf("FirstOverlap(%s, [.., %s]) = %v, want %v", c.outer, c.inner, got, c.overlap)
		}
	}
	space := []netip.Prefix{p("10.0.0.0/16"), p("10.224.0.0/15")}
	if !ContainedInAny(space, p("10.225.0.0/16")) || ContainedInAny(space, p("10.226.0.0/16")) {
		t.Error("ContainedInAny misjudges the second range of an address space")
	}
}

func TestParseNetwork(t *testing.T) {
	for in, wantErr := range map[string]string{
		"10.224.0.0/16": "",
		"10.224.0.0":    "not a CIDR",
		"10.224.0.1/16": "did you mean 10.224.0.0/16",
		"fd00::/64":     "not an IPv4",
		"":              "not a CIDR",
		"10.300.0.0/16": "not a CIDR",
	} {
		_, err := ParseNetwork(in)
		if (err == nil) != (wantErr == "") || (err != nil && !contains(err.Error(), wantErr)) {
			t.Errorf("ParseNetwork(%q) error = %v, want %q", in, err, wantErr)
		}
	}
}

// FuzzNextNetwork checks the properties the peer-pod subnet relies on: the
// next network has the same size, starts right after p and never overlaps it.
func FuzzNextNetwork(f *testing.F) {
	for _, s := range []string{"10.224.0.0/16", "255.255.255.0/24", "0.0.0.0/0", "1.2.3.4/32"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseNetwork(s)
		if err != nil {
			return
		}
		next, err := NextNetwork(p)
		if err != nil {
			return
		}
		if next.Bits() != p.Bits() || next.Masked() != next {
			t.Fatalf("NextNetwork(%v) = %v: not a masked network of the same size", p, next)
		}
		if p.Overlaps(next) {
			t.Fatalf("NextNetwork(%v) = %v overlaps its input", p, next)
		}
		last := p.Addr()
		for i := 0; i < (1<<(32-p.Bits()))-1 && i < 1<<12; i++ {
			last = last.Next()
		}
		if p.Bits() >= 20 && last.Next() != next.Addr() {
			t.Fatalf("NextNetwork(%v) = %v does not start right after %v", p, next, last)
		}
	})
}

func contains(s, sub string) bool {
	return strings.Contains(s, sub)
}

func TestIsPrivate(t *testing.T) {
	for p, want := range map[string]bool{"10.225.0.0/16": true, "172.31.0.0/16": true, "172.32.0.0/16": false, "192.168.4.0/24": true,
		"192.169.0.0/16": false, "100.64.0.0/16": true, "100.128.0.0/16": false, "11.0.0.0/8": false, "10.0.0.0/7": false} {
		if got := IsPrivate(netip.MustParsePrefix(p)); got != want {
			t.Errorf("IsPrivate(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestLastAssignable(t *testing.T) {
	for in, want := range map[string]string{"10.224.0.0/16": "10.224.255.254", "10.0.0.0/29": "10.0.0.6", "10.1.2.64/26": "10.1.2.126"} {
		got, err := LastAssignable(netip.MustParsePrefix(in))
		if err != nil || got.String() != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
		if err := CheckAssignable(netip.MustParsePrefix(in), got); err != nil {
			t.Errorf("%s: the last assignable address must be assignable: %v", in, err)
		}
	}
	if _, err := LastAssignable(netip.MustParsePrefix("10.0.0.0/30")); err == nil {
		t.Error("a /30 is smaller than Azure allows")
	}
	p := netip.MustParsePrefix("10.224.0.0/16")
	for _, bad := range []string{"10.224.0.0", "10.224.0.3", "10.224.255.255", "10.225.0.10"} {
		if err := CheckAssignable(p, netip.MustParseAddr(bad)); err == nil {
			t.Errorf("%s must not be assignable in %s", bad, p)
		}
	}
	if err := CheckAssignable(p, netip.MustParseAddr("10.224.0.4")); err != nil {
		t.Errorf("the first address after the reserved ones: %v", err)
	}
}

func TestAssignable(t *testing.T) {
	for p, want := range map[string]int{"10.0.0.0/29": 3, "10.0.0.0/24": 251, "10.224.0.0/16": 65531, "10.0.0.0/32": 0} {
		if got := Assignable(netip.MustParsePrefix(p)); got != want {
			t.Errorf("Assignable(%s) = %d, want %d", p, got, want)
		}
	}
	for n, want := range map[int]int{1: 29, 3: 29, 4: 28, 59: 26, 60: 25, 251: 24, 252: 23} {
		if got := SmallestHolding(n); got != want {
			t.Errorf("SmallestHolding(%d) = /%d, want /%d", n, got, want)
		}
	}
}

func TestNextPrivateNetwork(t *testing.T) {
	for in, want := range map[string]string{"10.224.0.0/16": "10.225.0.0/16", "172.16.0.0/24": "172.16.1.0/24", "100.64.0.0/11": "100.96.0.0/11"} {
		got, err := NextPrivateNetwork(netip.MustParsePrefix(in))
		if err != nil || got.String() != want {
			t.Errorf("%s: %v, %v; want %s", in, got, err, want)
		}
	}
	for in, next := range map[string]string{"10.255.0.0/16": "11.0.0.0/16", "192.168.255.0/24": "192.169.0.0/24", "100.96.0.0/11": "100.128.0.0/11"} {
		got, err := NextPrivateNetwork(netip.MustParsePrefix(in))
		if !errors.Is(err, ErrNextIsPublic) || got.String() != next || !strings.Contains(err.Error(), "would be "+next+", the network after "+in) {
			t.Errorf("%s: %v, %v; want ErrNextIsPublic naming %s", in, got, err, next)
		}
	}
	if _, err := NextPrivateNetwork(netip.MustParsePrefix("255.255.255.0/24")); err == nil || errors.Is(err, ErrNextIsPublic) {
		t.Errorf("the last network has no next one: %v", err)
	}
}
