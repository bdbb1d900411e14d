package tests

import (
	"errors"
	"os"
	"reflect"
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
	// A VNet whose node subnet is the last of 192.168/16: the next network
	// of its size is public.
	m.vnets["net-rg/edge"] = fakeVNet{location: "eastus", addressSpace: []string{"192.168.0.0/16"},
		subnets: map[string]string{"aks": "192.168.255.0/24"}}
	return m
}

// TestBadInputRegistersNothing: a bad input, whether Parse or a lookup
// finds it, stops the run before anything is registered, with an error
// naming the key. Parse's own cases are in stack's TestParseRejects; the
// first two cases here stand for all of them.
func TestBadInputRegistersNothing(t *testing.T) {
	noKubelogin := func(string) (string, error) { return "", errors.New("not found") }
	cases := []struct {
		name        string
		set         map[string]string
		lookPath    func(string) (string, error)
		key, detail string
	}{
		{"parse error", map[string]string{"caa-azure:tee": "sgx"}, nil, "caa-azure:tee", `"sgx"`},
		{"removed key", map[string]string{"caa-azure:sweepPodVms": "false"}, nil, "caa-azure:sweepPodVms", "pulumi config rm caa-azure:sweepPodVms"},
		{"missing resource group", map[string]string{"caa-azure:resourceGroupName": "does-not-exist"}, nil, "caa-azure:resourceGroupName", "could not be read"},
		{"missing vnet", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, "/hub/", "/other/", 1)}, nil, "caa-azure:vnetSubnetId", "could not be read"},
		{"missing subnet", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, "/aks", "/nope", 1)}, nil, "caa-azure:vnetSubnetId", `subnet "nope" does not exist`},
		{"peer-pod outside vnet", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "caa-azure:peerpodSubnetCidr": "10.60.0.0/20"}, nil, "caa-azure:peerpodSubnetCidr", "does not fit the address space"},
		{"peer-pod on other subnet", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "caa-azure:peerpodSubnetCidr": "10.50.32.0/20"}, nil, "caa-azure:peerpodSubnetCidr", `overlaps subnet "gateway"`},
		{"pod range on the user's subnet", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "caa-azure:podCidr": "10.50.0.0/16"}, nil, "caa-azure:podCidr", "overlaps the subnet range"},
		{"subnet in other subscription", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, subscriptionID, "99999999-0000-0000-0000-000000000000", 1)}, nil, "caa-azure:vnetSubnetId", "in subscription"},
		{"derived range public in the user's VNet", map[string]string{"caa-azure:vnetSubnetId": strings.Replace(existingSubnetID, "/hub/", "/edge/", 1)},
			nil, "caa-azure:peerpodSubnetCidr", "192.169.0.0/24"},
		{"subnet in other region", map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "azure-native:location": "westeurope"}, nil, "caa-azure:vnetSubnetId", "in region eastus"},
		{"no git sources offline", map[string]string{"caa-azure:operatorSourceDir": ""}, nil, "caa-azure:operatorSourceDir", "git clone --branch v0.10.0"},
		{"no kubelogin", map[string]string{"caa-azure:clusterAuth": "entra"}, noKubelogin, "caa-azure:clusterAuth", "kubelogin"},
		{"unknown Entra group", map[string]string{"caa-azure:clusterAuth": "entra", "caa-azure:clusterAdminGroups": "aks-admins, nobody"}, nil,
			"caa-azure:clusterAdminGroups", `Entra group "nobody" was not found`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := stackConfig(t, "snp")
			for k, v := range c.set {
				cfg[k] = v
			}
			lookPath := c.lookPath
			if lookPath == nil {
				lookPath = func(string) (string, error) { return "/usr/local/bin/kubelogin", nil }
			}
			m := withExistingVNet(newMocks())
			// A cache whose cloner always fails stands for a machine without network.
			err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
				_, err := stack.DeployWith(ctx, stack.Options{Sources: offlineCache(t), LookPath: lookPath})
				return err
			})
			if err == nil {
				t.Fatalf("want an error naming %s", c.key)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.key+": ") || !strings.Contains(msg, c.detail) {
				t.Errorf("error does not name %s with %q:\n%s", c.key, c.detail, msg)
			}
			if !strings.Contains(msg, "this run changed nothing") || strings.Contains(msg, "nothing was created") {
				t.Errorf("error does not say that this run changed nothing:\n%s", msg)
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
	var warnings []string
	err := run(t, "tdx", cfg, m, func(ctx *pulumi.Context) error {
		d, err := stack.DeployWith(ctx, hermetic(t))
		if d != nil {
			warnings = d.Warnings
		}
		return err
	})
	if err != nil {
		t.Fatalf("a retired size is a warning, not an error: %v", err)
	}
	if len(m.byType(tCluster)) != 1 {
		t.Fatal("the stack was not deployed")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"Standard_DC2es_v5" is a retired preview TDX size`) || !strings.Contains(warnings[0], "use Standard_DC2es_v6") {
		t.Errorf("want one warning naming the retired size and its successor; got %q", warnings)
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

	// The program's own defaults equal Pulumi.yaml's: every declared
	// default set explicitly parses to the same configuration as nothing set.
	required := map[string]string{"azure-native:location": "eastus", "caa-azure:tee": "snp",
		"caa-azure:instanceSize": "Standard_DC2as_v5", "caa-azure:disableCvm": "false", "caa-azure:sshPublicKey": testSSHKey(t)}
	defaults := map[string]string{}
	for k, v := range proj.Config {
		defaults[project+":"+k] = configString(t, v.Default)
	}
	for k, v := range required {
		defaults[k] = v
	}
	withDefaults, _, err := stack.Parse(project, "snp", lookup(defaults))
	if err != nil {
		t.Fatal(err)
	}
	without, _, err := stack.Parse(project, "snp", lookup(required))
	if err != nil {
		t.Fatal(err)
	}
	// Every field, so every key's default is compared.
	if !reflect.DeepEqual(withDefaults, without) {
		t.Errorf("Pulumi.yaml defaults differ from the program's:\n with: %+v\n without: %+v", withDefaults, without)
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

var _ pulumi.RunFunc = stack.Deploy
