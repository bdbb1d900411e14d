package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/network/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azname"
)

// ExistingSubnet is a node subnet the user owns (the guide's
// `--vnet-subnet-id`); the peer-pod subnet is added to its VNet.
type ExistingSubnet struct {
	ID azname.SubnetID
}

// PeerPodNetworkArgs configures the networks of the nodes and pod VMs.
type PeerPodNetworkArgs struct {
	// ResourceGroupName holds the VNet we create, the NAT gateway and its IP.
	// Location is also the pod VM group's region.
	ResourceGroupName pulumi.StringInput
	Location          pulumi.StringInput
	// ClusterName seeds the names of what this component creates.
	ClusterName pulumi.StringInput
	// ExistingNodeSubnet, when set, replaces the VNet and node subnet we create.
	ExistingNodeSubnet *ExistingSubnet
	// NodeSubnetCIDR is the node subnet we create (unused with ExistingNodeSubnet).
	NodeSubnetCIDR pulumi.StringInput
	// PeerPodSubnetName and PeerPodSubnetCIDR place the pod-VM subnet.
	PeerPodSubnetName pulumi.StringInput
	PeerPodSubnetCIDR pulumi.StringInput
	// ClusterPrincipalID is the AKS control-plane identity, granted the
	// subnet join role on the node subnet (`az aks create` grants Network
	// Contributor; join and read are what AKS documents it needs).
	ClusterPrincipalID pulumi.StringInput
	SubscriptionID     pulumi.StringInput
	// SubnetRoleName names the custom role that may only join and read
	// subnets; role names are unique in a tenant (azname.SubnetJoinRoleName).
	SubnetRoleName pulumi.StringInput
	Tags           pulumi.StringMapInput
}

// PeerPodNetwork is the node subnet (ours or the user's), the peer-pod subnet
// and the NAT gateway that gives pod VMs egress without public IPs.
type PeerPodNetwork struct {
	pulumi.ResourceState

	// NodeSubnetID resolves only after the cluster identity holds the subnet
	// join role on it, so AKS, which consumes it, is created after the grant.
	NodeSubnetID      pulumi.StringOutput `pulumi:"nodeSubnetId"`
	PeerPodSubnetID   pulumi.StringOutput `pulumi:"peerpodSubnetId"`
	PeerPodSubnetCIDR pulumi.StringOutput `pulumi:"peerpodSubnetCidr"`

	// PeerPodSubnet and NatGateway are what CAA's pod VMs use: CAA must
	// outlive them.
	PeerPodSubnet *network.Subnet
	NatGateway    *network.NatGateway
	// SubnetRoleID may only join and read subnets: what the AKS control
	// plane needs on the node subnet and CAA on the peer-pod subnet.
	SubnetRoleID pulumi.StringOutput `pulumi:"subnetRoleId"`

	// PodVMResourceGroup holds nothing but what CAA creates (pod VMs, their
	// NICs and disks). It waits for the peer-pod subnet, so destroy deletes
	// it, and with it every VM CAA left, before the subnet: the subnet is
	// then free to go, with no hook and no sweep.
	PodVMResourceGroup     *resources.ResourceGroup
	PodVMResourceGroupName pulumi.StringOutput `pulumi:"podVmResourceGroupName"`
	PodVMResourceGroupID   pulumi.StringOutput `pulumi:"podVmResourceGroupId"`
}

// nodeNetwork is the VNet the peer-pod subnet joins and the node subnet in it.
type nodeNetwork struct {
	vnetGroup, vnetName, nodeSubnetID pulumi.StringOutput
	// previousSubnet serialises subnet writes on one VNet, which ARM
	// otherwise rejects with AnotherOperationInProgress; nil when the node
	// subnet is the user's.
	previousSubnet []pulumi.Resource
}

// NewPeerPodNetwork creates the VNet (unless the node subnet is the user's),
// the node and peer-pod subnets one after the other, a Standard NAT
// gateway with a static public IP attached to the peer-pod subnet only,
// and the resource group for pod VMs.
func NewPeerPodNetwork(ctx *pulumi.Context, name string, args *PeerPodNetworkArgs, opts ...pulumi.ResourceOption) (*PeerPodNetwork, error) {
	if args == nil || args.ResourceGroupName == nil || args.Location == nil || args.ClusterName == nil || args.PeerPodSubnetCIDR == nil ||
		args.PeerPodSubnetName == nil || args.ClusterPrincipalID == nil || args.SubscriptionID == nil || args.SubnetRoleName == nil {
		return nil, fmt.Errorf("network %q: ResourceGroupName, Location, ClusterName, PeerPodSubnetName, PeerPodSubnetCIDR, ClusterPrincipalID, "+
			"SubscriptionID and SubnetRoleName are required", name)
	}
	if args.ExistingNodeSubnet == nil && args.NodeSubnetCIDR == nil {
		return nil, fmt.Errorf("network %q: NodeSubnetCIDR is required when no existing node subnet is given", name)
	}
	n := &PeerPodNetwork{}
	if err := ctx.RegisterComponentResource("caa-azure:infra:PeerPodNetwork", name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	nodes, err := newNodeNetwork(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	if err := n.grantSubnetJoin(ctx, name, args, nodes, parent); err != nil {
		return nil, err
	}
	nat, err := newNatGateway(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	peerPodSubnet, err := network.NewSubnet(ctx, name+"-peerpods", &network.SubnetArgs{
		ResourceGroupName:  nodes.vnetGroup,
		VirtualNetworkName: nodes.vnetName,
		SubnetName:         args.PeerPodSubnetName,
		AddressPrefix:      args.PeerPodSubnetCIDR,
		NatGateway:         &network.SubResourceArgs{Id: nat.ID()},
	}, parent, pulumi.DependsOn(nodes.previousSubnet))
	if err != nil {
		return nil, fmt.Errorf("creating the peer-pod subnet: %w", err)
	}
	n.PeerPodSubnet = peerPodSubnet
	n.NatGateway = nat
	n.PeerPodSubnetID = peerPodSubnet.ID().ToStringOutput()
	n.PeerPodSubnetCIDR = peerPodSubnet.AddressPrefix.Elem()
	if err := n.createPodVMGroup(ctx, name, args, nodes, parent); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{
		"nodeSubnetId":           n.NodeSubnetID,
		"peerpodSubnetId":        n.PeerPodSubnetID,
		"peerpodSubnetCidr":      n.PeerPodSubnetCIDR,
		"podVmResourceGroupName": n.PodVMResourceGroupName,
		"podVmResourceGroupId":   n.PodVMResourceGroupID,
	}); err != nil {
		return nil, err
	}
	return n, nil
}

// newNodeNetwork is the user's node subnet as given, or our VNet with a node
// subnet in it.
func newNodeNetwork(ctx *pulumi.Context, name string, args *PeerPodNetworkArgs, parent pulumi.ResourceOption) (nodeNetwork, error) {
	if existing := args.ExistingNodeSubnet; existing != nil {
		return nodeNetwork{
			vnetGroup:    pulumi.String(existing.ID.ResourceGroup).ToStringOutput(),
			vnetName:     pulumi.String(existing.ID.VirtualNetworkName).ToStringOutput(),
			nodeSubnetID: pulumi.String(existing.ID.String()).ToStringOutput(),
		}, nil
	}
	vnet, err := network.NewVirtualNetwork(ctx, name+"-vnet", &network.VirtualNetworkArgs{
		ResourceGroupName:  args.ResourceGroupName,
		Location:           args.Location,
		VirtualNetworkName: args.ClusterName.ToStringOutput().ApplyT(azname.VirtualNetworkName).(pulumi.StringOutput),
		AddressSpace: &network.AddressSpaceArgs{
			AddressPrefixes: pulumi.StringArray{args.NodeSubnetCIDR, args.PeerPodSubnetCIDR},
		},
		// Subnets stay separate resources: an inline list would delete them on every VNet update.
		Tags: args.Tags,
	}, parent)
	if err != nil {
		return nodeNetwork{}, fmt.Errorf("creating the virtual network: %w", err)
	}
	nodeSubnet, err := network.NewSubnet(ctx, name+"-nodes", &network.SubnetArgs{
		ResourceGroupName:  args.ResourceGroupName,
		VirtualNetworkName: vnet.Name,
		SubnetName:         pulumi.String(azname.NodeSubnetName),
		AddressPrefix:      args.NodeSubnetCIDR,
	}, parent)
	if err != nil {
		return nodeNetwork{}, fmt.Errorf("creating the node subnet: %w", err)
	}
	return nodeNetwork{
		vnetGroup:      args.ResourceGroupName.ToStringOutput(),
		vnetName:       vnet.Name,
		nodeSubnetID:   nodeSubnet.ID().ToStringOutput(),
		previousSubnet: []pulumi.Resource{nodeSubnet},
	}, nil
}

// grantSubnetJoin defines the subnet join role and grants it to the
// cluster's identity on the node subnet; NodeSubnetID waits for the grant.
func (n *PeerPodNetwork) grantSubnetJoin(ctx *pulumi.Context, name string, args *PeerPodNetworkArgs, nodes nodeNetwork, parent pulumi.ResourceOption) error {
	// The role is defined where the VNet lives, so the deployer needs no
	// subscription-wide right for it.
	vnetGroupScope := pulumi.All(args.SubscriptionID.ToStringOutput(), nodes.vnetGroup).ApplyT(func(v []any) string {
		return "/subscriptions/" + v[0].(string) + "/resourceGroups/" + v[1].(string)
	}).(pulumi.StringOutput)
	subnetRole, err := customRole(ctx, name+"-subnet-join", args.SubnetRoleName,
		"Lets a caa-azure cluster and cloud-api-adaptor place NICs in a subnet; nothing else.", vnetGroupScope, SubnetJoinActions, parent)
	if err != nil {
		return fmt.Errorf("creating the subnet join role: %w", err)
	}
	n.SubnetRoleID = subnetRole.ID().ToStringOutput()
	// AKS documents join and read on a subnet of the user's as what its
	// identity needs for Azure CNI, overlay or not, and kubenet without a
	// route table of the user's ("Use a managed identity in AKS" and
	// "Configure Azure CNI networking", Microsoft Learn).
	grant, err := authorization.NewRoleAssignment(ctx, name+"-cluster-subnet-join", &authorization.RoleAssignmentArgs{
		PrincipalId:      args.ClusterPrincipalID,
		PrincipalType:    authorization.PrincipalTypeServicePrincipal,
		RoleDefinitionId: n.SubnetRoleID,
		Scope:            nodes.nodeSubnetID,
	}, parent)
	if err != nil {
		return fmt.Errorf("granting the cluster identity subnet join on the node subnet: %w", err)
	}
	n.NodeSubnetID = pulumi.All(nodes.nodeSubnetID, grant.ID()).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	return nil
}

// newNatGateway is a Standard NAT gateway with a static public IP.
func newNatGateway(ctx *pulumi.Context, name string, args *PeerPodNetworkArgs, parent pulumi.ResourceOption) (*network.NatGateway, error) {
	clusterName := args.ClusterName.ToStringOutput()
	ip, err := network.NewPublicIPAddress(ctx, name+"-nat-ip", &network.PublicIPAddressArgs{
		ResourceGroupName:        args.ResourceGroupName,
		Location:                 args.Location,
		PublicIpAddressName:      clusterName.ApplyT(azname.NatPublicIPName).(pulumi.StringOutput),
		PublicIPAllocationMethod: network.IPAllocationMethodStatic,
		Sku: &network.PublicIPAddressSkuArgs{
			Name: network.PublicIPAddressSkuNameStandard,
			Tier: network.PublicIPAddressSkuTierRegional,
		},
		Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating the NAT public IP: %w", err)
	}
	nat, err := network.NewNatGateway(ctx, name+"-nat", &network.NatGatewayArgs{
		ResourceGroupName: args.ResourceGroupName,
		Location:          args.Location,
		NatGatewayName:    clusterName.ApplyT(azname.NatGatewayName).(pulumi.StringOutput),
		Sku:               &network.NatGatewaySkuArgs{Name: network.NatGatewaySkuNameStandard},
		PublicIpAddresses: network.SubResourceArray{&network.SubResourceArgs{Id: ip.ID()}},
		Tags:              args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating the NAT gateway: %w", err)
	}
	return nat, nil
}

// createPodVMGroup creates the group CAA puts pod VMs in, after the peer-pod
// subnet so that destroy deletes it first.
func (n *PeerPodNetwork) createPodVMGroup(ctx *pulumi.Context, name string, args *PeerPodNetworkArgs, nodes nodeNetwork, parent pulumi.ResourceOption) error {
	// The group's name changes whenever the cluster's group, the cluster or
	// the peer-pod subnet would be replaced, so a new one is created first
	// and the old one goes, with the old deployment's VMs, afterwards.
	podVMGroupName := pulumi.All(args.Location.ToStringOutput(), args.ResourceGroupName.ToStringOutput(), args.ClusterName.ToStringOutput(),
		nodes.vnetGroup, nodes.vnetName, args.PeerPodSubnetName.ToStringOutput()).ApplyT(func(v []any) string {
		return azname.PodVMResourceGroupName(v[0].(string), v[1].(string), v[2].(string), v[3].(string)+"/"+v[4].(string)+"/"+v[5].(string))
	}).(pulumi.StringOutput)
	podVMGroup, err := resources.NewResourceGroup(ctx, name+"-podvms", &resources.ResourceGroupArgs{
		ResourceGroupName: podVMGroupName,
		Location:          args.Location,
		Tags:              args.Tags,
	}, parent, pulumi.DependsOn([]pulumi.Resource{n.PeerPodSubnet}))
	if err != nil {
		return fmt.Errorf("creating the pod VM resource group: %w", err)
	}
	n.PodVMResourceGroup = podVMGroup
	n.PodVMResourceGroupName = podVMGroup.Name
	n.PodVMResourceGroupID = podVMGroup.ID().ToStringOutput()
	return nil
}

// SubnetJoinActions are all the subnet role allows.
var SubnetJoinActions = []string{
	"Microsoft.Network/virtualNetworks/subnets/join/action",
	"Microsoft.Network/virtualNetworks/subnets/read",
}

func roleDefinition(subscriptionID pulumi.StringInput, role string) pulumi.StringOutput {
	return subscriptionID.ToStringOutput().ApplyT(func(sub string) string {
		return RoleDefinitionID(sub, role)
	}).(pulumi.StringOutput)
}
