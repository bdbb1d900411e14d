package azname

import (
	"strings"
	"testing"
)

const (
	sub           = "00000000-1111-2222-3333-444444444444"
	imgGroup      = "/subscriptions/" + sub + "/resourceGroups/img-rg"
	managedID     = imgGroup + "/providers/Microsoft.Compute/images/podvm"
	definitionID  = imgGroup + "/providers/Microsoft.Compute/galleries/gal/images/podvm"
	versionID     = definitionID + "/versions/0.22.0"
	communityID   = "/CommunityGalleries/cocopodvm-d0e4f35f-5530-4b9c-8596-112487cdea85/Images/podvm_image0/Versions/0.10.0"
	versionRead   = "Microsoft.Compute/galleries/images/versions/read"
	definitionGet = "Microsoft.Compute/galleries/images/read"
)

func TestParseImageID(t *testing.T) {
	for _, c := range []struct {
		id      string
		kind    ImageKind
		actions []string
		group   string
	}{
		{communityID, CommunityGalleryImage, nil, ""},
		{managedID, ManagedImage, []string{"Microsoft.Compute/images/read"}, imgGroup},
		{definitionID, GalleryImageDefinition, []string{definitionGet, versionRead}, imgGroup},
		{versionID, GalleryImageVersion, []string{versionRead}, imgGroup},
		// ARM's fixed segments are case-insensitive; names keep their case.
		{strings.ReplaceAll(strings.ReplaceAll(versionID, "resourceGroups", "resourcegroups"), "Microsoft.Compute", "microsoft.compute"),
			GalleryImageVersion, []string{versionRead}, imgGroup},
		{versionID + "/", GalleryImageVersion, []string{versionRead}, imgGroup},
	} {
		img, err := ParseImageID(c.id)
		if err != nil {
			t.Errorf("%s: %v", c.id, err)
			continue
		}
		if img.Kind != c.kind || img.ID != c.id || strings.Join(img.ReadActions(), ",") != strings.Join(c.actions, ",") ||
			img.ResourceGroupScope() != c.group {
			t.Errorf("%s: got kind %d, actions %v, group %q; want %d, %v, %q", c.id, img.Kind, img.ReadActions(),
				img.ResourceGroupScope(), c.kind, c.actions, c.group)
		}
	}
}

func TestParseImageIDRejects(t *testing.T) {
	for id, why := range map[string]string{
		"ubuntu":                "not an image id",
		"/subscriptions/" + sub: "not an image id",
		imgGroup + "/providers/Microsoft.Compute/disks/d":                                 "not an image id",
		imgGroup + "/providers/Microsoft.Compute/galleries/gal":                           "not an image id",
		imgGroup + "/providers/Microsoft.Compute/galleries/gal/images/p/versions":         "not an image id",
		imgGroup + "/providers/Microsoft.Network/images/podvm":                            "not an image id",
		"/subscriptions/not-a-guid/resourceGroups/g/providers/Microsoft.Compute/images/p": "is not a GUID",
		imgGroup + "/providers/Microsoft.Compute/images/bad name":                         "characters Azure does not allow",
		"/CommunityGalleries/a b":                                                         "not an image id",
		"/CommunityGalleries":                                                             "not an image id",
	} {
		_, err := ParseImageID(id)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: error %v, want one saying %q", id, err, why)
		}
		if err != nil && strings.Contains(why, "not an image id") && !strings.Contains(err.Error(), "/CommunityGalleries/") {
			t.Errorf("%q: the error does not show the valid forms: %v", id, err)
		}
	}
}

// FuzzParseImageID: whatever a user writes as podVmImageId, the parser
// neither panics nor accepts an id whose grant would land elsewhere.
func FuzzParseImageID(f *testing.F) {
	for _, s := range []string{communityID, managedID, definitionID, versionID, "", "/", "/subscriptions//resourceGroups//providers"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		img, err := ParseImageID(id)
		if err != nil {
			return
		}
		if img.ID != id {
			t.Fatalf("ID %q, want the input %q", img.ID, id)
		}
		if img.Kind == CommunityGalleryImage {
			if len(img.ReadActions()) != 0 || img.ResourceGroupScope() != "" {
				t.Fatalf("community image %q gets a grant", id)
			}
			return
		}
		// The grant's scope is the image itself, inside the group the
		// role is defined in.
		if !strings.HasPrefix(strings.ToLower(id), strings.ToLower(img.ResourceGroupScope())+"/providers/microsoft.compute/") {
			t.Fatalf("%q is not inside %q", id, img.ResourceGroupScope())
		}
		if len(img.ReadActions()) == 0 {
			t.Fatalf("%q needs a grant but has no actions", id)
		}
	})
}
