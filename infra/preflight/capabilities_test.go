package preflight

import (
	"context"
	"strings"
	"testing"
)

// TestSizeCapabilities: an Arm64 size is refused for nodes and pod VMs,
// and a node size below AKS's system-node floor for nodes only, from the
// capabilities the SKU API reports; sizes it says nothing about pass.
func TestSizeCapabilities(t *testing.T) {
	cloud := healthy()
	cloud.skus = append(cloud.skus,
		SKU{Name: "Standard_D2ps_v5", Family: "standardDPSv5Family", VCPUs: 2, Arch: "Arm64", MemoryGB: 8},
		SKU{Name: "Standard_B1s", Family: "standardBSFamily", VCPUs: 1, Arch: "x64", MemoryGB: 1},
		SKU{Name: "Standard_B2ts_v2", Family: "standardBsv2Family", VCPUs: 2, Arch: "x64", MemoryGB: 1},
		SKU{Name: "Standard_D2as_v5", Family: "standardDASv5Family", VCPUs: 2, Arch: "x64", MemoryGB: 8},
		// Made up: enough memory, one vCPU, so each floor is tested alone.
		SKU{Name: "Standard_X1s_test", Family: "testFamily", VCPUs: 1, Arch: "x64", MemoryGB: 8})
	cases := []struct {
		name, size string
		podVM      bool
		want       string // "" for no finding
	}{
		{"arm node", "Standard_D2ps_v5", false, "Standard_D2ps_v5 is an Arm64 size"},
		{"arm pod VM", "Standard_D2ps_v5", true, "use an x64 size such as Standard_D2as_v5"},
		{"one vCPU node", "Standard_B1s", false, "has 1 vCPU(s) and 1 GB of memory; AKS needs at least 2 vCPUs and 4 GB"},
		{"small-memory node", "Standard_B2ts_v2", false, "AKS needs at least 2 vCPUs and 4 GB"},
		{"one vCPU with memory", "Standard_X1s_test", false, "has 1 vCPU(s) and 8 GB"},
		{"one vCPU pod VM is fine", "Standard_B1s", true, ""},
		{"x64 node", "Standard_D2as_v5", false, ""},
		{"capabilities unknown", "Standard_F4s_v2", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "caa-azure:nodeVmSize"
			if c.podVM {
				key = "caa-azure:instanceSize"
			}
			req := request()
			req.Sizes = []SizeNeed{{Key: key, Size: c.size, Count: 1, Min: 1, PodVMs: c.podVM}}
			f := CheckSizesAndQuota(context.Background(), cloud, req)
			if c.want == "" {
				if len(f) != 0 {
					t.Fatalf("want no finding, got %+v", f)
				}
				return
			}
			if len(f) != 1 || f[0].Severity != Error || f[0].Key != key || !strings.Contains(f[0].Message, c.want) {
				t.Fatalf("want one error on %s with %q, got %+v", key, c.want, f)
			}
		})
	}
}
