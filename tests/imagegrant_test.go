package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestImageReadGrant: Azure checks the VM creator's read right on an image
// given by id, so CAA's identity (managed identity or service principal)
// gets a role that may only read the user's image, granted on the image
// itself; a community gallery image, which anyone may use, gets nothing.
func TestImageReadGrant(t *testing.T) {
	const (
		imageGroup  = "/subscriptions/" + subscriptionID + "/resourceGroups/img"
		managed     = imageGroup + "/providers/Microsoft.Compute/images/podvm"
		definition  = imageGroup + "/providers/Microsoft.Compute/galleries/g/images/podvm"
		community   = "/CommunityGalleries/cocopodvm-d0e4f35f-5530-4b9c-8596-112487cdea85/Images/podvm_image0/Versions/2099.1.1"
		versionRead = "Microsoft.Compute/galleries/images/versions/read"
	)
	chart := map[string]string{"caa-azure:caaVersion": "0.22.0", "caa-azure:caaSourceDir": "", "caa-azure:operatorSourceDir": ""}
	cases := []struct {
		name    string
		set     map[string]string
		actions []string // nil: no grant
		to      string
	}{
		{"gallery image version", merge(chart, map[string]string{"caa-azure:podVmImageId": ownPodVMImage}),
			[]string{versionRead}, "principal-of-caa-" + suffix + "-caa"},
		{"gallery image version, service principal", merge(chart, map[string]string{"caa-azure:podVmImageId": ownPodVMImage,
			"caa-azure:caaAuth": "servicePrincipal"}), []string{versionRead}, "sp-object-id"},
		{"gallery image definition", map[string]string{"caa-azure:podVmImageId": definition},
			[]string{"Microsoft.Compute/galleries/images/read", versionRead}, "principal-of-caa-" + suffix + "-caa"},
		{"managed image", map[string]string{"caa-azure:podVmImageId": managed},
			[]string{"Microsoft.Compute/images/read"}, "principal-of-caa-" + suffix + "-caa"},
		{"community image", map[string]string{"caa-azure:podVmImageId": community}, nil, ""},
		{"the release's default image", nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := stackConfig(t, "snp")
			for k, v := range c.set {
				cfg[k] = v
			}
			m := newMocks()
			deployAndExport(t, "snp", cfg, m)
			var grants []string
			for _, ra := range m.byType(tRoleAssignment) {
				if strings.Contains(ra.Name, "image") {
					grants = append(grants, ra.Name)
				}
			}
			if c.actions == nil {
				if len(grants) > 0 || len(m.byType(tRoleDefinition)) != 2 {
					t.Fatalf("a community image needs no grant, got %v", grants)
				}
				return
			}
			image := c.set["caa-azure:podVmImageId"]
			ra := m.one(t, tRoleAssignment, "caa-identity-image-read")
			def := m.one(t, tRoleDefinition, "caa-identity-image-read")
			expect(t, "grant scope", str(t, ra, "scope"), image)
			expect(t, "grantee", str(t, ra, "principalId"), c.to)
			expect(t, "grantee type", str(t, ra, "principalType"), "ServicePrincipal")
			if !dependsOn(ra, def) {
				t.Error("the grant does not use the image read role")
			}
			b, _ := json.Marshal(prop(t, def, "permissions").Mappable())
			want, _ := json.Marshal([]map[string][]string{{"actions": c.actions}})
			if string(b) != string(want) {
				t.Errorf("image role permissions = %s, want %s", b, want)
			}
			expect(t, "image role scope", str(t, def, "scope"), imageGroup)
			expect(t, "image role assignable scope", str(t, def, "assignableScopes", "0"), imageGroup)
			expect(t, "image role name", str(t, def, "roleName"),
				"caa-azure pod VM image reader ("+subscriptionID+"/caa-rg-"+suffix+"/caa-"+suffix+")")
			if !def.RegisterRPC.GetDeleteBeforeReplace() {
				t.Error("the image role keeps its tenant-unique name when the image moves: it must be deleted before it is replaced")
			}
			// CAA outlives the grant: destroy deletes CAA first.
			caa := func() pulumi.MockResourceArgs {
				if c.set["caa-azure:caaVersion"] == "0.22.0" {
					return m.one(t, tChart, "caa-peerpods")
				}
				return m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset")
			}()
			if !dependsOn(caa, ra) {
				t.Error("CAA does not wait for (and so outlive) its read on the image")
			}
		})
	}
}
