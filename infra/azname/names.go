// Package azname derives and checks Azure names and ARM ids: what the stack
// calls its resources and how long each name may be. It needs no SDK, so it
// is fuzzed in CI.
package azname

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
)

// SuffixLength is the length of the per-stack random suffix that makes the
// generated names unique; six lowercase letters or digits keep every derived
// name well inside Azure's limits.
const SuffixLength = 6

// Azure naming limits, from "Naming rules and restrictions for Azure
// resources" (Microsoft.Resources, Microsoft.ContainerService).
const (
	maxResourceGroupName     = 90
	maxNodeResourceGroupName = 80
	maxClusterName           = 63
	maxVirtualNetworkName    = 64
	maxDNSPrefix             = 54
	maxAdminUsername         = 32
)

// GeneratedResourceGroupName is the name of the resource group the stack
// creates when the user names none.
func GeneratedResourceGroupName(suffix string) string { return "caa-rg-" + suffix }

// GeneratedClusterName is the AKS name used when the user names none.
func GeneratedClusterName(suffix string) string { return "caa-" + suffix }

// NodeResourceGroupName is the group AKS creates for the cluster's own
// infrastructure; a predictable name (instead of AKS's MC_*) lets users and
// the guide's `az` commands find it.
func NodeResourceGroupName(resourceGroup string) string { return resourceGroup + "-aks" }

var (
	resourceGroupPattern = regexp.MustCompile(`^[-\w.()]+$`)
	clusterNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	adminUserPattern     = regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9_]*$`)
	nonDNS               = regexp.MustCompile(`[^a-zA-Z0-9-]+`)
)

// ValidateResourceGroupName checks a resource group name against Azure's
// rules and against the room needed for the derived node resource group.
func ValidateResourceGroupName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty")
	case !resourceGroupPattern.MatchString(name):
		return fmt.Errorf("%q has characters Azure does not allow; use letters, digits, '-', '_', '.', '(' and ')'", name)
	case strings.HasSuffix(name, "."):
		return fmt.Errorf("%q ends with '.', which Azure does not allow", name)
	case len(name) > maxResourceGroupName:
		return fmt.Errorf("%q is %d characters; Azure allows at most %d", name, len(name), maxResourceGroupName)
	case len(NodeResourceGroupName(name)) > maxNodeResourceGroupName:
		return fmt.Errorf("%q is %d characters; the node resource group %q would exceed Azure's %d, so use at most %d",
			name, len(name), NodeResourceGroupName(name), maxNodeResourceGroupName, maxNodeResourceGroupName-len("-aks"))
	}
	return nil
}

// ValidateClusterName checks an AKS cluster name.
func ValidateClusterName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty")
	case len(name) > maxClusterName:
		return fmt.Errorf("%q is %d characters; AKS allows at most %d", name, len(name), maxClusterName)
	case len(VirtualNetworkName(name)) > maxVirtualNetworkName:
		return fmt.Errorf("%q is %d characters; the stack's VNet %q would exceed Azure's %d, so use at most %d",
			name, len(name), VirtualNetworkName(name), maxVirtualNetworkName, maxVirtualNetworkName-len(VirtualNetworkName("")))
	case !clusterNamePattern.MatchString(name):
		return fmt.Errorf("%q is not a valid AKS name; use letters, digits, '-' and '_', starting and ending with a letter or digit", name)
	}
	return nil
}

// ValidateAdminUsername checks the Linux admin user of the worker nodes.
func ValidateAdminUsername(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty")
	case len(name) > maxAdminUsername:
		return fmt.Errorf("%q is %d characters; at most %d are allowed", name, len(name), maxAdminUsername)
	case !adminUserPattern.MatchString(name):
		return fmt.Errorf("%q is not a valid Linux user name; start with a letter, then letters, digits, '-' or '_'", name)
	case reservedAdminUsernames[strings.ToLower(name)]:
		return fmt.Errorf("%q is a name Azure reserves for Linux VMs; pick another such as azuser", name)
	}
	return nil
}

// reservedAdminUsernames are the Linux admin names Azure refuses
// ("Linux VM FAQ: what are the username requirements", Microsoft Learn),
// which AKS's linuxProfile inherits; root is refused too.
var reservedAdminUsernames = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`administrator admin user user1 test user2 test1 user3 admin1 1 123 a actuser adm
		admin2 aspnet backup console david guest john owner root server sql support support_388945a0 sys test2 test3
		user4 user5`) {
		reservedAdminUsernames[n] = true
	}
}

// DNSPrefix derives the AKS DNS prefix from the cluster name: the prefix
// allows only letters, digits and '-', at most 54 characters, starting and
// ending with a letter or digit.
func DNSPrefix(clusterName string) string {
	p := nonDNS.ReplaceAllString(clusterName, "-")
	p = strings.Trim(p[:min(len(p), maxDNSPrefix)], "-")
	if p == "" {
		return "caa"
	}
	return p
}

const maxSubnetName = 80

// VirtualNetworkName names the VNet the stack creates. Every name below
// derives from the cluster name so that one stack's resources sort together
// in the portal and in `az` listings.
func VirtualNetworkName(cluster string) string { return cluster + "-vnet" }

// NatGatewayName names the pod VMs' NAT gateway.
func NatGatewayName(cluster string) string { return cluster + "-peerpod-nat" }

// NatPublicIPName names the NAT gateway's static public IP.
func NatPublicIPName(cluster string) string { return cluster + "-peerpod-nat-ip" }

// ControlPlaneIdentityName names the AKS control plane's identity.
func ControlPlaneIdentityName(cluster string) string { return cluster + "-control-plane" }

// CAAIdentityName names the cloud-api-adaptor's workload identity.
func CAAIdentityName(cluster string) string { return cluster + "-caa" }

// NodeSubnetName is the node subnet in a VNet the stack creates.
const NodeSubnetName = "nodes"

// PeerPodSubnetName names the pod-VM subnet. It carries the stack name so
// that several stacks can share one existing VNet.
func PeerPodSubnetName(stack string) string {
	n := "caa-peerpods-" + stack
	return strings.TrimRight(n[:min(len(n), maxSubnetName)], ".")
}

var subnetNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([-\w.]*[\w])?$`)

// ValidateSubnetName checks a subnet name ("Naming rules and restrictions
// for Azure resources", Microsoft.Network): 1-80 letters, digits, '_', '.'
// and '-', starting with a letter or digit and ending with one or '_'.
func ValidateSubnetName(name string) error {
	switch {
	case len(name) > maxSubnetName:
		return fmt.Errorf("%q is %d characters; Azure allows at most %d", name, len(name), maxSubnetName)
	case !subnetNamePattern.MatchString(name):
		return fmt.Errorf("%q is not a subnet name; use letters, digits, '_', '.' and '-', starting with a letter or digit, such as caa-peerpods-snp", name)
	}
	return nil
}

// PodVMResourceGroupName names the group that holds nothing but pod VMs:
// the cluster name, then a hash of everything whose change replaces the
// cluster or the peer-pod subnet (region, the cluster's group, the cluster
// name and the subnet's "<vnet group>/<vnet>/<subnet>"). At most
// 63 + 16 characters, inside Azure's 90.
func PodVMResourceGroupName(location, resourceGroup, cluster, peerPodSubnet string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.Join([]string{location, resourceGroup, cluster, peerPodSubnet}, "\n"))))
	return fmt.Sprintf("%s-podvms-%x", cluster, h[:4])
}

// VMSizeRoleName names the custom role that lets CAA list VM sizes. Role
// names are unique in a tenant: the subscription, group and cluster name
// one AKS cluster, so two stacks never share a name, even in one group.
func VMSizeRoleName(subscriptionID, resourceGroup, cluster string) string {
	return fmt.Sprintf("caa-azure VM size reader (%s/%s/%s)", subscriptionID, resourceGroup, cluster)
}

// SubnetJoinRoleName names the stack's custom role that may only join and
// read subnets, unique in the tenant as VMSizeRoleName is.
func SubnetJoinRoleName(subscriptionID, resourceGroup, cluster string) string {
	return fmt.Sprintf("caa-azure subnet join (%s/%s/%s)", subscriptionID, resourceGroup, cluster)
}

// PodVMListCommand is the guide's command to see the pod VMs CAA created.
func PodVMListCommand(podVMGroup string) string {
	return fmt.Sprintf("az vm list --resource-group %s --output table", podVMGroup)
}

// ImageReadRoleName names the stack's custom role that may only read its
// pod VM image, unique in the tenant as VMSizeRoleName is.
func ImageReadRoleName(subscriptionID, resourceGroup, cluster string) string {
	return fmt.Sprintf("caa-azure pod VM image reader (%s/%s/%s)", subscriptionID, resourceGroup, cluster)
}
