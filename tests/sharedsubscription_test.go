package tests

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azauth"
	"caa-azure/infra/preflight"
	"caa-azure/stack"
)

// beyondIdentity is what a run registered besides the stack's random
// suffix, the one thing registered before every check has passed.
func beyondIdentity(m *mocks) []pulumi.MockResourceArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []pulumi.MockResourceArgs
	for _, r := range m.resources {
		if r.TypeToken != "random:index/randomString:RandomString" || r.Name != "name-suffix" {
			out = append(out, r)
		}
	}
	return out
}

// azureNames are the names Azure knows a run's resources by: type, group
// and every name input, one string per resource.
func azureNames(m *mocks) map[string]string {
	out := map[string]string{}
	for _, r := range m.resources {
		if !strings.HasPrefix(r.TypeToken, "azure-native:") || r.TypeToken == "azure-native:authorization:RoleAssignment" {
			continue // role assignment names are GUIDs the provider picks
		}
		key := r.TypeToken
		for _, k := range []string{"resourceGroupName", "resourceName", "virtualNetworkName", "subnetName", "natGatewayName",
			"publicIpAddressName", "roleName"} {
			if v := r.Inputs[resourceKey(k)]; v.IsString() {
				key += "|" + v.StringValue()
			}
		}
		out[key] = r.Name
	}
	return out
}

// oneSubscription is a subscription two stacks share: the first stack's
// node fills the Fsv2 quota, and only its tag finds it.
type oneSubscription struct{ firstTag preflight.Tag }

func (o *oneSubscription) SKUs(context.Context, string) ([]preflight.SKU, error) {
	return []preflight.SKU{{Name: "Standard_F4s_v2", Family: "standardFSv2Family", VCPUs: 4},
		{Name: "Standard_DC2as_v5", Family: "standardDCASv5Family", VCPUs: 2}}, nil
}
func (o *oneSubscription) Usages(context.Context, string) ([]preflight.Usage, error) {
	return []preflight.Usage{{Name: "standardFSv2Family", Current: 4, Limit: 4}, {Name: "standardDCASv5Family", Limit: 100}}, nil
}
func (o *oneSubscription) ImageInRegion(context.Context, string, string) error   { return nil }
func (o *oneSubscription) Allowed(context.Context, string, string) (bool, error) { return true, nil }
func (o *oneSubscription) KubernetesVersions(context.Context, string) ([]string, error) {
	return nil, nil
}
func (o *oneSubscription) GroupExists(context.Context, string) (bool, error) { return false, nil }
func (o *oneSubscription) Footprint(_ context.Context, tag preflight.Tag) (preflight.Footprint, error) {
	if tag != o.firstTag {
		return preflight.Footprint{}, nil
	}
	return preflight.Footprint{Cluster: "/subscriptions/s/resourceGroups/caa-rg-aaaaaa/providers/Microsoft.ContainerService/managedClusters/caa-aaaaaa",
		VMs: map[string]int{"Standard_F4s_v2": 1}}, nil
}

// TestTwoStacksOfOneName: alice's and bob's stacks are both called snp,
// in one subscription and one VNet of theirs. Their random suffixes keep
// them apart: no Azure name in common, different stack tags, and each
// one's preflight counts only its own VMs as its own.
func TestTwoStacksOfOneName(t *testing.T) {
	deploy := func(t *testing.T, sfx string, set map[string]string, cloud preflight.Cloud) (*mocks, error) {
		cfg := stackConfig(t, "snp")
		cfg["caa-azure:vnetSubnetId"] = existingSubnetID
		for k, v := range set {
			cfg[k] = v
		}
		m := withExistingVNet(newMocks())
		m.suffix = sfx
		var open stack.PreflightFactory
		if cloud != nil {
			open = func(context.Context, string, azauth.Settings) (preflight.Cloud, error) { return cloud, nil }
		}
		return m, run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
			_, err := stack.DeployWith(ctx, stack.Options{Preflight: open})
			return err
		})
	}
	alice, err := deploy(t, "aaaaaa", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := deploy(t, "bbbbbb", map[string]string{"caa-azure:peerpodSubnetCidr": "10.50.48.0/20"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	aliceNames, bobNames := azureNames(alice), azureNames(bob)
	for name, logical := range aliceNames {
		if _, clash := bobNames[name]; clash {
			t.Errorf("both stacks create %s (%s)", name, logical)
		}
	}
	for _, c := range []struct {
		m            *mocks
		subnet, tags string
	}{{alice, "caa-peerpods-snp-aaaaaa", "caa-azure/snp/aaaaaa"}, {bob, "caa-peerpods-snp-bbbbbb", "caa-azure/snp/bbbbbb"}} {
		expect(t, "peer-pod subnet in the shared VNet", str(t, c.m.one(t, tSubnet, "network-peerpods"), "subnetName"), c.subnet)
		expect(t, "stack tag", str(t, c.m.one(t, tResourceGroup, "network-podvms"), "tags", stack.StackTag), c.tags)
	}

	t.Run("the other's subnet is not ours", func(t *testing.T) {
		// Bob's derived range is the one alice's subnet holds: placement
		// must see her subnet as someone else's and stop before anything.
		m := withExistingVNet(newMocks())
		m.vnets["net-rg/hub"].subnets["caa-peerpods-snp-aaaaaa"] = "10.50.16.0/20"
		m.suffix = "bbbbbb"
		cfg := stackConfig(t, "snp")
		cfg["caa-azure:vnetSubnetId"] = existingSubnetID
		err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error { _, err := stack.DeployWith(ctx, stack.Options{}); return err })
		if err == nil || !strings.Contains(err.Error(), `caa-azure:peerpodSubnetCidr: 10.50.16.0/20 overlaps subnet "caa-peerpods-snp-aaaaaa"`) {
			t.Fatalf("want the overlap with alice's subnet, got %v", err)
		}
		if rest := beyondIdentity(m); len(rest) != 0 {
			t.Errorf("%d resources registered before the error, e.g. %s", len(rest), rest[0].TypeToken)
		}
		// Alice's own second run finds her subnet and goes on.
		m = withExistingVNet(newMocks())
		m.vnets["net-rg/hub"].subnets["caa-peerpods-snp-aaaaaa"] = "10.50.16.0/20"
		m.suffix = "aaaaaa"
		if err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error { _, err := stack.DeployWith(ctx, stack.Options{}); return err }); err != nil {
			t.Fatalf("alice's second run must accept her own subnet: %v", err)
		}
	})

	t.Run("preflight counts only its own VMs", func(t *testing.T) {
		shared := &oneSubscription{firstTag: preflight.Tag{Key: stack.StackTag, Value: "caa-azure/snp/aaaaaa"}}
		if _, err := deploy(t, "aaaaaa", map[string]string{"caa-azure:preflight": "error"}, shared); err != nil {
			t.Fatalf("alice's node is hers: her second run has the quota it had: %v", err)
		}
		m, err := deploy(t, "bbbbbb", map[string]string{"caa-azure:preflight": "error", "caa-azure:peerpodSubnetCidr": "10.50.48.0/20"}, shared)
		if err == nil || !strings.Contains(err.Error(), "caa-azure:nodeVmSize: the standardFSv2Family quota in eastus has 0 of 4 vCPUs free") {
			t.Fatalf("alice's node fills the quota bob's node needs; want a quota error, got %v", err)
		}
		if strings.Contains(err.Error(), "what earlier runs created is still there") {
			t.Errorf("bob's stack never ran; alice's cluster is not his: %v", err)
		}
		if rest := beyondIdentity(m); len(rest) != 0 {
			t.Errorf("%d resources registered before the error", len(rest))
		}
	})
}
