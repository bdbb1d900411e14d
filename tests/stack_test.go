package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

const (
	tClusterComponent  = "caa-azure:infra:Cluster"
	tNetworkComponent  = "caa-azure:infra:PeerPodNetwork"
	tIdentityComponent = "caa-azure:infra:WorkloadIdentity"
	tResourceGroup     = "azure-native:resources:ResourceGroup"
	tIdentity          = "azure-native:managedidentity:UserAssignedIdentity"
	tFederation        = "azure-native:managedidentity:FederatedIdentityCredential"
	tCluster           = "azure-native:containerservice:ManagedCluster"
	tVNet              = "azure-native:network:VirtualNetwork"
	tSubnet            = "azure-native:network:Subnet"
	tNat               = "azure-native:network:NatGateway"
	tPublicIP          = "azure-native:network:PublicIPAddress"
	tRoleAssignment    = "azure-native:authorization:RoleAssignment"
	tK8sProvider       = "pulumi:providers:kubernetes"
	tRandom            = "random:index/randomString:RandomString"

	roleVMContributor = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
	roleReader        = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

// outputs holds the awaited stack exports of one run.
type outputs map[string]internals.UnsafeAwaitOutputResult

// deployAndExport runs the program in the hermetic world and awaits every export.
func deployAndExport(t testing.TB, stackName string, cfg map[string]string, m *mocks) outputs {
	t.Helper()
	got := outputs{}
	program := deploy(t)
	err := run(t, stackName, cfg, m, func(ctx *pulumi.Context) error {
		if err := program(ctx); err != nil {
			return err
		}
		return awaitExports(ctx, got)
	})
	if err != nil {
		t.Fatalf("stack %s: %v", stackName, err)
	}
	return got
}

// awaitExports resolves every stack export into got.
func awaitExports(ctx *pulumi.Context, got outputs) error {
	for k, v := range ctx.GetCurrentExportMap() {
		res, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(v))
		if err != nil {
			return err
		}
		got[k] = res
	}
	return nil
}

func str(t *testing.T, r pulumi.MockResourceArgs, path ...string) string {
	t.Helper()
	v := prop(t, r, path...)
	if !v.IsString() {
		t.Fatalf("%s %s: %s is %v, not a string", r.TypeToken, r.Name, strings.Join(path, "."), v)
	}
	return v.StringValue()
}

// prop walks inputs by object keys and array indexes ("0").
func prop(t *testing.T, r pulumi.MockResourceArgs, path ...string) resource.PropertyValue {
	t.Helper()
	v := resource.NewObjectProperty(r.Inputs)
	for _, p := range path {
		switch {
		case v.IsObject():
			v = v.ObjectValue()[resource.PropertyKey(p)]
		case v.IsArray():
			i := int(p[0] - '0')
			if i >= len(v.ArrayValue()) {
				t.Fatalf("%s %s: index %s out of range at %s", r.TypeToken, r.Name, p, strings.Join(path, "."))
			}
			v = v.ArrayValue()[i]
		default:
			t.Fatalf("%s %s: cannot walk %s", r.TypeToken, r.Name, strings.Join(path, "."))
		}
	}
	return v
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func roleID(guid string) string {
	return "/subscriptions/" + subscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

var stackFiles = []struct {
	name, location, tee, size, disableCvm string
}{
	{"snp", "eastus", "snp", "Standard_DC2as_v5", "false"},
	{"tdx", "eastus2", "tdx", "Standard_DC2es_v6", "false"},
	{"nonconf", "eastus", "none", "Standard_D2as_v5", "true"},
}

func TestStackFilesCarryTheirTEE(t *testing.T) {
	for _, s := range stackFiles {
		cfg := stackConfig(t, s.name)
		expect(t, s.name+" location", cfg["azure-native:location"], s.location)
		expect(t, s.name+" tee", cfg["caa-azure:tee"], s.tee)
		expect(t, s.name+" instanceSize", cfg["caa-azure:instanceSize"], s.size)
		expect(t, s.name+" disableCvm", cfg["caa-azure:disableCvm"], s.disableCvm)
	}
}

// TestWholeStack runs each real stack file and checks every value the
// guide sets, the parents and the dependency edges.
func TestWholeStack(t *testing.T) {
	for _, s := range stackFiles {
		t.Run(s.name, func(t *testing.T) {
			m := newMocks()
			out := deployAndExport(t, s.name, stackConfig(t, s.name), m)
			rgName := "caa-rg-" + suffix
			clusterName := "caa-" + suffix

			// Components and parents.
			clusterC := m.one(t, tClusterComponent, "cluster")
			networkC := m.one(t, tNetworkComponent, "network")
			identityC := m.one(t, tIdentityComponent, "caa-identity")
			for comp, children := range map[string][]pulumi.MockResourceArgs{
				urn(clusterC):  {m.one(t, tResourceGroup, "cluster-rg"), m.one(t, tIdentity, "cluster-control-plane"), m.one(t, tCluster, "cluster-aks"), m.one(t, tK8sProvider, "cluster-k8s")},
				urn(networkC):  {m.one(t, tVNet, "network-vnet"), m.one(t, tSubnet, "network-nodes"), m.one(t, tSubnet, "network-peerpods"), m.one(t, tNat, "network-nat"), m.one(t, tPublicIP, "network-nat-ip"), m.one(t, tRoleAssignment, "network-cluster-subnet-join")},
				urn(identityC): {m.one(t, tIdentity, "caa-identity"), m.one(t, tFederation, "caa-identity-federation"), m.one(t, tRoleAssignment, "caa-identity-vm-contributor"), m.one(t, tRoleAssignment, "caa-identity-reader"), m.one(t, tRoleAssignment, "caa-identity-subnet-join")},
			} {
				for _, c := range children {
					if !strings.HasSuffix(c.RegisterRPC.GetParent(), comp) {
						t.Errorf("%s %s has parent %q, want %s", c.TypeToken, c.Name, c.RegisterRPC.GetParent(), comp)
					}
				}
			}

			// Resource group.
			rg := m.one(t, tResourceGroup, "cluster-rg")
			expect(t, "resource group name", str(t, rg, "resourceGroupName"), rgName)
			expect(t, "resource group location", str(t, rg, "location"), s.location)
			expect(t, "stack tag", str(t, rg, "tags", "caa-azure-stack"), "caa-azure/"+s.name+"/"+suffix)

			// AKS as `az aks create` in the guide.
			aks := m.one(t, tCluster, "cluster-aks")
			expect(t, "cluster name", str(t, aks, "resourceName"), clusterName)
			expect(t, "cluster resource group", str(t, aks, "resourceGroupName"), rgName)
			expect(t, "node resource group", str(t, aks, "nodeResourceGroup"), rgName+"-aks")
			expect(t, "location", str(t, aks, "location"), s.location)
			expect(t, "dns prefix", str(t, aks, "dnsPrefix"), clusterName)
			pool := []string{"agentPoolProfiles", "0"}
			if n := len(prop(t, aks, "agentPoolProfiles").ArrayValue()); n != 1 {
				t.Errorf("want one node pool, got %d", n)
			}
			if c := prop(t, aks, append(pool, "count")...); !c.IsNumber() || c.NumberValue() != 1 {
				t.Errorf("node count = %v, want 1", c)
			}
			expect(t, "pool mode", str(t, aks, append(pool, "mode")...), "System")
			expect(t, "node size", str(t, aks, append(pool, "vmSize")...), "Standard_F4s_v2")
			expect(t, "os sku", str(t, aks, append(pool, "osSKU")...), "Ubuntu")
			expect(t, "worker label", str(t, aks, append(pool, "nodeLabels", "node.kubernetes.io/worker")...), "")
			nodeSubnet := m.one(t, tSubnet, "network-nodes")
			nodeSubnetID := "/subscriptions/" + subscriptionID + "/resourceGroups/" + rgName +
				"/providers/Microsoft.Network/virtualNetworks/" + clusterName + "-vnet/subnets/nodes"
			expect(t, "node subnet", str(t, aks, append(pool, "vnetSubnetID")...), nodeSubnetID)
			expect(t, "admin user", str(t, aks, "linuxProfile", "adminUsername"), "azuser")
			expect(t, "ssh key", str(t, aks, "linuxProfile", "ssh", "publicKeys", "0", "keyData"), strings.Join(strings.Fields(testSSHKey(t))[:2], " "))
			if !prop(t, aks, "oidcIssuerProfile", "enabled").BoolValue() {
				t.Error("OIDC issuer is not enabled")
			}
			if !prop(t, aks, "securityProfile", "workloadIdentity", "enabled").BoolValue() {
				t.Error("workload identity is not enabled")
			}
			expect(t, "network plugin", str(t, aks, "networkProfile", "networkPlugin"), "azure")
			expect(t, "network plugin mode", str(t, aks, "networkProfile", "networkPluginMode"), "overlay")
			expect(t, "pod cidr", str(t, aks, "networkProfile", "podCidr"), "10.244.0.0/16")
			expect(t, "identity type", str(t, aks, "identity", "type"), "UserAssigned")
			controlPlane := m.one(t, tIdentity, "cluster-control-plane")
			expect(t, "control-plane identity", str(t, aks, "identity", "userAssignedIdentities", "0"),
				"/subscriptions/"+subscriptionID+"/resourceGroups/"+rgName+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+clusterName+"-control-plane")
			if _, set := aks.Inputs["kubernetesVersion"]; set {
				t.Error("kubernetesVersion must be left to AKS when unset")
			}

			// Network.
			vnet := m.one(t, tVNet, "network-vnet")
			space := prop(t, vnet, "addressSpace", "addressPrefixes").ArrayValue()
			if len(space) != 2 || space[0].StringValue() != "10.224.0.0/16" || space[1].StringValue() != "10.225.0.0/16" {
				t.Errorf("VNet address space = %v, want both subnets", space)
			}
			if _, inline := vnet.Inputs["subnets"]; inline {
				t.Error("the VNet must not declare inline subnets")
			}
			expect(t, "node subnet range", str(t, nodeSubnet, "addressPrefix"), "10.224.0.0/16")
			peer := m.one(t, tSubnet, "network-peerpods")
			expect(t, "peer-pod subnet range", str(t, peer, "addressPrefix"), "10.225.0.0/16")
			expect(t, "peer-pod subnet name", str(t, peer, "subnetName"), "caa-peerpods-"+s.name)
			nat := m.one(t, tNat, "network-nat")
			ip := m.one(t, tPublicIP, "network-nat-ip")
			expect(t, "NAT sku", str(t, nat, "sku", "name"), "Standard")
			expect(t, "public IP sku", str(t, ip, "sku", "name"), "Standard")
			expect(t, "public IP allocation", str(t, ip, "publicIPAllocationMethod"), "Static")
			expect(t, "NAT public IP", str(t, nat, "publicIpAddresses", "0", "id"),
				"/subscriptions/"+subscriptionID+"/resourceGroups/"+rgName+"/providers/Microsoft.Network/publicIPAddresses/"+clusterName+"-peerpod-nat-ip")
			expect(t, "peer-pod NAT", str(t, peer, "natGateway", "id"),
				"/subscriptions/"+subscriptionID+"/resourceGroups/"+rgName+"/providers/Microsoft.Network/natGateways/"+clusterName+"-peerpod-nat")
			if _, hasNat := nodeSubnet.Inputs["natGateway"]; hasNat {
				t.Error("the NAT gateway must be attached to the peer-pod subnet only")
			}
			grant := m.one(t, tRoleAssignment, "network-cluster-subnet-join")

			// Workload identity.
			caaID := m.one(t, tIdentity, "caa-identity")
			expect(t, "CAA identity name", str(t, caaID, "resourceName"), clusterName+"-caa")
			peerSubnetID := "/subscriptions/" + subscriptionID + "/resourceGroups/" + rgName +
				"/providers/Microsoft.Network/virtualNetworks/" + clusterName + "-vnet/subnets/caa-peerpods-" + s.name
			// Who may do what, and where, is TestLeastPrivilege's.
			for _, name := range []string{"caa-identity-vm-contributor", "caa-identity-reader", "caa-identity-subnet-join"} {
				if !dependsOn(m.one(t, tRoleAssignment, name), caaID) {
					t.Errorf("%s does not wait for the identity it grants", name)
				}
			}
			fic := m.one(t, tFederation, "caa-identity-federation")
			expect(t, "issuer", str(t, fic, "issuer"), issuerURL)
			expect(t, "subject", str(t, fic, "subject"), "system:serviceaccount:confidential-containers-system:cloud-api-adaptor")
			expect(t, "audience", str(t, fic, "audiences", "0"), "api://AzureADTokenExchange")
			expect(t, "federated identity", str(t, fic, "resourceName"), clusterName+"-caa")
			if !fic.RegisterRPC.GetDeleteBeforeReplace() {
				t.Error("the federated credential must be deleted before it is replaced (same issuer and subject)")
			}

			// Kubernetes provider.
			prov := m.one(t, tK8sProvider, "cluster-k8s")
			if kc := prop(t, prov, "kubeconfig"); !kc.IsSecret() {
				t.Error("the provider's kubeconfig input is not a secret")
			} else {
				expect(t, "provider kubeconfig", kc.SecretValue().Element.StringValue(), fakeKubeconfig)
			}
			// Any value here, false included, would override the
			// PULUMI_K8S_DELETE_UNREACHABLE escape hatch; true would drop
			// state on a refresh that cannot reach the cluster.
			for _, key := range []resource.PropertyKey{"deleteUnreachable", "skipUpdateUnreachable"} {
				if v, ok := prov.Inputs[key]; ok {
					t.Errorf("provider %s = %v, want it unset", key, v)
				}
			}
			// A config change updates peer-pods-cm in place; the provider's
			// default replaces it (deleting it first) and, with it, the
			// sample's Deployment (tests/engine shows both).
			for _, key := range []resource.PropertyKey{"enableConfigMapMutable", "enableSecretMutable"} {
				if v := prov.Inputs[key]; !v.IsBool() || !v.BoolValue() {
					t.Errorf("provider %s = %v, want true", key, v)
				}
			}
			expect(t, "provider clusterIdentifier", str(t, prov, "clusterIdentifier"),
				"/subscriptions/"+subscriptionID+"/resourceGroups/"+rgName+"/providers/Microsoft.ContainerService/managedClusters/"+clusterName)

			// Edges.
			edges := []struct {
				from, to pulumi.MockResourceArgs
				why      string
			}{
				{aks, nodeSubnet, "AKS is placed in the node subnet"},
				{aks, grant, "AKS must not start before its identity may use the node subnet"},
				{aks, controlPlane, "AKS runs as the control-plane identity"},
				{grant, controlPlane, "the grant names the control-plane identity"},
				{peer, nodeSubnet, "subnet writes on one VNet must not run in parallel"},
				{peer, nat, "the peer-pod subnet is deleted before its NAT gateway"},
				{nat, ip, "the NAT gateway is deleted before its IP"},
				{fic, caaID, "the credential belongs to the identity"},
				{fic, aks, "the credential trusts the cluster's issuer"},
				{m.one(t, tRoleAssignment, "caa-identity-subnet-join"), peer, "the network grant is scoped to the peer-pod subnet"},
				{prov, aks, "the provider talks to the cluster"},
				{vnet, rg, "the VNet lives in the resource group"},
				{controlPlane, rg, "the identity lives in the resource group"},
			}
			for _, e := range edges {
				if !dependsOn(e.from, e.to) {
					t.Errorf("%s %s does not wait for %s %s: %s", e.from.TypeToken, e.from.Name, e.to.TypeToken, e.to.Name, e.why)
				}
			}

			// Exports.
			for k, want := range map[string]string{
				"resourceGroupName":      rgName,
				"clusterName":            clusterName,
				"nodeResourceGroup":      rgName + "-aks",
				"oidcIssuerUrl":          issuerURL,
				"identityClientId":       "client-of-" + clusterName + "-caa",
				"peerpodSubnetId":        peerSubnetID,
				"peerpodSubnetCidr":      "10.225.0.0/16",
				"podVmListCommand":       "az vm list --resource-group " + podVMGroup(t, m) + " --output table",
				"podVmResourceGroupName": podVMGroup(t, m),
				"kubeconfig":             fakeKubeconfig,
				"stackTag":               "caa-azure/" + s.name + "/" + suffix,
			} {
				got, ok := out[k]
				if !ok {
					t.Errorf("export %s is missing", k)
					continue
				}
				if got.Value != want {
					t.Errorf("export %s = %v, want %q", k, got.Value, want)
				}
				if got.Secret != (k == "kubeconfig") {
					t.Errorf("export %s: secret = %v", k, got.Secret)
				}
			}
			if len(out) != 11 {
				t.Errorf("want exactly the 11 documented exports, got %d", len(out))
			}
		})
	}
}
