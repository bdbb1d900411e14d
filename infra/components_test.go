package infra

import (
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azname"
)

// echoMocks returns every resource's inputs as its outputs, with an id and
// principal ids derived from the logical name.
type echoMocks struct {
	mu        sync.Mutex
	resources map[string]pulumi.MockResourceArgs
}

func (m *echoMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.resources[args.Name] = args
	m.mu.Unlock()
	out := args.Inputs.Copy()
	out["principalId"] = resource.NewStringProperty("principal-" + args.Name)
	out["clientId"] = resource.NewStringProperty("client-" + args.Name)
	if v, ok := args.Inputs["resourceName"]; ok {
		out["name"] = v
	}
	return "/id/" + args.Name, out, nil
}

func (m *echoMocks) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func runComponent(t *testing.T, body pulumi.RunFunc) *echoMocks {
	t.Helper()
	m := &echoMocks{resources: map[string]pulumi.MockResourceArgs{}}
	if err := pulumi.RunErr(body, pulumi.WithMocks("caa-azure", "test", m)); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWorkloadIdentityComponent(t *testing.T) {
	var identity *WorkloadIdentity
	m := runComponent(t, func(ctx *pulumi.Context) error {
		var err error
		identity, err = NewWorkloadIdentity(ctx, "wi", &WorkloadIdentityArgs{
			ResourceGroupName:    pulumi.String("rg"),
			IdentityName:         pulumi.String("caa"),
			PodVMResourceGroupID: pulumi.String("/subscriptions/s/resourceGroups/rg"),
			PeerPodSubnetID:      pulumi.String("/subnet/peerpods"),
			SubnetRoleID:         pulumi.String("/subnet-role"),
			SubscriptionID:       pulumi.String("s"),
			OIDCIssuerURL:        pulumi.String("https://issuer/"),
			Subject:              pulumi.String("system:serviceaccount:ns:sa"),
		})
		return err
	})
	if len(identity.RoleAssignments) != 3 || len(identity.Dependencies()) != 5 {
		t.Fatalf("want 3 role assignments and 5 dependencies, got %d and %d", len(identity.RoleAssignments), len(identity.Dependencies()))
	}
	scopes := map[string]string{}
	for name, r := range m.resources {
		if r.TypeToken == "azure-native:authorization:RoleAssignment" {
			scopes[strings.TrimPrefix(name, "wi-")] = r.Inputs["scope"].StringValue() + " " + r.Inputs["roleDefinitionId"].StringValue()
			if r.Inputs["principalType"].StringValue() != "ServicePrincipal" {
				t.Errorf("%s: principalType %v", name, r.Inputs["principalType"])
			}
		}
		if r.TypeToken != "caa-azure:infra:WorkloadIdentity" && !strings.HasSuffix(r.RegisterRPC.GetParent(), "WorkloadIdentity::wi") {
			t.Errorf("%s is not parented to the component", name)
		}
	}
	want := map[string]string{
		"vm-contributor": "/subscriptions/s/resourceGroups/rg " + RoleDefinitionID("s", RoleVirtualMachineContributor),
		"reader":         "/subscriptions/s/resourceGroups/rg " + RoleDefinitionID("s", RoleReader),
		"subnet-join":    "/subnet/peerpods /subnet-role",
	}
	for k, v := range want {
		if scopes[k] != v {
			t.Errorf("%s: got %q, want %q", k, scopes[k], v)
		}
	}
}

func TestPeerPodNetworkOnExistingSubnet(t *testing.T) {
	id, err := azname.ParseSubnetID("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks")
	if err != nil {
		t.Fatal(err)
	}
	m := runComponent(t, func(ctx *pulumi.Context) error {
		_, err := NewPeerPodNetwork(ctx, "net", &PeerPodNetworkArgs{
			ResourceGroupName:  pulumi.String("rg"),
			Location:           pulumi.String("eastus"),
			ClusterName:        pulumi.String("aks"),
			ExistingNodeSubnet: &ExistingSubnet{ID: id},
			PeerPodSubnetName:  pulumi.String("caa-peerpods-test"),
			PeerPodSubnetCIDR:  pulumi.String("10.1.0.0/24"),
			ClusterPrincipalID: pulumi.String("p"),
			SubscriptionID:     pulumi.String("s"),
			SubnetRoleName:     pulumi.String("caa-azure subnet join (s/rg/aks)"),
		})
		return err
	})
	if _, ok := m.resources["net-vnet"]; ok {
		t.Error("a VNet was created although the node subnet is the user's")
	}
	peer := m.resources["net-peerpods"]
	if peer.Inputs["resourceGroupName"].StringValue() != "net" || peer.Inputs["virtualNetworkName"].StringValue() != "hub" {
		t.Errorf("peer-pod subnet not placed in the user's VNet: %v", peer.Inputs)
	}
	if got := m.resources["net-cluster-subnet-join"].Inputs["scope"].StringValue(); got != id.String() {
		t.Errorf("grant scope %s, want the user's subnet", got)
	}
	// The pod VM group is ours even with the user's subnet, named after the
	// subnet's place, and waits for the peer-pod subnet.
	group := m.resources["net-podvms"]
	if group.TypeToken != "azure-native:resources:ResourceGroup" {
		t.Fatalf("no pod VM group: %v", group.TypeToken)
	}
	if got, want := group.Inputs["resourceGroupName"].StringValue(), azname.PodVMResourceGroupName("eastus", "rg", "aks", "net/hub/caa-peerpods-test"); got != want {
		t.Errorf("pod VM group %q, want %q", got, want)
	}
	if got := group.Inputs["location"].StringValue(); got != "eastus" {
		t.Errorf("pod VM group location %q", got)
	}
	waits := false
	for _, u := range group.RegisterRPC.GetDependencies() {
		waits = waits || strings.HasSuffix(u, "::net-peerpods")
	}
	if !waits {
		t.Error("the pod VM group does not wait for the peer-pod subnet: destroy could delete the subnet while pod VMs use it")
	}
}

func TestComponentsRejectMissingArgs(t *testing.T) {
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if _, err := NewCluster(ctx, "c", &ClusterArgs{}); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("NewCluster without args: %v", err)
		}
		if _, err := NewPeerPodNetwork(ctx, "n", nil); err == nil {
			t.Error("NewPeerPodNetwork(nil) must fail")
		}
		if _, err := NewWorkloadIdentity(ctx, "w", &WorkloadIdentityArgs{}); err == nil {
			t.Error("NewWorkloadIdentity without args must fail")
		}
		return nil
	}, pulumi.WithMocks("caa-azure", "test", &echoMocks{resources: map[string]pulumi.MockResourceArgs{}}))
	if err != nil {
		t.Fatal(err)
	}
}
