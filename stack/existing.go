package stack

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/network/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra"
)

// existingVNet is what Azure says about the VNet of the user's node subnet.
type existingVNet struct {
	Location     string
	AddressSpace []netip.Prefix
	// Subnets maps each subnet name in the VNet to its prefixes.
	Subnets map[string][]netip.Prefix
}

// lookupResourceGroup resolves the user's resource group. It is an invoke,
// not a resource, so the stack can never delete the group.
func lookupResourceGroup(ctx *pulumi.Context, name string) (*infra.ExistingResourceGroup, error) {
	rg, err := resources.LookupResourceGroup(ctx, &resources.LookupResourceGroupArgs{ResourceGroupName: name})
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: resource group %q could not be read (%v); create it first "+
			"(`az group create -n %s -l <region>`) or leave resourceGroupName empty to let the stack create one",
			qualify(KeyResourceGroupName), name, err, name)}}
	}
	return &infra.ExistingResourceGroup{Name: rg.Name}, nil
}

// lookupVNet reads the VNet that holds the user's node subnet.
func lookupVNet(ctx *pulumi.Context, id infra.SubnetID) (*existingVNet, error) {
	vnet, err := network.LookupVirtualNetwork(ctx, &network.LookupVirtualNetworkArgs{
		ResourceGroupName:  id.ResourceGroup,
		VirtualNetworkName: id.VirtualNetworkName,
	})
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: virtual network %q in resource group %q could not be read (%v); "+
			"check the id with `az network vnet subnet show --ids <id>`", qualify(KeyVNetSubnetID), id.VirtualNetworkName, id.ResourceGroup, err)}}
	}
	v := &existingVNet{Subnets: map[string][]netip.Prefix{}}
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

// placePeerPodSubnet decides the peer-pod CIDR inside the user's VNet and
// checks that Azure will accept it: same subscription and region, inside the
// address space, clear of every other subnet and of the AKS ranges.
func placePeerPodSubnet(cfg *Config, subscriptionID string, vnet *existingVNet) (netip.Prefix, error) {
	var errs problems
	id := cfg.VNetSubnet
	if !strings.EqualFold(id.SubscriptionID, subscriptionID) {
		errs.add(KeyVNetSubnetID, "is in subscription %s but the stack deploys to %s; use a subnet of the deploying subscription "+
			"(or `az account set -s %s`)", id.SubscriptionID, subscriptionID, id.SubscriptionID)
	}
	if vnet.Location != "" && !strings.EqualFold(strings.ReplaceAll(vnet.Location, " ", ""), cfg.Location) {
		errs.add(KeyVNetSubnetID, "is in region %s but %s is %s; AKS and the NAT gateway must be in the VNet's region",
			vnet.Location, LocationKey, cfg.Location)
	}
	nodePrefixes, ok := vnet.Subnets[id.SubnetName]
	if !ok || len(nodePrefixes) == 0 {
		errs.add(KeyVNetSubnetID, "subnet %q does not exist in virtual network %q (or has no IPv4 range)", id.SubnetName, id.VirtualNetworkName)
		return netip.Prefix{}, &ConfigError{Problems: errs}
	}
	peer := cfg.PeerPodSubnetCIDR
	if !peer.IsValid() {
		next, err := infra.NextNetwork(nodePrefixes[0])
		if err != nil {
			errs.add(KeyPeerPodSubnetCIDR, "cannot be derived from the node subnet %v: %v; set it explicitly", nodePrefixes[0], err)
			return netip.Prefix{}, &ConfigError{Problems: errs}
		}
		peer = next
	}
	if !infra.ContainedInAny(vnet.AddressSpace, peer) {
		errs.add(KeyPeerPodSubnetCIDR, "%v does not fit the address space %v of virtual network %q; set peerpodSubnetCidr to a free "+
			"range inside it, or add a range to the VNet (`az network vnet update --address-prefixes ...`)",
			peer, vnet.AddressSpace, id.VirtualNetworkName)
	}
	ours := infra.PeerPodSubnetName(cfg.Stack)
	for name, prefixes := range vnet.Subnets {
		for _, p := range prefixes {
			// A subnet of our own name and range is the one this stack
			// created on an earlier run.
			if name == ours && p == peer {
				continue
			}
			if infra.Overlaps(p, peer) {
				errs.add(KeyPeerPodSubnetCIDR, "%v overlaps subnet %q (%v) of virtual network %q; set peerpodSubnetCidr to a free range",
					peer, name, p, id.VirtualNetworkName)
			}
		}
	}
	if cfg.PodCIDR.IsValid() {
		for _, p := range append(nodePrefixes, peer) {
			if infra.Overlaps(p, cfg.PodCIDR) {
				errs.add(KeyPodCIDR, "%v overlaps the subnet range %v; pod and VNet ranges must be separate", cfg.PodCIDR, p)
			}
		}
	}
	service := netip.MustParsePrefix(aksServiceCIDR)
	for _, p := range append(nodePrefixes, peer) {
		if infra.Overlaps(p, service) {
			errs.add(KeyVNetSubnetID, "the range %v overlaps the AKS service range %v; use subnets outside it", p, service)
		}
	}
	if len(errs) > 0 {
		return netip.Prefix{}, &ConfigError{Problems: errs}
	}
	return peer, nil
}
