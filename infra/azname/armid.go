package azname

import (
	"fmt"
	"regexp"
	"strings"
)

// SubnetID is a parsed ARM resource id of a virtual-network subnet.
type SubnetID struct {
	SubscriptionID     string
	ResourceGroup      string
	VirtualNetworkName string
	SubnetName         string
}

// String renders the canonical ARM id.
func (s SubnetID) String() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s/subnets/%s",
		s.SubscriptionID, s.ResourceGroup, s.VirtualNetworkName, s.SubnetName)
}

var (
	guidPattern    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	segmentPattern = regexp.MustCompile(`^[-\w.()]{1,90}$`)
)

const subnetIDForm = "/subscriptions/<subscription-guid>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>"

// ParseSubnetID parses an ARM subnet id such as the one `az network vnet
// subnet show --query id` prints. ARM treats the fixed segments case
// insensitively, so this does too; names keep their case.
func ParseSubnetID(id string) (SubnetID, error) {
	parts := strings.Split(strings.TrimSuffix(id, "/"), "/")
	// "" subscriptions S resourceGroups G providers Microsoft.Network virtualNetworks V subnets N
	if len(parts) != 11 || parts[0] != "" ||
		!strings.EqualFold(parts[1], "subscriptions") ||
		!strings.EqualFold(parts[3], "resourceGroups") ||
		!strings.EqualFold(parts[5], "providers") ||
		!strings.EqualFold(parts[6], "Microsoft.Network") ||
		!strings.EqualFold(parts[7], "virtualNetworks") ||
		!strings.EqualFold(parts[9], "subnets") {
		return SubnetID{}, fmt.Errorf("%q is not a subnet id of the form %s", id, subnetIDForm)
	}
	s := SubnetID{SubscriptionID: parts[2], ResourceGroup: parts[4], VirtualNetworkName: parts[8], SubnetName: parts[10]}
	if !guidPattern.MatchString(s.SubscriptionID) {
		return SubnetID{}, fmt.Errorf("%q: subscription %q is not a GUID", id, s.SubscriptionID)
	}
	for _, seg := range []struct{ what, v string }{
		{"resource group", s.ResourceGroup}, {"virtual network", s.VirtualNetworkName}, {"subnet", s.SubnetName},
	} {
		if !segmentPattern.MatchString(seg.v) {
			return SubnetID{}, fmt.Errorf("%q: %s name %q is empty, too long or has characters Azure does not allow", id, seg.what, seg.v)
		}
	}
	return s, nil
}
