package tests

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

const tRoleDefinition = "azure-native:authorization:RoleDefinition"

// forbiddenRoles are built-in roles far wider than CAA or AKS need.
var forbiddenRoles = map[string]string{
	"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
	"b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
	"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
	// It may rewrite or delete a subnet; joining one needs only join and read.
	"4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
}

// TestLeastPrivilege lists every role assignment with its role, scope and
// principal, in every mode. A new assignment, a wider scope, another
// principal or a broad built-in role fails it. It is the one test of who
// may do what; other tests leave scopes to it.
func TestLeastPrivilege(t *testing.T) {
	modes := append(teardownModes(),
		teardownMode{name: "no VM size role", stack: "snp", group: "caa-rg-" + suffix, cluster: "caa-" + suffix,
			set: map[string]string{"caa-azure:grantVmSizeRead": "false"}})
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			cfg := stackConfig(t, mode.stack)
			for k, v := range mode.set {
				cfg[k] = v
			}
			m := withExistingVNet(newMocks())
			m.resourceGroups["team-rg"] = "eastus"
			deployAndExport(t, mode.stack, cfg, m)

			vnet := "/subscriptions/" + subscriptionID + "/resourceGroups/" + mode.group + "/providers/Microsoft.Network/virtualNetworks/" + mode.cluster + "-vnet"
			nodeSubnet, peerSubnet := vnet+"/subnets/nodes", vnet+"/subnets/caa-peerpods-"+mode.stack
			if mode.set["caa-azure:vnetSubnetId"] != "" {
				nodeSubnet = existingSubnetID
				peerSubnet = "/subscriptions/" + subscriptionID + "/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/hub/subnets/caa-peerpods-" + mode.stack + "-" + suffix
			}
			podVMs := "/subscriptions/" + subscriptionID + "/resourceGroups/" + podVMGroup(t, m)
			subscription := "/subscriptions/" + subscriptionID
			customRole := "custom VM size reader"
			subnetRole := "custom subnet join"
			controlPlane := "principal-of-" + mode.cluster + "-control-plane"
			caa := "principal-of-" + mode.cluster + "-caa"
			if mode.set["caa-azure:caaAuth"] == "servicePrincipal" {
				caa = "sp-object-id"
			}
			want := map[string]string{
				"network-cluster-subnet-join": subnetRole + " @ " + nodeSubnet + " to " + controlPlane,
				"caa-identity-vm-contributor": roleID(roleVMContributor) + " @ " + podVMs + " to " + caa,
				"caa-identity-reader":         roleID(roleReader) + " @ " + podVMs + " to " + caa,
				"caa-identity-subnet-join":    subnetRole + " @ " + peerSubnet + " to " + caa,
			}
			if mode.set["caa-azure:grantVmSizeRead"] != "false" {
				want["caa-identity-vm-size-reader"] = customRole + " @ " + subscription + " to " + caa
			}
			imageRole := "custom pod VM image reader"
			if mode.set["caa-azure:podVmImageId"] == ownPodVMImage {
				want["caa-identity-image-read"] = imageRole + " @ " + ownPodVMImage + " to " + caa
			}
			got := map[string]string{}
			for _, ra := range m.byType(tRoleAssignment) {
				role := str(t, ra, "roleDefinitionId")
				for _, def := range m.byType(tRoleDefinition) {
					if dependsOn(ra, def) {
						role = map[string]string{"caa-identity-vm-size-reader": customRole, "network-subnet-join": subnetRole,
							"caa-identity-image-read": imageRole}[def.Name]
					}
				}
				for guid, name := range forbiddenRoles {
					if strings.HasSuffix(role, guid) {
						t.Errorf("%s grants %s", ra.Name, name)
					}
				}
				expect(t, ra.Name+" principal type", str(t, ra, "principalType"), "ServicePrincipal")
				got[ra.Name] = role + " @ " + str(t, ra, "scope") + " to " + str(t, ra, "principalId")
			}
			var names []string
			for n := range got {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if want[n] == "" {
					t.Errorf("new role assignment %s: %s; review it and add it here if it is the narrowest possible", n, got[n])
				} else if got[n] != want[n] {
					t.Errorf("role assignment %s is\n  %s\nwant\n  %s", n, got[n], want[n])
				}
			}
			for n := range want {
				if got[n] == "" {
					t.Errorf("role assignment %s is missing", n)
				}
			}

			// The subnet role: join and read, defined where the VNet lives.
			vnetGroup := "/subscriptions/" + subscriptionID + "/resourceGroups/" + mode.group
			if mode.set["caa-azure:vnetSubnetId"] != "" {
				vnetGroup = "/subscriptions/" + subscriptionID + "/resourceGroups/net-rg"
			}
			join := m.one(t, tRoleDefinition, "network-subnet-join")
			b, _ := json.Marshal(prop(t, join, "permissions").Mappable())
			if string(b) != `[{"actions":["Microsoft.Network/virtualNetworks/subnets/join/action","Microsoft.Network/virtualNetworks/subnets/read"]}]` {
				t.Errorf("subnet role permissions = %s", b)
			}
			expect(t, "subnet role scope", str(t, join, "scope"), vnetGroup)
			expect(t, "subnet role assignable scope", str(t, join, "assignableScopes", "0"), vnetGroup)
			expect(t, "subnet role name", str(t, join, "roleName"), "caa-azure subnet join ("+subscriptionID+"/"+mode.group+"/"+mode.cluster+")")

			// The one subscription-scoped grant carries exactly one action.
			defs := m.byType(tRoleDefinition)
			if mode.set["caa-azure:podVmImageId"] == ownPodVMImage {
				defs = defs[:len(defs)-1] // checked by TestImageReadGrant
			}
			if mode.set["caa-azure:grantVmSizeRead"] == "false" {
				if len(defs) != 1 {
					t.Error("grantVmSizeRead false must create no VM size role")
				}
				return
			}
			def := m.one(t, tRoleDefinition, "caa-identity-vm-size-reader")
			b, _ = json.Marshal(prop(t, def, "permissions").Mappable())
			if string(b) != `[{"actions":["Microsoft.Compute/locations/vmSizes/read"]}]` {
				t.Errorf("custom role permissions = %s", b)
			}
			expect(t, "custom role scope", str(t, def, "scope"), subscription)
			expect(t, "custom role assignable scope", str(t, def, "assignableScopes", "0"), subscription)
			expect(t, "custom role name", str(t, def, "roleName"), "caa-azure VM size reader ("+subscriptionID+"/"+mode.group+"/"+mode.cluster+")")
		})
	}
}

// TestSecretsStaySecret: the kubeconfig's credential appears only in
// values marked secret: not in any other export or resource input.
func TestSecretsStaySecret(t *testing.T) {
	m := newMocks()
	out := deployAndExport(t, "snp", stackConfig(t, "snp"), m)
	if !out["kubeconfig"].Secret {
		t.Fatal("the kubeconfig export is not secret")
	}
	for k, v := range out {
		if k != "kubeconfig" && strings.Contains(asString(v.Value), fakeToken) {
			t.Errorf("export %s leaks the kubeconfig's token", k)
		}
	}
	for _, r := range m.resources {
		for key, v := range r.Inputs {
			if v.IsSecret() {
				continue
			}
			b, _ := json.Marshal(v.Mappable())
			if strings.Contains(string(b), fakeToken) {
				t.Errorf("%s %s input %s carries the kubeconfig token in plain text", r.TypeToken, r.Name, key)
			}
		}
	}
	prov := m.one(t, tK8sProvider, "cluster-k8s")
	if !prop(t, prov, "kubeconfig").IsSecret() {
		t.Error("the provider's kubeconfig input is not secret")
	}
}

func asString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
