// Package cidr is the address-range maths of the stack: the next network
// of a size, parsing, containment and the one overlap check. It needs no
// SDK, so it is fuzzed in CI.
package cidr

import (
	"errors"
	"fmt"
	"net/netip"
)

// NextNetwork returns the network of the same size that immediately follows
// p, which is what the upstream guide computes with `sipcalc -n 2` to place
// the peer-pod subnet next to the cluster subnet. It fails when p is not a
// masked IPv4 prefix or when no such network exists (p is the last one).
func NextNetwork(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%v is not an IPv4 network", p)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%v has host bits set; the network is %v", p, p.Masked())
	}
	bits := p.Bits()
	if bits == 0 {
		return netip.Prefix{}, fmt.Errorf("%v covers the whole IPv4 space; there is no next network", p)
	}
	a := p.Addr().As4()
	start := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	size := uint32(1) << (32 - bits)
	// start is a multiple of size, so the sum overflows only to exactly 0.
	next := start + size
	if next == 0 {
		return netip.Prefix{}, fmt.Errorf("%v is the last /%d network; there is no next network of the same size", p, bits)
	}
	addr := netip.AddrFrom4([4]byte{byte(next >> 24), byte(next >> 16), byte(next >> 8), byte(next)})
	return netip.PrefixFrom(addr, bits), nil
}

// AKSServiceCIDR is AKS's default service range; no VNet or pod range of
// the cluster may overlap it.
var AKSServiceCIDR = netip.MustParsePrefix("10.0.0.0/16")

// Range is a named address range, named as the user knows it (a config
// key, "subnet \"gateway\"", "the AKS service range").
type Range struct {
	Name   string
	Prefix netip.Prefix
}

// FirstOverlap returns the first range in against that shares an address
// with p: the one overlap check every range of the stack goes through.
func FirstOverlap(p netip.Prefix, against []Range) (Range, bool) {
	for _, r := range against {
		if r.Prefix.IsValid() && p.Overlaps(r.Prefix) {
			return r, true
		}
	}
	return Range{}, false
}

// Contains reports whether inner lies entirely inside outer.
func Contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// ContainedInAny reports whether inner lies entirely inside one of the
// prefixes of an address space.
func ContainedInAny(space []netip.Prefix, inner netip.Prefix) bool {
	for _, outer := range space {
		if Contains(outer, inner) {
			return true
		}
	}
	return false
}

// ParseNetwork parses an IPv4 CIDR that must already be masked: Azure
// rejects subnets whose address has host bits set, and a silent fix-up would
// hide a typo from the user.
func ParseNetwork(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.224.0.0/16", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 CIDR; Azure subnets here need IPv4, such as 10.224.0.0/16", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %v?", s, p.Masked())
	}
	return p, nil
}

// privateSpace is RFC 1918's private ranges and RFC 6598's shared address
// space, the ranges a VNet can use without shadowing public addresses.
var privateSpace = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
}

// IsPrivate reports whether p lies inside RFC 1918 or RFC 6598 space.
func IsPrivate(p netip.Prefix) bool {
	return ContainedInAny(privateSpace, p)
}

// azureReservedLow is how many addresses Azure reserves at the start of
// every subnet (network, gateway, two for DNS); it also reserves the last.
const azureReservedLow = 4

// LastAssignable is the highest address Azure lets a resource take in an
// IPv4 subnet: one below the broadcast address. Azure hands out addresses
// from the bottom, so it is the last to be taken by nodes or pods.
func LastAssignable(p netip.Prefix) (netip.Addr, error) {
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 29 {
		return netip.Addr{}, fmt.Errorf("%s is not an IPv4 subnet of /29 or larger, the smallest Azure allows", p)
	}
	b := p.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= 1<<(32-p.Bits()) - 1 // broadcast
	n--
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), nil
}

// CheckAssignable reports why Azure would not give addr to a resource in
// subnet p: outside it, or one of the addresses Azure reserves.
func CheckAssignable(p netip.Prefix, addr netip.Addr) error {
	p = p.Masked()
	if !p.Contains(addr) {
		return fmt.Errorf("%s is not in the subnet %s", addr, p)
	}
	last, err := LastAssignable(p)
	if err != nil {
		return err
	}
	first := p.Addr()
	for i := 0; i < azureReservedLow; i++ {
		first = first.Next()
	}
	if addr.Less(first) || last.Less(addr) {
		return fmt.Errorf("%s is reserved by Azure in %s (the first four addresses and the last); use one from %s to %s", addr, p, first, last)
	}
	return nil
}

// AzureReserved is how many addresses of every subnet Azure keeps for
// itself: the first four and the last.
const AzureReserved = azureReservedLow + 1

// Assignable is how many addresses of an IPv4 subnet Azure can hand out;
// 0 for anything else.
func Assignable(p netip.Prefix) int {
	if !p.IsValid() || !p.Addr().Is4() {
		return 0
	}
	return max(1<<(32-p.Bits())-AzureReserved, 0)
}

// SmallestHolding is the longest prefix length (the smallest subnet) whose
// assignable addresses number at least n.
func SmallestHolding(n int) int {
	for bits := 29; bits > 0; bits-- {
		if 1<<(32-bits)-AzureReserved >= n {
			return bits
		}
	}
	return 0
}

// ErrNextIsPublic is NextPrivateNetwork's error when the next network
// leaves private space (10.255.0.0/16 is followed by 11.0.0.0/16).
var ErrNextIsPublic = errors.New("which is public address space")

// NextPrivateNetwork is the derived peer-pod subnet: NextNetwork, refused
// with ErrNextIsPublic (and the network it would be) when that is not
// private, since a VNet range there would shadow public addresses.
func NextPrivateNetwork(p netip.Prefix) (netip.Prefix, error) {
	next, err := NextNetwork(p)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !IsPrivate(next) {
		return next, fmt.Errorf("would be %v, the network after %v, %w", next, p, ErrNextIsPublic)
	}
	return next, nil
}
