package tests

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/stack"
)

const existingSubnetID = "/subscriptions/" + subscriptionID + "/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks"

// withExistingVNet registers the VNet behind existingSubnetID with the mocks.
func withExistingVNet(m *mocks) *mocks {
	m.vnets["net-rg/hub"] = fakeVNet{
		location:     "eastus",
		addressSpace: []string{"10.50.0.0/16"},
		subnets:      map[string]string{"aks": "10.50.0.0/20", "gateway": "10.50.32.0/24"},
	}
	return m
}

// TestBadConfigurationRegistersNothing: every bad value is reported with its
// key and nothing at all is registered.
func TestBadConfigurationRegistersNothing(t *testing.T) {
	cases := []struct {
		name   string
		set    map[string]string
		key    string
		detail string
	}{
		{"unknown tee", map[string]string{"caa-azure:tee": "sgx"}, "caa-azure:tee", `"sgx"`},
		{"snp with intel size", map[string]string{"caa-azure:instanceSize": "Standard_DC2es_v6"}, "caa-azure:instanceSize", "AMD SEV-SNP"},
		{"snp with plain size", map[string]string{"caa-azure:instanceSize": "Standard_D2as_v5"}, "caa-azure:instanceSize", "Standard_DC2as_v5"},
		{"malformed size", map[string]string{"caa-azure:instanceSize": "DC2as_v5"}, "caa-azure:instanceSize", "not an Azure VM size"},
		{"tee none with cvm", map[string]string{"caa-azure:tee": "none", "caa-azure:instanceSize": "Standard_D2as_v5"}, "caa-azure:disableCvm", "tee is none"},
		{"snp without cvm", map[string]string{"caa-azure:disableCvm": "true"}, "caa-azure:disableCvm", "tee is snp"},
		{"disableCvm not bool", map[string]string{"caa-azure:disableCvm": "maybe"}, "caa-azure:disableCvm", "not a boolean"},
		{"no region", map[string]string{"azure-native:location": ""}, "azure-native:location", "is not set"},
		{"display region", map[string]string{"azure-native:location": "East US"}, "azure-native:location", "eastus"},
		{"malformed cidr", map[string]string{"caa-azure:clusterSubnetCidr": "10.224.0.0"}, "caa-azure:clusterSubnetCidr", "not a CIDR"},
		{"host bits", map[string]string{"caa-azure:clusterSubnetCidr": "10.224.1.0/16"}, "caa-azure:clusterSubnetCidr", "10.224.0.0/16"},
		{"overlapping cidrs", map[string]string{"caa-azure:peerpodSubnetCidr": "10.224.128.0/17"}, "caa-azure:peerpodSubnetCidr", "overlaps clusterSubnetCidr"},
		{"no next network", map[string]string{"caa-azure:clusterSubnetCidr": "255.255.0.0/16"}, "caa-azure:peerpodSubnetCidr", "no next network"},
		{"subnet too small", map[string]string{"caa-azure:peerpodSubnetCidr": "10.225.0.0/30"}, "caa-azure:peerpodSubnetCidr", "/29"},
		{"service range", map[string]string{"caa-azure:clusterSubnetCidr": "10.0.0.0/16"}, "caa-azure:clusterSubnetCidr", "service range"},
		{"pod range", map[string]string{"caa-azure:peerpodSubnetCidr": "10.244.0.0/16"}, "caa-azure:peerpodSubnetCidr", "podCidr"},
		{"ed25519 key", map[string]string{"caa-azure:sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJBc2hOi+oFGebvc4upCKKenM8Mknb4uYGIXGG4Jbg8 ed"}, "caa-azure:sshPublicKey", "only ssh-rsa"},
		{"garbage key", map[string]string{"caa-azure:sshPublicKey": "my key"}, "caa-azure:sshPublicKey", "not an OpenSSH public key"},
		{"missing key", map[string]string{"caa-azure:sshPublicKey": ""}, "caa-azure:sshPublicKey", "pulumi config set caa-azure:sshPublicKey"},
		{"bad subnet id", map[string]string{"caa-azure:vnetSubnetId": "/subscriptions/x/resourceGroups/rg"}, "caa-azure:vnetSubnetId", "not a subnet id"},
		{"rg name chars", map[string]string{"caa-azure:resourceGroupName": "my group!"}, "caa-azure:resourceGroupName", "characters"},
		{"rg name too long for node group", map[string]string{"caa-azure:resourceGroupName": strings.Repeat("r", 80)}, "caa-azure:resourceGroupName", "at most 76"},
		{"cluster name", map[string]string{"caa-azure:clusterName": "-aks"}, "caa-azure:clusterName", "not a valid AKS name"},
		{"cluster name long", map[string]string{"caa-azure:clusterName": strings.Repeat("c", 64)}, "caa-azure:clusterName", "at most 63"},
		{"node count zero", map[string]string{"caa-azure:nodeCount": "0"}, "caa-azure:nodeCount", "at least 1"},
		{"node count text", map[string]string{"caa-azure:nodeCount": "two"}, "caa-azure:nodeCount", "not a whole number"},
		{"admin root", map[string]string{"caa-azure:adminUsername": "root"}, "caa-azure:adminUsername", "reserved"},
		{"k8s patch version", map[string]string{"caa-azure:kubernetesVersion": "1.33.2"}, "caa-azure:kubernetesVersion", "major.minor"},
		{"unknown plugin", map[string]string{"caa-azure:networkPlugin": "cilium"}, "caa-azure:networkPlugin", "azure"},
		{"tags not a map", map[string]string{"caa-azure:tags": `["a"]`}, "caa-azure:tags", "map"},
		{"reserved tag", map[string]string{"caa-azure:tags": `{"caa-azure-stack":"x"}`}, "caa-azure:tags", "set by the program"},
		{"node size", map[string]string{"caa-azure:nodeVmSize": "F4s_v2"}, "caa-azure:nodeVmSize", "not an Azure VM size"},
		{"plugin mode", map[string]string{"caa-azure:networkPluginMode": "bridge"}, "caa-azure:networkPluginMode", "overlay"},
		{"kubenet with mode", map[string]string{"caa-azure:networkPlugin": "kubenet", "caa-azure:networkPluginMode": "overlay"}, "caa-azure:networkPluginMode", "only valid with networkPlugin azure"},
		{"pod cidr malformed", map[string]string{"caa-azure:podCidr": "10.244.0.0/33"}, "caa-azure:podCidr", "not a CIDR"},
		{"pod cidr on service range", map[string]string{"caa-azure:podCidr": "10.0.0.0/16"}, "caa-azure:podCidr", "service range"},
		{"tag value too long", map[string]string{"caa-azure:tags": `{"a":"` + strings.Repeat("v", 257) + `"}`}, "caa-azure:tags", "at most 256"},
		{"operator version", map[string]string{"caa-azure:operatorVersion": "main"}, "caa-azure:operatorVersion", "not a release version"},
		{"caa tag", map[string]string{"caa-azure:caaTag": "v1 beta"}, "caa-azure:caaTag", "not an image tag"},
		{"rbac proxy image", map[string]string{"caa-azure:rbacProxyImage": "UPPER/case"}, "caa-azure:rbacProxyImage", "container image"},
		{"sample flag", map[string]string{"caa-azure:sample": "yes please"}, "caa-azure:sample", "not a boolean"},
		{"sample image", map[string]string{"caa-azure:sampleImage": "ngi nx"}, "caa-azure:sampleImage", "container image"},
		{"grant flag", map[string]string{"caa-azure:grantVmSizeRead": "maybe"}, "caa-azure:grantVmSizeRead", "not a boolean"},
		{"missing resource group", map[string]string{"caa-azure:resourceGroupName": "does-not-exist"}, "caa-azure:resourceGroupName", "could not be read"},
		{"missing vnet", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, "/hub/", "/other/", 1)}, "caa-azure:vnetSubnetId", "could not be read"},
		{"missing subnet", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, "/aks", "/nope", 1)}, "caa-azure:vnetSubnetId", `subnet "nope" does not exist`},
		{"peer-pod outside vnet", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "caa-azure:peerpodSubnetCidr": "10.60.0.0/20"}, "caa-azure:peerpodSubnetCidr", "does not fit the address space"},
		{"peer-pod on other subnet", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "caa-azure:peerpodSubnetCidr": "10.50.32.0/20"}, "caa-azure:peerpodSubnetCidr", `overlaps subnet "gateway"`},
		{"subnet in other subscription", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, subscriptionID, "99999999-0000-0000-0000-000000000000", 1)}, "caa-azure:vnetSubnetId", "in subscription"},
		{"subnet in other region", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "azure-native:location": "westeurope"}, "caa-azure:vnetSubnetId", "in region eastus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := stackConfig(t, "snp")
			for k, v := range c.set {
				cfg[k] = v
			}
			m := withExistingVNet(newMocks())
			err := run(t, "snp", cfg, m, stack.Deploy)
			if err == nil {
				t.Fatalf("want an error naming %s", c.key)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.key+": ") || !strings.Contains(msg, c.detail) {
				t.Errorf("error does not name %s with %q:\n%s", c.key, c.detail, msg)
			}
			if !strings.Contains(msg, "nothing was created") {
				t.Errorf("error does not say that nothing was created:\n%s", msg)
			}
			if len(m.resources) != 0 {
				t.Errorf("%d resources were registered before the error, e.g. %s", len(m.resources), m.resources[0].TypeToken)
			}
		})
	}
}

func TestRetiredSizeWarnsAndDeploys(t *testing.T) {
	cfg := stackConfig(t, "tdx")
	cfg["caa-azure:instanceSize"] = "Standard_DC2es_v5"
	m := newMocks()
	if err := run(t, "tdx", cfg, m, stack.Deploy); err != nil {
		t.Fatalf("a retired size is a warning, not an error: %v", err)
	}
	if len(m.byType(tCluster)) != 1 {
		t.Fatal("the stack was not deployed")
	}
}

// TestDeclaredKeysMatchProgram keeps Pulumi.yaml, the keys stack.Parse
// reads, the defaults of both, and docs/configuration.md's table in step.
func TestDeclaredKeysMatchProgram(t *testing.T) {
	var proj struct {
		Config map[string]struct {
			Type        string `yaml:"type"`
			Description string `yaml:"description"`
			Default     any    `yaml:"default"`
		} `yaml:"config"`
	}
	readYAML(t, "../Pulumi.yaml", &proj)
	declared := []string{}
	for k, v := range proj.Config {
		declared = append(declared, k)
		if v.Type == "" || v.Description == "" || v.Default == nil {
			t.Errorf("Pulumi.yaml key %s needs a type, a description and a default", k)
		}
	}
	sort.Strings(declared)

	read := map[string]bool{}
	cfg := stackConfig(t, "snp")
	_, _, err := stack.Parse(project, "snp", func(k string) (string, bool) {
		read[k] = true
		v, ok := cfg[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	var readKeys []string
	for k := range read {
		if name, ok := strings.CutPrefix(k, project+":"); ok {
			if _, removed := stack.RemovedKeys[name]; removed {
				continue // read only to say it is gone
			}
			readKeys = append(readKeys, name)
		} else if k != "azure-native:location" {
			t.Errorf("the program reads %s, which is in no namespace we document", k)
		}
	}
	sort.Strings(readKeys)
	if strings.Join(declared, ",") != strings.Join(readKeys, ",") {
		t.Errorf("Pulumi.yaml declares %v\nbut stack.Parse reads %v", declared, readKeys)
	}

	// The program's own defaults equal Pulumi.yaml's: the same stack file
	// without the project defaults parses to the same configuration.
	withDefaults, _, err := stack.Parse(project, "snp", lookup(cfg))
	if err != nil {
		t.Fatal(err)
	}
	bare := map[string]string{}
	for k, v := range cfg {
		name := strings.TrimPrefix(k, project+":")
		if _, declaredKey := proj.Config[name]; !declaredKey || k == "caa-azure:tee" || k == "caa-azure:instanceSize" ||
			k == "caa-azure:disableCvm" || k == "caa-azure:sshPublicKey" {
			bare[k] = v
		}
	}
	without, _, err := stack.Parse(project, "snp", lookup(bare))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := render(withDefaults), render(without); a != b {
		t.Errorf("Pulumi.yaml defaults differ from the program's:\n with: %s\n without: %s", a, b)
	}

	reference, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(reference), "\n## Configuration\n")
	if !found {
		t.Fatal("docs/configuration.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z:-]+)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		if m[1] != "azure-native:location" {
			documented = append(documented, m[1])
		}
	}
	sort.Strings(documented)
	if strings.Join(documented, ",") != strings.Join(declared, ",") {
		t.Errorf("docs/configuration.md's table lists %v\nbut Pulumi.yaml declares %v", documented, declared)
	}
}

func lookup(cfg map[string]string) stack.Getter {
	return func(k string) (string, bool) { v, ok := cfg[k]; return v, ok }
}

func render(c *stack.Config) string {
	return strings.Join([]string{c.Location, string(c.TEE), c.InstanceSize, c.NodeVMSize, c.AdminUsername,
		c.ClusterSubnetCIDR.String(), c.PeerPodSubnetCIDR.String(), c.NetworkPlugin, c.NetworkPluginMode, c.PodCIDR.String(),
		c.ResourceGroupName, c.ClusterName, c.KubernetesVersion, strings.Repeat("n", c.NodeCount), renderTags(c.Tags)}, "|")
}

func renderTags(tags map[string]string) string {
	var kv []string
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

var _ pulumi.RunFunc = stack.Deploy
