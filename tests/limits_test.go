package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azauth"
	"caa-azure/infra/preflight"
	"caa-azure/stack"
)

// tinySizes is a subscription whose only sizes are a 1-vCPU x64 one and an
// Arm64 one, which the size names alone cannot tell.
type tinySizes struct{ *oneSubscription }

func (tinySizes) SKUs(context.Context, string) ([]preflight.SKU, error) {
	return []preflight.SKU{{Name: "Standard_F4s_v2", Family: "standardFSv2Family", VCPUs: 1, Arch: "x64", MemoryGB: 2},
		{Name: "Standard_DC2as_v5", Family: "standardDCASv5Family", VCPUs: 2, Arch: "Arm64", MemoryGB: 8}}, nil
}
func (tinySizes) Usages(context.Context, string) ([]preflight.Usage, error) { return nil, nil }

// TestLateAzureFailuresRegisterNothing: the inputs Azure used to reject
// mid-deployment, after other resources existed, now stop the run first,
// naming the key, the value and a valid one, with nothing registered.
func TestLateAzureFailuresRegisterNothing(t *testing.T) {
	tags := map[string]string{}
	for i := range 50 {
		tags[fmt.Sprintf("t%02d", i)] = "v"
	}
	cases := []struct {
		name        string
		set         map[string]string
		key, detail string
	}{
		{"51 tags", map[string]string{"caa-azure:tags": configString(t, anyMap(tags))}, "caa-azure:tags", "set at most 49"},
		{"300-character value", map[string]string{"caa-azure:podVmTags": `{"note":"` + strings.Repeat("x", 300) + `"}`}, "caa-azure:podVmTags", "at most 256"},
		{"tag names one to Azure", map[string]string{"caa-azure:tags": `{"Owner":"a","owner":"b"}`}, "caa-azure:tags", "ignores case"},
		{"one group twice", map[string]string{"caa-azure:clusterAuth": "entra", "caa-azure:clusterAdminGroups": "aks-admins,aks-admins"},
			"caa-azure:clusterAdminGroups", `lists "aks-admins" and "aks-admins"`},
		{"Arm64 node size", map[string]string{"caa-azure:nodeVmSize": "Standard_D2ps_v5"}, "caa-azure:nodeVmSize", "such as Standard_D2s_v5"},
		{"node subnet too small for classic CNI", map[string]string{"caa-azure:networkPluginMode": "", "caa-azure:podCidr": "",
			"caa-azure:clusterSubnetCidr": "10.224.0.0/27"}, "caa-azure:clusterSubnetCidr", "10.224.0.0/27 has 27 addresses"},
		{"peer-pod subnet too small", map[string]string{"caa-azure:peerpodSubnetCidr": "10.225.0.0/29"}, "caa-azure:peerpodSubnetCidr", "use a /28 or larger"},
		{"user's node subnet too small", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, "/aks", "/small", 1),
			"caa-azure:nodeCount": "3"}, "caa-azure:vnetSubnetId", "10.50.64.0/29 has 3 addresses"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := stackConfig(t, "snp")
			for k, v := range c.set {
				cfg[k] = v
			}
			m := withExistingVNet(newMocks())
			m.vnets["net-rg/hub"].subnets["small"] = "10.50.64.0/29"
			err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
				_, err := stack.DeployWith(ctx, stack.Options{LookPath: func(string) (string, error) { return "/bin/kubelogin", nil }})
				return err
			})
			if err == nil || !strings.Contains(err.Error(), c.key+": ") || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("want an error naming %s with %q, got %v", c.key, c.detail, err)
			}
			if len(m.resources) != 0 {
				t.Errorf("%d resources were registered before the error, e.g. %s", len(m.resources), m.resources[0].TypeToken)
			}
		})
	}

	t.Run("sizes by their capabilities", func(t *testing.T) {
		cfg := stackConfig(t, "snp")
		cfg["caa-azure:preflight"] = "error"
		m := newMocks()
		err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
			_, err := stack.DeployWith(ctx, stack.Options{Preflight: func(context.Context, string, azauth.Settings) (preflight.Cloud, error) {
				return tinySizes{&oneSubscription{}}, nil
			}})
			return err
		})
		for _, want := range []string{"caa-azure:nodeVmSize: Standard_F4s_v2 has 1 vCPU(s)", "caa-azure:instanceSize: Standard_DC2as_v5 is an Arm64 size"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("want %q, got %v", want, err)
			}
		}
		if rest := beyondIdentity(m); len(rest) != 0 {
			t.Errorf("%d resources besides the stack's suffix were registered", len(rest))
		}
	})
}

func anyMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
