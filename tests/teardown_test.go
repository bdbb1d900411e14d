package tests

import (
	"maps"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azname"
	"caa-azure/stack"
)

// teardownMode is one way users deploy; each must tear down with plain
// `pulumi destroy` and leave nothing behind.
type teardownMode struct {
	name, stack string
	set         map[string]string
	prepare     func(*mocks) *mocks
	chart       bool
	// group and cluster are the stack's resource group and cluster names.
	group, cluster string
}

func teardownModes() []teardownMode {
	generated := func(name, stackName string, set map[string]string) teardownMode {
		return teardownMode{name: name, stack: stackName, set: set, group: "caa-rg-" + suffix, cluster: "caa-" + suffix}
	}
	chart := map[string]string{"caa-azure:caaVersion": "0.22.0", "caa-azure:caaSourceDir": "", "caa-azure:operatorSourceDir": "",
		"caa-azure:podVmImageId": ownPodVMImage}
	modes := []teardownMode{
		generated("snp", "snp", nil),
		generated("tdx", "tdx", nil),
		generated("nonconf", "nonconf", nil),
		generated("existing subnet", "snp", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID}),
		generated("service principal", "snp", map[string]string{"caa-azure:caaAuth": "servicePrincipal"}),
		generated("chart", "snp", chart),
		generated("chart with service principal", "snp", merge(chart, map[string]string{"caa-azure:caaAuth": "servicePrincipal"})),
		{name: "existing resource group", stack: "snp", group: "team-rg", cluster: "team-aks",
			set: map[string]string{"caa-azure:resourceGroupName": "team-rg", "caa-azure:clusterName": "team-aks"}},
		{name: "chart in an existing resource group", stack: "snp", group: "team-rg", cluster: "team-aks",
			set: merge(chart, map[string]string{"caa-azure:resourceGroupName": "team-rg", "caa-azure:clusterName": "team-aks"})},
		generated("attestation", "snp", attestationOn(repositoryTrustee)),
		generated("chart with attestation", "snp", merge(chart, attestationOn(kvTrustee))),
		generated("attestation without a TEE", "nonconf", attestationOn(repositoryTrustee)),
	}
	for i := range modes {
		modes[i].chart = modes[i].set["caa-azure:caaVersion"] == "0.22.0"
		modes[i].prepare = func(m *mocks) *mocks {
			m.resourceGroups["team-rg"] = "eastus"
			return withExistingVNet(m)
		}
	}
	return modes
}

// merge is a with b's entries on top.
func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// deletedWith is the URN a resource is deleted with, or "".
func deletedWith(r pulumi.MockResourceArgs) string { return r.RegisterRPC.GetDeletedWith() }

// TestTeardownByDesign checks, in every mode, what makes plain `pulumi
// destroy` remove everything: no delete hooks; pod VMs in a group of their
// own that the program creates and CAA is configured with; CAA's VM rights
// on that group only; the group deleted after CAA and before the peer-pod
// subnet; everything else in the cluster deleted with it.
func TestTeardownByDesign(t *testing.T) {
	for _, mode := range teardownModes() {
		t.Run(mode.name, func(t *testing.T) {
			cfg := stackConfig(t, mode.stack)
			for k, v := range mode.set {
				cfg[k] = v
			}
			m := mode.prepare(newMocks())
			out := deployAndExport(t, mode.stack, cfg, m)
			location := cfg["azure-native:location"]

			// No hooks anywhere: Pulumi refuses a plain destroy otherwise.
			m.mu.Lock()
			for _, r := range m.resources {
				if h := r.RegisterRPC.GetHooks(); len(h.GetBeforeDelete())+len(h.GetAfterDelete())+len(h.GetBeforeCreate())+
					len(h.GetAfterCreate())+len(h.GetBeforeUpdate())+len(h.GetAfterUpdate()) > 0 {
					t.Errorf("%s %s registers hooks %v", r.TypeToken, r.Name, h)
				}
			}
			m.mu.Unlock()

			// The pod VM group: ours, in the cluster's region, tagged.
			group := m.one(t, tResourceGroup, "network-podvms")
			name := str(t, group, "resourceGroupName")
			if !strings.HasPrefix(name, mode.cluster+"-podvms-") {
				t.Errorf("pod VM group %q is not named after the cluster %s", name, mode.cluster)
			}
			if name == mode.group {
				t.Fatal("the pod VM group is the cluster's group")
			}
			expect(t, "pod VM group location", str(t, group, "location"), location)
			expect(t, "pod VM group tag", str(t, group, "tags", stack.StackTag), "caa-azure/"+mode.stack+"/"+suffix)
			expect(t, "export podVmResourceGroupName", out["podVmResourceGroupName"].Value.(string), name)
			expect(t, "export podVmListCommand", out["podVmListCommand"].Value.(string), "az vm list --resource-group "+name+" --output table")

			// Nothing else goes into it.
			for _, r := range m.resources {
				if r.Name != group.Name && r.Inputs["resourceGroupName"].IsString() && r.Inputs["resourceGroupName"].StringValue() == name {
					t.Errorf("%s %s is placed in the pod VM group", r.TypeToken, r.Name)
				}
			}

			// CAA is configured with it.
			var caa pulumi.MockResourceArgs
			if mode.chart {
				caa = m.one(t, tChart, "caa-peerpods")
				expect(t, "chart AZURE_RESOURCE_GROUP", str(t, caa, "values", "providerConfigs", "azure", "AZURE_RESOURCE_GROUP"), name)
			} else {
				caa = m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset")
				expect(t, "peer-pods-cm AZURE_RESOURCE_GROUP", str(t, m.one(t, tConfigMap, "caa-"+ns+"/peer-pods-cm"), "data", "AZURE_RESOURCE_GROUP"), name)
				expect(t, "CAA deletion", str(t, caa, "metadata", "annotations", "pulumi.com/deletionPropagationPolicy"), "foreground")
			}

			// CAA's VM rights are scoped to the group (TestLeastPrivilege),
			// so they go just before it.
			for _, ra := range []string{"caa-identity-vm-contributor", "caa-identity-reader"} {
				if !dependsOn(m.one(t, tRoleAssignment, ra), group) {
					t.Errorf("%s does not wait for the pod VM group it is scoped to", ra)
				}
			}

			// Destroy order: CAA, then the group, then the peer-pod subnet.
			peer := m.one(t, tSubnet, "network-peerpods")
			if !dependsOn(group, peer) {
				t.Error("the pod VM group does not wait for the peer-pod subnet: destroy could try the subnet while pod VM NICs use it")
			}
			if !dependsOn(caa, group) {
				t.Errorf("%s %s does not wait for the pod VM group: destroy could delete the group while CAA still creates VMs", caa.TypeToken, caa.Name)
			}
			if w := deletedWith(caa); w != "" {
				t.Errorf("CAA (%s) is deleted with %s: it must be deleted, not skipped, before the pod VM group goes", caa.Name, w)
			}
			aks := m.one(t, tCluster, "cluster-aks")
			if dependsOn(aks, group) {
				t.Error("the cluster waits for the pod VM group, which puts the NAT gateway and peer-pod subnet on the deploy's critical path")
			}

			// Everything else in the cluster goes with it.
			for _, r := range kubernetesObjects(m) {
				if r.Name == caa.Name || strings.HasPrefix(r.TypeToken, "pulumi:providers:") {
					continue
				}
				if w := deletedWith(r); !strings.HasSuffix(w, "::cluster-aks") {
					t.Errorf("%s %s is deleted with %q, want the cluster", r.TypeToken, r.Name, w)
				}
			}
			if !mode.chart {
				if w := deletedWith(m.one(t, tDeployment, "nginx")); !strings.HasSuffix(w, "::cluster-aks") {
					t.Errorf("the sample is deleted with %q, want the cluster: destroy would wait on its pod VM", w)
				}
				return
			}
			checkChartTeardown(t, m)
		})
	}
}

// checkChartTeardown looks inside the peerpods chart (as the mocks render
// it, after the program's transforms): destroy deletes the chart's objects
// through the API, so none of them may wait on a finalizer that only a
// controller deleted in the same run removes. The sample's PeerPod stays
// (the sample goes with the cluster) and holds peer.pod/finalizer, which
// only peerpod-ctrl clears: its CRD must not be deleted one by one.
func checkChartTeardown(t *testing.T, m *mocks) {
	t.Helper()
	m.mu.Lock()
	children := append([]chartChild{}, m.chartChildren...)
	m.mu.Unlock()
	deleted := map[string]bool{}
	var crds int
	for _, c := range children {
		if c.kind() == "CustomResourceDefinition" {
			crds++
			if !c.retainOnDelete {
				t.Errorf("destroy deletes the chart's CRD %s through the API: with a PeerPod left holding peer.pod/finalizer "+
					"and peerpod-ctrl deleted beside it, the delete waits until it times out and nothing behind it is deleted", c.objName())
			}
		}
		if !c.retainOnDelete {
			deleted[c.kind()+"/"+c.objName()] = true
		}
	}
	if crds == 0 {
		t.Fatalf("the chart registered no CRD (children: %d): the test cannot see what destroy does", len(children))
	}
	// CAA and peerpod-ctrl must really go, before the pod VM group.
	for _, must := range []string{"DaemonSet/cloud-api-adaptor-daemonset", "Deployment/peerpodctrl-controller-manager"} {
		if !deleted[must] {
			t.Errorf("destroy keeps the chart's %s: it would run on while the pod VM group is deleted", must)
		}
	}
}

// TestPodVMGroupFollowsReplacements: a change that replaces the cluster's
// group, the cluster or the peer-pod subnet gives a new pod VM group (so
// the old one, with the old deployment's VMs, is deleted after its CAA),
// and nothing else does.
func TestPodVMGroupFollowsReplacements(t *testing.T) {
	groupOf := func(set map[string]string) string {
		cfg := stackConfig(t, "snp")
		for k, v := range set {
			cfg[k] = v
		}
		m := withExistingVNet(newMocks())
		m.resourceGroups["team-rg"] = "eastus"
		deployAndExport(t, "snp", cfg, m)
		return str(t, m.one(t, tResourceGroup, "network-podvms"), "resourceGroupName")
	}
	base := groupOf(nil)
	if again := groupOf(nil); again != base {
		t.Fatalf("the same config gave pod VM groups %s and %s", base, again)
	}
	for what, set := range map[string]map[string]string{
		"clusterName":       {"caa-azure:clusterName": "other"},
		"resourceGroupName": {"caa-azure:resourceGroupName": "team-rg"},
		"vnetSubnetId":      {"caa-azure:vnetSubnetId": existingSubnetID},
	} {
		if got := groupOf(set); got == base {
			t.Errorf("changing %s keeps the pod VM group %s: its old VMs would hold the old subnet", what, got)
		}
	}
	if got := groupOf(map[string]string{"caa-azure:sampleReplicas": "2"}); got != base {
		t.Errorf("a change that replaces nothing moved the pod VM group from %s to %s", base, got)
	}
	want := azname.PodVMResourceGroupName("eastus", "caa-rg-"+suffix, "caa-"+suffix, "caa-rg-"+suffix+"/caa-"+suffix+"-vnet/caa-peerpods-snp")
	expect(t, "pod VM group", base, want)
}

// TestRemovedSweepKeyIsRejected: a stack file from before the pod VM group
// still setting sweepPodVms is told to remove it, and nothing registers.
func TestRemovedSweepKeyIsRejected(t *testing.T) {
	cfg := stackConfig(t, "snp")
	cfg["caa-azure:sweepPodVms"] = "false"
	m := newMocks()
	err := run(t, "snp", cfg, m, deploy(t))
	if err == nil || !strings.Contains(err.Error(), "caa-azure:sweepPodVms: was removed") ||
		!strings.Contains(err.Error(), "pulumi config rm caa-azure:sweepPodVms") {
		t.Fatalf("want an error naming the removed key and how to remove it, got %v", err)
	}
	if len(m.resources) != 0 {
		t.Errorf("%d resources registered", len(m.resources))
	}
}
