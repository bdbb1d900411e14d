package azname

import (
	"regexp"
	"strings"
	"testing"
)

func TestGeneratedNames(t *testing.T) {
	if got := GeneratedResourceGroupName("a1b2c3"); got != "caa-rg-a1b2c3" {
		t.Errorf("resource group = %s", got)
	}
	if got := GeneratedClusterName("a1b2c3"); got != "caa-a1b2c3" {
		t.Errorf("cluster = %s", got)
	}
	if got := NodeResourceGroupName("caa-rg-a1b2c3"); got != "caa-rg-a1b2c3-aks" {
		t.Errorf("node resource group = %s", got)
	}
	for _, n := range []string{GeneratedResourceGroupName("zzzzzz")} {
		if err := ValidateResourceGroupName(n); err != nil {
			t.Errorf("generated name %s fails its own validation: %v", n, err)
		}
	}
	if err := ValidateClusterName(GeneratedClusterName("0a9z8y")); err != nil {
		t.Errorf("generated cluster name fails validation: %v", err)
	}
	if got := PeerPodSubnetName("snp"); got != "caa-peerpods-snp" {
		t.Errorf("peer-pod subnet = %s", got)
	}
	if got := PeerPodSubnetName(strings.Repeat("s", 100)); len(got) != 80 {
		t.Errorf("peer-pod subnet name not cut to 80: %d", len(got))
	}
}

func TestValidateNames(t *testing.T) {
	cases := []struct {
		name  string
		check func(string) error
		in    string
		want  string
	}{
		{"rg ok", ValidateResourceGroupName, "my.group_(1)-x", ""},
		{"rg empty", ValidateResourceGroupName, "", "empty"},
		{"rg space", ValidateResourceGroupName, "my group", "characters"},
		{"rg dot", ValidateResourceGroupName, "group.", "ends with '.'"},
		{"rg long", ValidateResourceGroupName, strings.Repeat("g", 91), "at most 90"},
		{"rg node group", ValidateResourceGroupName, strings.Repeat("g", 77), "at most 76"},
		{"rg longest", ValidateResourceGroupName, strings.Repeat("g", 76), ""},
		{"cluster ok", ValidateClusterName, "my_cluster-1", ""},
		{"cluster empty", ValidateClusterName, "", "empty"},
		{"cluster vnet", ValidateClusterName, strings.Repeat("c", 60), "at most 59"},
		{"cluster longest", ValidateClusterName, strings.Repeat("c", 59), ""},
		{"cluster dash end", ValidateClusterName, "cluster-", "not a valid AKS name"},
		{"cluster long", ValidateClusterName, strings.Repeat("c", 64), "at most 63"},
		{"cluster dot", ValidateClusterName, "a.b", "not a valid AKS name"},
		{"user ok", ValidateAdminUsername, "azuser", ""},
		{"user digit", ValidateAdminUsername, "1user", "not a valid Linux user name"},
		{"user root", ValidateAdminUsername, "root", "reserves"},
		{"user long", ValidateAdminUsername, strings.Repeat("u", 33), "at most 32"},
		{"user longest", ValidateAdminUsername, strings.Repeat("u", 32), ""},
		{"user empty", ValidateAdminUsername, "", "empty"},
	}
	for _, c := range cases {
		err := c.check(c.in)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %q → %v, want %q", c.name, c.in, err, c.want)
		}
	}
}

func TestDNSPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"caa-abc123":                   "caa-abc123",
		"my_cluster":                   "my-cluster",
		"_x_":                          "x",
		"___":                          "caa",
		strings.Repeat("a", 63):        strings.Repeat("a", 54),
		strings.Repeat("a", 53) + "_b": strings.Repeat("a", 53),
	} {
		if got := DNSPrefix(in); got != want {
			t.Errorf("DNSPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPodVMResourceGroupName(t *testing.T) {
	base := PodVMResourceGroupName("eastus", "caa-rg-a1b2c3", "caa-a1b2c3", "caa-rg-a1b2c3/caa-a1b2c3-vnet/caa-peerpods-snp")
	if !strings.HasPrefix(base, "caa-a1b2c3-podvms-") || len(base) != len("caa-a1b2c3-podvms-")+8 {
		t.Errorf("name %q is not <cluster>-podvms-<8 hex>", base)
	}
	if again := PodVMResourceGroupName("eastus", "caa-rg-a1b2c3", "caa-a1b2c3", "caa-rg-a1b2c3/caa-a1b2c3-vnet/caa-peerpods-snp"); again != base {
		t.Errorf("the same inputs gave %q and %q", base, again)
	}
	// Each change that replaces the cluster or the peer-pod subnet gives a
	// new group, so create-before-delete never reuses the old name.
	for what, other := range map[string]string{
		"region":         PodVMResourceGroupName("westeurope", "caa-rg-a1b2c3", "caa-a1b2c3", "caa-rg-a1b2c3/caa-a1b2c3-vnet/caa-peerpods-snp"),
		"resource group": PodVMResourceGroupName("eastus", "mine", "caa-a1b2c3", "caa-rg-a1b2c3/caa-a1b2c3-vnet/caa-peerpods-snp"),
		"subnet":         PodVMResourceGroupName("eastus", "caa-rg-a1b2c3", "caa-a1b2c3", "net/hub/caa-peerpods-snp"),
	} {
		if other == base {
			t.Errorf("a new %s keeps the pod VM group name %q", what, base)
		}
	}
	// The pod VM group holds no AKS node group, so Azure's group rules apply
	// to it, not ValidateResourceGroupName's limit for a node group's parent.
	long := PodVMResourceGroupName("eastus", "rg", strings.Repeat("c", 63), "x")
	if !resourceGroupPattern.MatchString(long) || strings.HasSuffix(long, ".") {
		t.Errorf("the longest cluster name gives a group name with characters Azure refuses: %q", long)
	}
	if n := len(long); n > 90 {
		t.Errorf("pod VM group name is %d characters; Azure allows 90", n)
	}
}

// FuzzDerivedNames: for any cluster and resource group name the checks
// accept, every name derived from them fits Azure's length and character
// rules ("Naming rules and restrictions for Azure resources").
func FuzzDerivedNames(f *testing.F) {
	f.Add("caa-a1b2c3", "caa-rg-a1b2c3", "snp")
	f.Add(strings.Repeat("c", 59), strings.Repeat("g", 76), strings.Repeat("s", 80))
	f.Add("a", "g.", "x")
	rgChars := regexp.MustCompile(`^[-\w.()]+$`)
	f.Fuzz(func(t *testing.T, cluster, group, stack string) {
		if ValidateClusterName(cluster) != nil || ValidateResourceGroupName(group) != nil {
			return
		}
		for what, c := range map[string]struct {
			name string
			max  int
		}{
			"VNet":                  {VirtualNetworkName(cluster), 64},
			"NAT gateway":           {NatGatewayName(cluster), 80},
			"NAT public IP":         {NatPublicIPName(cluster), 80},
			"control-plane id":      {ControlPlaneIdentityName(cluster), 128},
			"CAA identity":          {CAAIdentityName(cluster), 128},
			"node resource group":   {NodeResourceGroupName(group), 80},
			"DNS prefix":            {DNSPrefix(cluster), 54},
			"peer-pod subnet":       {PeerPodSubnetName(stack), 80},
			"pod VM resource group": {PodVMResourceGroupName("eastus", group, cluster, "g/v/s"), 90},
		} {
			if len(c.name) == 0 || len(c.name) > c.max {
				t.Fatalf("cluster %q, group %q: the %s name %q is %d characters; Azure allows 1 to %d", cluster, group, what, c.name, len(c.name), c.max)
			}
		}
		// Their lengths are checked above; neither parents an AKS node group.
		for _, rg := range []string{NodeResourceGroupName(group), PodVMResourceGroupName("eastus", group, cluster, "g/v/s")} {
			if !rgChars.MatchString(rg) || strings.HasSuffix(rg, ".") {
				t.Fatalf("derived group %q has characters Azure refuses", rg)
			}
		}
	})
}

func TestValidateSubnetName(t *testing.T) {
	for name, ok := range map[string]bool{"caa-peerpods-snp": true, "a": true, "sub_": true, "a.b-c_d": true,
		"-a": false, "a-": false, "a b": false, "": false, strings.Repeat("s", 81): false, strings.Repeat("s", 80): true} {
		if err := ValidateSubnetName(name); (err == nil) != ok {
			t.Errorf("ValidateSubnetName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
