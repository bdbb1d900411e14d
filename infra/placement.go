package infra

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/network/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azname"
	"caa-azure/infra/cidr"
)

// ExistingVNet is what Azure says about the VNet of a user's node subnet.
type ExistingVNet struct {
	Location     string
	AddressSpace []netip.Prefix
	// Subnets maps each subnet name in the VNet to its prefixes.
	Subnets map[string][]netip.Prefix
}

// LookupResourceGroup reads a user's resource group. It is an invoke, not
// a resource, so the stack can never delete the group.
func LookupResourceGroup(ctx *pulumi.Context, name string) (*ExistingResourceGroup, error) {
	rg, err := resources.LookupResourceGroup(ctx, &resources.LookupResourceGroupArgs{ResourceGroupName: name})
	if err != nil {
		return nil, err
	}
	return &ExistingResourceGroup{Name: rg.Name}, nil
}

// LookupVNet reads the VNet that holds a subnet.
func LookupVNet(ctx *pulumi.Context, id azname.SubnetID) (*ExistingVNet, error) {
	vnet, err := network.LookupVirtualNetwork(ctx, &network.LookupVirtualNetworkArgs{
		ResourceGroupName:  id.ResourceGroup,
		VirtualNetworkName: id.VirtualNetworkName,
	})
	if err != nil {
		return nil, err
	}
	v := &ExistingVNet{Subnets: map[string][]netip.Prefix{}}
	if vnet.Location != nil {
		v.Location = *vnet.Location
	}
	if vnet.AddressSpace != nil {
		v.AddressSpace = parsePrefixes(vnet.AddressSpace.AddressPrefixes)
	}
	for _, s := range vnet.Subnets {
		if s.Name == nil {
			continue
		}
		var raw []string
		if s.AddressPrefix != nil {
			raw = append(raw, *s.AddressPrefix)
		}
		raw = append(raw, s.AddressPrefixes...)
		v.Subnets[*s.Name] = parsePrefixes(raw)
	}
	return v, nil
}

func parsePrefixes(raw []string) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range raw {
		if p, err := netip.ParsePrefix(r); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// What a placement problem is about, so the caller can name its setting.
const (
	AboutNodeSubnet    = "node subnet"
	AboutPeerPodSubnet = "peer-pod subnet"
	AboutPodCIDR       = "pod range"
)

// PlacementProblem is one reason a peer-pod subnet cannot go where asked.
type PlacementProblem struct {
	About   string
	Message string
}

// Placement is what PlacePeerPodSubnet needs to know.
type Placement struct {
	SubscriptionID string
	Location       string
	Node           azname.SubnetID
	VNet           *ExistingVNet
	// Requested is the configured peer-pod range; invalid means "the next
	// network of the node subnet's size".
	Requested netip.Prefix
	// IsOwn reports whether a subnet of this name that holds the peer-pod
	// range is the one this stack created on an earlier run; it is asked
	// about no other subnet.
	IsOwn func(name string) bool
	// FormerOwnName is the name earlier versions gave the stack's subnet;
	// a clash with a subnet of that name says how to keep it.
	FormerOwnName, FormerOwnKey string
	PodCIDR                     netip.Prefix
}

// PlacePeerPodSubnet decides the peer-pod range inside the user's VNet and
// checks that Azure will accept it: same subscription and region, inside
// the address space, clear of every other subnet and of the AKS ranges.
func PlacePeerPodSubnet(pl Placement) (netip.Prefix, []PlacementProblem) {
	var problems []PlacementProblem
	add := func(about, format string, args ...any) {
		problems = append(problems, PlacementProblem{about, fmt.Sprintf(format, args...)})
	}
	if !strings.EqualFold(pl.Node.SubscriptionID, pl.SubscriptionID) {
		add(AboutNodeSubnet, "is in subscription %s but the stack deploys to %s; use a subnet of the deploying subscription "+
			"(or `az account set -s %s`)", pl.Node.SubscriptionID, pl.SubscriptionID, pl.Node.SubscriptionID)
	}
	if pl.VNet.Location != "" && !strings.EqualFold(strings.ReplaceAll(pl.VNet.Location, " ", ""), pl.Location) {
		add(AboutNodeSubnet, "is in region %s but azure-native:location is %s; AKS and the NAT gateway must be in the VNet's region",
			pl.VNet.Location, pl.Location)
	}
	nodePrefixes := pl.VNet.Subnets[pl.Node.SubnetName]
	if len(nodePrefixes) == 0 {
		add(AboutNodeSubnet, "subnet %q does not exist in virtual network %q (or has no IPv4 range)", pl.Node.SubnetName, pl.Node.VirtualNetworkName)
		return netip.Prefix{}, problems
	}
	peer := pl.Requested
	if !peer.IsValid() {
		next, err := cidr.NextPrivateNetwork(nodePrefixes[0])
		switch {
		case errors.Is(err, cidr.ErrNextIsPublic):
			add(AboutPeerPodSubnet, "%v (the node subnet); set peerpodSubnetCidr to a free private range (RFC 1918 or RFC 6598) "+
				"of the VNet", err)
			return netip.Prefix{}, problems
		case err != nil:
			add(AboutPeerPodSubnet, "cannot be derived from the node subnet %v: %v; set it explicitly", nodePrefixes[0], err)
			return netip.Prefix{}, problems
		}
		peer = next
	}
	if !cidr.ContainedInAny(pl.VNet.AddressSpace, peer) {
		add(AboutPeerPodSubnet, "%v does not fit the address space %v of virtual network %q; set peerpodSubnetCidr to a free "+
			"range inside it, or add a range to the VNet (`az network vnet update --address-prefixes ...`)",
			peer, pl.VNet.AddressSpace, pl.Node.VirtualNetworkName)
	}
	var others []cidr.Range
	names := make([]string, 0, len(pl.VNet.Subnets))
	for name := range pl.VNet.Subnets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, p := range pl.VNet.Subnets[name] {
			if p == peer && pl.IsOwn != nil && pl.IsOwn(name) {
				continue
			}
			others = append(others, cidr.Range{Name: fmt.Sprintf("subnet %q", name), Prefix: p})
		}
	}
	for _, clash := range allOverlaps(peer, others) {
		advice := "set peerpodSubnetCidr to a free range"
		if pl.FormerOwnName != "" && clash.Name == fmt.Sprintf("subnet %q", pl.FormerOwnName) && clash.Prefix == peer {
			advice = fmt.Sprintf("if that subnet is this stack's own, created before peer-pod subnet names carried the stack's "+
				"suffix, keep it with `pulumi config set %s %s`; otherwise %s", pl.FormerOwnKey, pl.FormerOwnName, advice)
		}
		add(AboutPeerPodSubnet, "%v overlaps %s (%v) of virtual network %q; %s",
			peer, clash.Name, clash.Prefix, pl.Node.VirtualNetworkName, advice)
	}
	for _, p := range append(nodePrefixes, peer) {
		if _, clash := cidr.FirstOverlap(p, []cidr.Range{{Name: "podCidr", Prefix: pl.PodCIDR}}); clash {
			add(AboutPodCIDR, "%v overlaps the subnet range %v; pod and VNet ranges must be separate", pl.PodCIDR, p)
		}
		if _, clash := cidr.FirstOverlap(p, []cidr.Range{{Name: "the AKS service range", Prefix: cidr.AKSServiceCIDR}}); clash {
			add(AboutNodeSubnet, "the range %v overlaps the AKS service range %v; use subnets outside it", p, cidr.AKSServiceCIDR)
		}
	}
	if len(problems) > 0 {
		return netip.Prefix{}, problems
	}
	return peer, nil
}

// allOverlaps is every range in against that p overlaps, in order.
func allOverlaps(p netip.Prefix, against []cidr.Range) []cidr.Range {
	var out []cidr.Range
	for len(against) > 0 {
		clash, ok := cidr.FirstOverlap(p, against)
		if !ok {
			break
		}
		out = append(out, clash)
		for i := range against {
			if against[i] == clash {
				against = against[i+1:]
				break
			}
		}
	}
	return out
}
