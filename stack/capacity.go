package stack

import (
	"fmt"
	"net/netip"

	"caa-azure/infra/cidr"
)

// The maximum pods per node AKS applies when a node pool sets none, as
// this program's does ("Configure maximum pods per node", AKS docs): only
// classic Azure CNI gives each of them a node-subnet address.
const classicCNIMaxPods = 30

// subnetNeed is a model of how many addresses a subnet must be able to
// hand out, and how that number came about.
type subnetNeed struct {
	addresses int
	why       string
}

// nodeSubnetNeed models the node subnet's addresses. AKS's planning
// formula for classic Azure CNI ("Configure Azure CNI networking", plan IP
// addressing) is (nodes + 1) × (max pods + 1): every node and each of its
// pods takes an address, and an upgrade adds one surge node. Overlay and
// kubenet pods take theirs from podCidr, so there it is one per node. The
// KBS load balancer takes one more address of the node subnet.
func nodeSubnetNeed(c *Config) subnetNeed {
	perNode, how := 1, "1 address each"
	if c.NetworkPlugin == "azure" && c.NetworkPluginMode == "" {
		perNode, how = classicCNIMaxPods+1, fmt.Sprintf("%d each: the node and its %d pods under classic Azure CNI", classicCNIMaxPods+1, classicCNIMaxPods)
	}
	n := (c.NodeCount + 1) * perNode
	why := fmt.Sprintf("%d node(s) and one upgrade surge node at %s", c.NodeCount, how)
	if c.Attestation {
		n++
		why += ", and the KBS load balancer"
	}
	return subnetNeed{n, why}
}

// peerPodSubnetNeed models the peer-pod subnet: one address per pod VM,
// as many pod VMs as CAA allows on each node (peerpodsLimitPerNode); with
// no limit, at least those `pulumi up` starts.
func peerPodSubnetNeed(c *Config) subnetNeed {
	if c.PeerPodsLimitPerNode > 0 {
		return subnetNeed{c.NodeCount * c.PeerPodsLimitPerNode,
			fmt.Sprintf("%d node(s) × peerpodsLimitPerNode %d pod VMs", c.NodeCount, c.PeerPodsLimitPerNode)}
	}
	n := podVMsAtOnce(c)
	return subnetNeed{n, fmt.Sprintf("the %d pod VM(s) this stack starts", n)}
}

// capacityProblem says why subnet p cannot hold need, or "".
func capacityProblem(p netip.Prefix, need subnetNeed, advice string) string {
	have := cidr.Assignable(p)
	if !p.IsValid() || have >= need.addresses {
		return ""
	}
	return fmt.Sprintf("%v has %d addresses Azure can hand out (it keeps %d of every subnet), but %d are needed for %s (a model); %s",
		p, have, cidr.AzureReserved, need.addresses, need.why, advice)
}

// checkCapacity refuses node and peer-pod subnets too small for what will
// run in them; node and peer are the ranges, nodeKey the key that chose
// the node subnet.
func checkCapacity(c *Config, node, peer netip.Prefix, nodeKey string, fail func(key, format string, args ...any)) {
	need := nodeSubnetNeed(c)
	advice := fmt.Sprintf("use a /%d or larger", cidr.SmallestHolding(need.addresses))
	if nodeKey == keyVNetSubnetID {
		advice += " node subnet, or fewer nodes (nodeCount)"
	} else {
		advice += fmt.Sprintf(" such as %v", netip.PrefixFrom(node.Addr(), cidr.SmallestHolding(need.addresses)).Masked())
	}
	if c.NetworkPlugin == "azure" && c.NetworkPluginMode == "" {
		advice += ", or networkPluginMode overlay, where pods take no node-subnet address"
	}
	if problem := capacityProblem(node, need, advice); problem != "" {
		fail(nodeKey, "%s", problem)
	}
	need = peerPodSubnetNeed(c)
	bits := cidr.SmallestHolding(need.addresses)
	advice = fmt.Sprintf("use a /%d or larger such as %v, or a lower peerpodsLimitPerNode", bits, netip.PrefixFrom(peer.Addr(), bits).Masked())
	if problem := capacityProblem(peer, need, advice); problem != "" {
		fail(keyPeerPodSubnetCIDR, "%s", problem)
	}
}
