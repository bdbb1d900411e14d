package tests

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"caa-azure/caa"
	"caa-azure/stack"
)

const (
	project            = "caa-azure"
	subscriptionID     = "00000000-0000-0000-0000-00000000abcd"
	tenantID           = "11111111-0000-0000-0000-000000000000"
	issuerURL          = "https://eastus.oic.prod-aks.azure.com/tenant/issuer/"
	fakeToken          = "t0k3n-that-must-stay-secret"
	fakePassword       = "p4ssw0rd-that-must-stay-secret"
	fakeExecKubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    exec:\n      command: kubelogin\n      args: [get-token, --login, devicecode]\n"
	fakeKubeconfig     = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: " + fakeToken + "}\n"
	suffix             = "x7k2p9"
	// ownPodVMImage is a user's gallery image, which caaVersion 0.22.0 needs.
	ownPodVMImage = "/subscriptions/" + subscriptionID + "/resourceGroups/img/providers/Microsoft.Compute/galleries/g/images/podvm/versions/0.22.0"
)

// fakeVNet is an existing VNet the mocks answer lookups for.
type fakeVNet struct {
	location     string
	addressSpace []string
	subnets      map[string]string
}

// mocks records every registered resource and invoke, and fakes the
// outputs Azure computes (ids, principal ids, issuer URL, kubeconfig).
type mocks struct {
	mu        sync.Mutex
	resources []pulumi.MockResourceArgs
	calls     []pulumi.MockCallArgs
	// chartChildren are what Helm v4 Charts registered (playChart).
	chartChildren []chartChild

	resourceGroups map[string]string   // name → location of groups that exist
	vnets          map[string]fakeVNet // "<rg>/<vnet>" → VNet
	// suffix is the stack's random suffix; "" means the package's suffix.
	suffix string
}

func newMocks() *mocks {
	return &mocks{resourceGroups: map[string]string{}, vnets: map[string]fakeVNet{}}
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.resources = append(m.resources, args)
	m.mu.Unlock()

	out := args.Inputs.Copy()
	in := func(k string) string {
		if v, ok := args.Inputs[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	set := func(k, v string) { out[resource.PropertyKey(k)] = resource.NewStringProperty(v) }
	rg := in("resourceGroupName")
	base := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers", subscriptionID, rg)
	id := args.Name + "-id"
	switch args.TypeToken {
	case "random:index/randomString:RandomString":
		id = suffix
		if m.suffix != "" {
			id = m.suffix
		}
		set("result", id)
	case "random:index/randomBytes:RandomBytes":
		// Deterministic per resource, like the state Pulumi keeps.
		sum := sha256.Sum256([]byte(args.Name))
		set("base64", base64.StdEncoding.EncodeToString(sum[:]))
		set("hex", hex.EncodeToString(sum[:]))
		id = args.Name
	case "azure-native:resources:ResourceGroup":
		set("name", rg)
		id = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", subscriptionID, rg)
	case "azure-native:managedidentity:UserAssignedIdentity":
		name := in("resourceName")
		set("name", name)
		set("principalId", "principal-of-"+name)
		set("clientId", "client-of-"+name)
		id = base + "/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
	case "azure-native:containerservice:ManagedCluster":
		name := in("resourceName")
		set("name", name)
		out["oidcIssuerProfile"] = resource.NewObjectProperty(resource.PropertyMap{
			"enabled": resource.NewBoolProperty(true), "issuerURL": resource.NewStringProperty(issuerURL)})
		id = base + "/Microsoft.ContainerService/managedClusters/" + name
	case "azure-native:network:VirtualNetwork":
		set("name", in("virtualNetworkName"))
		id = base + "/Microsoft.Network/virtualNetworks/" + in("virtualNetworkName")
	case "azure-native:network:Subnet":
		set("name", in("subnetName"))
		id = base + "/Microsoft.Network/virtualNetworks/" + in("virtualNetworkName") + "/subnets/" + in("subnetName")
	case "azure-native:network:NatGateway":
		id = base + "/Microsoft.Network/natGateways/" + in("natGatewayName")
	case "azure-native:network:PublicIPAddress":
		id = base + "/Microsoft.Network/publicIPAddresses/" + in("publicIpAddressName")
	case "azure-native:authorization:RoleAssignment":
		id = in("scope") + "/providers/Microsoft.Authorization/roleAssignments/" + args.Name
	case "azuread:index/application:Application":
		set("clientId", "app-client-id")
		id = "/applications/app-object-id"
	case "azuread:index/servicePrincipal:ServicePrincipal":
		set("objectId", "sp-object-id")
		id = "/servicePrincipals/sp-object-id"
	case "azuread:index/servicePrincipalPassword:ServicePrincipalPassword":
		// Each generation is a new password, as Azure makes one.
		value := fakePassword
		if g := args.Inputs["rotateWhenChanged"]; g.IsObject() {
			if gen := g.ObjectValue()["generation"]; gen.IsString() && gen.StringValue() != "1" {
				value += "-" + gen.StringValue()
			}
		}
		set("value", value)
		id = "/servicePrincipals/sp-object-id/password/key-1"
	case "kubernetes:helm.sh/v4:Chart":
		if err := m.playChart(args); err != nil {
			return "", nil, err
		}
	}
	return id, out, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args)
	m.mu.Unlock()
	arg := func(k string) string {
		if v, ok := args.Args[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	switch args.Token {
	case "azure-native:authorization:getClientConfig":
		return resource.NewPropertyMapFromMap(map[string]any{
			"subscriptionId": subscriptionID, "tenantId": tenantID, "clientId": "deployer", "objectId": "deployer-object"}), nil
	case "azure-native:containerservice:listManagedClusterUserCredentials":
		kubeconfig := fakeKubeconfig
		if arg("format") == "exec" {
			kubeconfig = fakeExecKubeconfig
		}
		return resource.NewPropertyMapFromMap(map[string]any{"kubeconfigs": []any{map[string]any{
			"name": "clusterUser", "value": base64.StdEncoding.EncodeToString([]byte(kubeconfig))}}}), nil
	case "azuread:index/getClientConfig:getClientConfig":
		return resource.NewPropertyMapFromMap(map[string]any{
			"clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "objectId": "deployer-object", "tenantId": tenantID, "id": "x"}), nil
	case "azuread:index/getGroup:getGroup":
		if arg("displayName") != "aks-admins" {
			return nil, fmt.Errorf("no group found with display name %q", arg("displayName"))
		}
		return resource.NewPropertyMapFromMap(map[string]any{"objectId": "group-object", "displayName": "aks-admins"}), nil
	case "azure-native:resources:getResourceGroup":
		name := arg("resourceGroupName")
		loc, ok := m.resourceGroups[name]
		if !ok {
			return nil, fmt.Errorf("ResourceGroupNotFound: Resource group '%s' could not be found", name)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", subscriptionID, name), "name": name, "location": loc}), nil
	case "azure-native:network:getVirtualNetwork":
		v, ok := m.vnets[arg("resourceGroupName")+"/"+arg("virtualNetworkName")]
		if !ok {
			return nil, fmt.Errorf("ResourceNotFound: virtual network %s not found", arg("virtualNetworkName"))
		}
		var subnets []any
		names := make([]string, 0, len(v.subnets))
		for n := range v.subnets {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			subnets = append(subnets, map[string]any{"name": n, "addressPrefix": v.subnets[n]})
		}
		space := make([]any, len(v.addressSpace))
		for i, s := range v.addressSpace {
			space[i] = s
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"location": v.location, "name": arg("virtualNetworkName"),
			"addressSpace": map[string]any{"addressPrefixes": space}, "subnets": subnets}), nil
	}
	return nil, fmt.Errorf("unexpected invoke %s", args.Token)
}

// byType returns the registered resources of a type token.
func (m *mocks) byType(token string) []pulumi.MockResourceArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []pulumi.MockResourceArgs
	for _, r := range m.resources {
		if r.TypeToken == token {
			out = append(out, r)
		}
	}
	return out
}

// one returns the single resource of a type and logical name.
func (m *mocks) one(t *testing.T, token, name string) pulumi.MockResourceArgs {
	t.Helper()
	for _, r := range m.byType(token) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %q was registered", token, name)
	return pulumi.MockResourceArgs{}
}

// podVMGroup is the name of the pod VM resource group the run created.
func podVMGroup(t *testing.T, m *mocks) string {
	t.Helper()
	r := m.one(t, "azure-native:resources:ResourceGroup", "network-podvms")
	v := r.Inputs["resourceGroupName"]
	if !v.IsString() {
		t.Fatalf("the pod VM group has no name: %v", v)
	}
	return v.StringValue()
}

// urn is what the mock monitor gives a registered resource.
func urn(r pulumi.MockResourceArgs) string {
	return r.RegisterRPC.GetType() + "::" + r.Name
}

// dependsOn reports whether child waits for dep: directly, or through a
// property that consumes dep's output.
func dependsOn(child, dep pulumi.MockResourceArgs) bool {
	target := urn(dep)
	has := func(u string) bool { return strings.HasSuffix(u, target) }
	for _, u := range child.RegisterRPC.GetDependencies() {
		if has(u) {
			return true
		}
	}
	for _, deps := range child.RegisterRPC.GetPropertyDependencies() {
		for _, u := range deps.GetUrns() {
			if has(u) {
				return true
			}
		}
	}
	return false
}

// stackConfig reads the project defaults from Pulumi.yaml and the stack
// file from disk, as the CLI does, and adds the test SSH key.
func stackConfig(t testing.TB, stackName string) map[string]string {
	t.Helper()
	cfg := map[string]string{}
	var proj struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	readYAML(t, "../Pulumi.yaml", &proj)
	for k, v := range proj.Config {
		if v.Default != nil {
			cfg[project+":"+k] = configString(t, v.Default)
		}
	}
	var st struct {
		Config map[string]any `yaml:"config"`
	}
	readYAML(t, "../Pulumi."+stackName+".yaml", &st)
	for k, v := range st.Config {
		if !strings.Contains(k, ":") {
			k = project + ":" + k
		}
		cfg[k] = configString(t, v)
	}
	cfg[project+":sshPublicKey"] = testSSHKey(t)
	// Offline: render the Kubernetes half from our fixtures, never from git.
	cfg[project+":caaSourceDir"] = "fixtures/cloud-api-adaptor/src/cloud-api-adaptor"
	cfg[project+":operatorSourceDir"] = "fixtures/operator"
	return cfg
}

func readYAML(t testing.TB, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// configString renders a YAML value the way the CLI hands it to programs:
// scalars as text, maps and lists as JSON.
func configString(t testing.TB, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if len(x) == 0 {
			return "{}"
		}
		parts := make([]string, 0, len(x))
		for k, val := range x {
			parts = append(parts, fmt.Sprintf("%q:%q", k, fmt.Sprint(val)))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ",") + "}"
	default:
		return fmt.Sprint(x)
	}
}

func testSSHKey(t testing.TB) string {
	b, err := os.ReadFile("testdata/id_rsa.pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// run executes body under mocks with cfg as the stack's configuration.
func run(t testing.TB, stackName string, cfg map[string]string, m *mocks, body pulumi.RunFunc) error {
	t.Helper()
	return pulumi.RunErr(body, pulumi.WithMocks(project, stackName, m), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
	})
}

// offlineCloner fails like git without a network.
type offlineCloner struct{}

func (offlineCloner) Clone(_ context.Context, url, tag, _ string) error {
	return fmt.Errorf("fatal: unable to access '%s': Could not resolve host", url)
}

func offlineCache(t testing.TB) *caa.SourceCache {
	return &caa.SourceCache{Dir: t.TempDir(), Cloner: offlineCloner{}}
}

// hermetic is the outside world every test deploys into: an empty
// environment, no programs on PATH, no Azure preflight, and git that fails
// like a machine without network. A deployer's ARM_*/AZURE_* variables or
// an `az` on PATH cannot reach the program (TestTestsIgnoreTheMachine).
func hermetic(t testing.TB) stack.Options {
	return stack.Options{Sources: offlineCache(t)}
}

// deploy is the whole program, as main.go runs it, in the hermetic world.
func deploy(t testing.TB) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		_, err := stack.DeployWith(ctx, hermetic(t))
		return err
	}
}
