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

// ImageKind is what a pod VM image id (CAA's AZURE_IMAGE_ID) names.
type ImageKind int

const (
	// CommunityGalleryImage is public: anyone may create VMs from it.
	CommunityGalleryImage ImageKind = iota
	// ManagedImage is /subscriptions/.../providers/Microsoft.Compute/images/<name>.
	ManagedImage
	// GalleryImageDefinition is .../galleries/<g>/images/<definition>: its latest version.
	GalleryImageDefinition
	// GalleryImageVersion is .../galleries/<g>/images/<definition>/versions/<version>.
	GalleryImageVersion
)

// ImageID is a parsed pod VM image id.
type ImageID struct {
	Kind ImageKind
	// ID is the id as given.
	ID string
	// SubscriptionID and ResourceGroup hold the image; empty for a
	// community gallery image.
	SubscriptionID, ResourceGroup string
}

const imageIDForms = "a community gallery id (/CommunityGalleries/...), a managed image id " +
	"(/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.Compute/images/<name>) or a gallery image " +
	"definition or version id (.../providers/Microsoft.Compute/galleries/<gallery>/images/<definition>[/versions/<version>])"

// ParseImageID parses the image ids CAA accepts. ARM treats the fixed
// segments case insensitively, so this does too.
func ParseImageID(id string) (ImageID, error) {
	parts := strings.Split(strings.TrimSuffix(id, "/"), "/")
	if len(parts) > 2 && parts[0] == "" && strings.EqualFold(parts[1], "CommunityGalleries") && !strings.ContainsAny(id, " \t\n") {
		return ImageID{Kind: CommunityGalleryImage, ID: id}, nil
	}
	bad := fmt.Errorf("%q is not an image id; use %s", id, imageIDForms)
	// "" subscriptions S resourceGroups G providers Microsoft.Compute ...
	if len(parts) < 9 || parts[0] != "" || !strings.EqualFold(parts[1], "subscriptions") ||
		!strings.EqualFold(parts[3], "resourceGroups") || !strings.EqualFold(parts[5], "providers") ||
		!strings.EqualFold(parts[6], "Microsoft.Compute") {
		return ImageID{}, bad
	}
	img := ImageID{ID: id, SubscriptionID: parts[2], ResourceGroup: parts[4]}
	rest := parts[7:]
	switch {
	case len(rest) == 2 && strings.EqualFold(rest[0], "images"):
		img.Kind = ManagedImage
	case len(rest) == 4 && strings.EqualFold(rest[0], "galleries") && strings.EqualFold(rest[2], "images"):
		img.Kind = GalleryImageDefinition
	case len(rest) == 6 && strings.EqualFold(rest[0], "galleries") && strings.EqualFold(rest[2], "images") &&
		strings.EqualFold(rest[4], "versions"):
		img.Kind = GalleryImageVersion
	default:
		return ImageID{}, bad
	}
	if !guidPattern.MatchString(img.SubscriptionID) {
		return ImageID{}, fmt.Errorf("%q: subscription %q is not a GUID", id, img.SubscriptionID)
	}
	for _, seg := range append([]string{img.ResourceGroup}, rest[1:]...) {
		if !segmentPattern.MatchString(seg) {
			return ImageID{}, fmt.Errorf("%q: %q is empty, too long or has characters Azure does not allow", id, seg)
		}
	}
	return img, nil
}

// ReadActions are what Azure checks on the image when CAA creates a VM
// from it by id (LinkedAuthorizationFailed without them): read on the image
// or version, and for a definition the versions it picks the latest of.
// None for a community gallery image, which anyone may use.
func (i ImageID) ReadActions() []string {
	switch i.Kind {
	case ManagedImage:
		return []string{"Microsoft.Compute/images/read"}
	case GalleryImageDefinition:
		return []string{"Microsoft.Compute/galleries/images/read", "Microsoft.Compute/galleries/images/versions/read"}
	case GalleryImageVersion:
		return []string{"Microsoft.Compute/galleries/images/versions/read"}
	}
	return nil
}

// ResourceGroupScope is the ARM id of the image's resource group; empty for
// a community gallery image.
func (i ImageID) ResourceGroupScope() string {
	if i.Kind == CommunityGalleryImage {
		return ""
	}
	return "/subscriptions/" + i.SubscriptionID + "/resourceGroups/" + i.ResourceGroup
}
