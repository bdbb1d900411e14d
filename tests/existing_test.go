package tests

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/stack"
)

func TestExistingResourceGroup(t *testing.T) {
	cfg := stackConfig(t, "snp")
	cfg["caa-azure:resourceGroupName"] = "team-rg"
	cfg["caa-azure:clusterName"] = "team-aks"
	m := newMocks()
	m.resourceGroups["team-rg"] = "eastus"
	out := deployAndExport(t, "snp", cfg, m)

	for _, rg := range m.byType(tResourceGroup) {
		if rg.Name != "network-podvms" || str(t, rg, "resourceGroupName") == "team-rg" {
			t.Fatalf("an existing group must only be looked up; ResourceGroup %s (%s) was registered (destroy would delete it)",
				rg.Name, str(t, rg, "resourceGroupName"))
		}
	}
	// With both names given, the suffix is still the stack's identity (its tag).
	if n := len(m.byType(tRandom)); n != 1 {
		t.Errorf("want the stack's one random suffix; got %d", n)
	}
	aks := m.one(t, tCluster, "cluster-aks")
	expect(t, "cluster group", str(t, aks, "resourceGroupName"), "team-rg")
	expect(t, "cluster name", str(t, aks, "resourceName"), "team-aks")
	expect(t, "node group", str(t, aks, "nodeResourceGroup"), "team-rg-aks")
	expect(t, "VNet group", str(t, m.one(t, tVNet, "network-vnet"), "resourceGroupName"), "team-rg")
	expect(t, "export", out["resourceGroupName"].Value.(string), "team-rg")
	expect(t, "pod VM command", out["podVmListCommand"].Value.(string), "az vm list --resource-group "+podVMGroup(t, m)+" --output table")
}

func TestExistingNodeSubnet(t *testing.T) {
	cfg := stackConfig(t, "snp")
	cfg["caa-azure:vnetSubnetId"] = existingSubnetID
	m := withExistingVNet(newMocks())
	out := deployAndExport(t, "snp", cfg, m)

	if n := len(m.byType(tVNet)); n != 0 {
		t.Errorf("the user's VNet must not be created or adopted; got %d VirtualNetwork resources", n)
	}
	subnets := m.byType(tSubnet)
	if len(subnets) != 1 {
		t.Fatalf("only the peer-pod subnet is ours; got %d subnets", len(subnets))
	}
	peer := subnets[0]
	expect(t, "peer-pod subnet group", str(t, peer, "resourceGroupName"), "net-rg")
	expect(t, "peer-pod subnet VNet", str(t, peer, "virtualNetworkName"), "hub")
	expect(t, "peer-pod subnet range", str(t, peer, "addressPrefix"), "10.50.16.0/20")
	// Another stack named snp may share the VNet: the name carries the suffix.
	expect(t, "peer-pod subnet name", str(t, peer, "subnetName"), "caa-peerpods-snp-"+suffix)
	aks := m.one(t, tCluster, "cluster-aks")
	expect(t, "node subnet", str(t, aks, "agentPoolProfiles", "0", "vnetSubnetID"), existingSubnetID)
	grant := m.one(t, tRoleAssignment, "network-cluster-subnet-join")
	if !dependsOn(aks, grant) {
		t.Error("AKS does not wait for the grant on the user's subnet")
	}
	expect(t, "export", out["peerpodSubnetCidr"].Value.(string), "10.50.16.0/20")

	// A second run finds its own subnet in the VNet and accepts it.
	m2 := withExistingVNet(newMocks())
	m2.vnets["net-rg/hub"].subnets["caa-peerpods-snp-"+suffix] = "10.50.16.0/20"
	deployAndExport(t, "snp", cfg, m2)

	// A stack an earlier version deployed has its subnet under the old
	// name: the run stops before anything changes and says how to keep it,
	// and with that key set the subnet is kept, not replaced.
	m3 := withExistingVNet(newMocks())
	m3.vnets["net-rg/hub"].subnets["caa-peerpods-snp"] = "10.50.16.0/20"
	err := run(t, "snp", cfg, m3, func(ctx *pulumi.Context) error { _, err := stack.DeployWith(ctx, stack.Options{}); return err })
	if err == nil || !strings.Contains(err.Error(), "pulumi config set caa-azure:peerpodSubnetName caa-peerpods-snp") {
		t.Fatalf("an old-named subnet must stop the run with the command that keeps it; got %v", err)
	}
	if rest := beyondIdentity(m3); len(rest) != 0 {
		t.Errorf("%d resources registered before the error", len(rest))
	}
	cfg["caa-azure:peerpodSubnetName"] = "caa-peerpods-snp"
	m4 := withExistingVNet(newMocks())
	m4.vnets["net-rg/hub"].subnets["caa-peerpods-snp"] = "10.50.16.0/20"
	deployAndExport(t, "snp", cfg, m4)
	expect(t, "kept subnet name", str(t, m4.one(t, tSubnet, "network-peerpods"), "subnetName"), "caa-peerpods-snp")
}

// TestDeterministic runs each stack twice and requires byte-identical
// inputs for every resource: a second `pulumi up` must show no changes.
func TestDeterministic(t *testing.T) {
	type variant struct{ name, stack string }
	variants := []variant{{"attestation 0.10.0", "snp"}, {"attestation 0.22.0", "snp"}}
	for _, s := range stackFiles {
		variants = append(variants, variant{s.name, s.name})
	}
	for _, s := range variants {
		var snapshots [2]string
		for i := range snapshots {
			m := newMocks()
			cfg := stackConfig(t, s.stack)
			switch s.name {
			case "attestation 0.10.0":
				cfg = merge(cfg, attestationOn(repositoryTrustee))
			case "attestation 0.22.0":
				cfg = merge(merge(cfg, chartRelease), attestationOn(kvTrustee))
			}
			if err := run(t, s.stack, cfg, m, deploy(t)); err != nil {
				t.Fatal(err)
			}
			rows := []string{}
			for _, r := range m.resources {
				b, err := json.Marshal(r.Inputs.Mappable())
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, r.TypeToken+"::"+r.Name+" "+string(b))
			}
			sort.Strings(rows)
			b, _ := json.Marshal(rows)
			snapshots[i] = string(b)
		}
		if snapshots[0] != snapshots[1] {
			t.Errorf("stack %s: resource inputs differ between two runs", s.name)
		}
		if len(snapshots[0]) < 1000 {
			t.Errorf("stack %s: suspiciously few inputs recorded", s.name)
		}
	}
}
