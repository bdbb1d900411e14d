package infra

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azname"
)

// WorkerNodeLabel is the label the CAA DaemonSet selects nodes by; the
// guide sets it on the node pool with `--labels node.kubernetes.io/worker=`.
const WorkerNodeLabel = "node.kubernetes.io/worker"

// ExistingResourceGroup is a resource group the user owns. The stack uses
// it but never creates or deletes it.
type ExistingResourceGroup struct {
	Name string
}

// ClusterArgs configures the AKS cluster and its resource group.
type ClusterArgs struct {
	// ExistingResourceGroup, when set, is used instead of creating ResourceGroupName.
	ExistingResourceGroup *ExistingResourceGroup
	// ResourceGroupName is the group to create when ExistingResourceGroup is nil.
	ResourceGroupName pulumi.StringInput
	Location          pulumi.StringInput
	ClusterName       pulumi.StringInput
	// KubernetesVersion is major.minor, or nil for the AKS default.
	KubernetesVersion pulumi.StringPtrInput
	NodeCount         pulumi.IntInput
	NodeVMSize        pulumi.StringInput
	AdminUsername     pulumi.StringInput
	SSHPublicKey      pulumi.StringInput
	// NodeSubnetID is the subnet the nodes go in. It must resolve only once
	// the control-plane identity may use the subnet (see PeerPodNetwork).
	NodeSubnetID      pulumi.StringInput
	NetworkPlugin     pulumi.StringInput
	NetworkPluginMode pulumi.StringPtrInput
	PodCIDR           pulumi.StringPtrInput
	Tags              pulumi.StringMapInput
	// Entra, when set, turns on AKS-managed Entra ID with Azure RBAC and
	// disables local accounts, so no static admin credential exists.
	Entra *EntraAccess
}

// EntraAccess is who administers an Entra ID-only cluster, and how the
// program's own kubelogin obtains tokens.
type EntraAccess struct {
	// Admins get "Azure Kubernetes Service RBAC Cluster Admin" on the cluster.
	Admins []Principal
	// LoginMode is the kubelogin login mode (KubeloginAzureCLI, ...).
	LoginMode string
}

// Principal is an Entra ID object granted a role.
type Principal struct {
	ObjectID string
	// Type is User, Group or ServicePrincipal.
	Type string
	// Label names the principal in resource names; it must be stable.
	Label string
	// KeepFirst keeps the principal the first `up` granted: whoever runs a
	// later preview or up (a colleague, CI) changes nothing.
	KeepFirst bool
}

// Cluster is the resource group, the AKS cluster with OIDC issuer and
// workload identity, its kubeconfig and a Kubernetes provider for it.
type Cluster struct {
	pulumi.ResourceState

	ResourceGroupName pulumi.StringOutput `pulumi:"resourceGroupName"`
	ClusterName       pulumi.StringOutput `pulumi:"clusterName"`
	NodeResourceGroup pulumi.StringOutput `pulumi:"nodeResourceGroup"`
	OIDCIssuerURL     pulumi.StringOutput `pulumi:"oidcIssuerUrl"`
	// ControlPlanePrincipalID is the identity AKS acts as on the node subnet.
	ControlPlanePrincipalID pulumi.StringOutput `pulumi:"controlPlanePrincipalId"`
	// Kubeconfig is the user kubeconfig: a secret with local accounts; with
	// Entra ID an exec kubeconfig that holds no credential.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`

	// ManagedCluster is the AKS resource, for dependency edges.
	ManagedCluster *containerservice.ManagedCluster
	// Provider talks to the cluster; every Kubernetes resource uses it.
	Provider *kubernetes.Provider
}

// NewCluster creates (or looks up) the resource group, a user-assigned
// control-plane identity and the AKS cluster as the guide's `az aks create`
// does, then builds the kubeconfig and a Kubernetes provider from it.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil || args.ClusterName == nil || args.Location == nil || args.NodeSubnetID == nil || args.SSHPublicKey == nil {
		return nil, fmt.Errorf("cluster %q: ClusterName, Location, NodeSubnetID and SSHPublicKey are required", name)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("caa-azure:infra:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	if err := c.registerResourceGroup(ctx, name, args, parent); err != nil {
		return nil, err
	}
	clusterName := args.ClusterName.ToStringOutput()
	controlPlane, err := c.registerControlPlaneIdentity(ctx, name, args, clusterName, parent)
	if err != nil {
		return nil, err
	}
	if err := c.registerAKS(ctx, name, args, clusterName, controlPlane, parent); err != nil {
		return nil, err
	}
	providerDeps, err := c.readKubeconfig(ctx, name, args.Entra, parent)
	if err != nil {
		return nil, err
	}
	if err := c.registerProvider(ctx, name, providerDeps, parent); err != nil {
		return nil, err
	}
	if err := c.registerOutputs(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// registerResourceGroup creates the stack's resource group, or only names
// the user's.
func (c *Cluster) registerResourceGroup(ctx *pulumi.Context, name string, args *ClusterArgs, parent pulumi.ResourceOption) error {
	if rg := args.ExistingResourceGroup; rg != nil {
		// A looked-up group is only referenced, never a resource of this
		// stack, so `pulumi destroy` cannot delete it.
		c.ResourceGroupName = pulumi.String(rg.Name).ToStringOutput()
		return nil
	}
	if args.ResourceGroupName == nil {
		return fmt.Errorf("cluster %q: ResourceGroupName is required when no existing group is given", name)
	}
	group, err := resources.NewResourceGroup(ctx, name+"-rg", &resources.ResourceGroupArgs{
		ResourceGroupName: args.ResourceGroupName,
		Location:          args.Location,
		Tags:              args.Tags,
	}, parent)
	if err != nil {
		return fmt.Errorf("creating resource group: %w", err)
	}
	c.ResourceGroupName = group.Name
	return nil
}

// registerControlPlaneIdentity creates the identity AKS acts as.
func (c *Cluster) registerControlPlaneIdentity(ctx *pulumi.Context, name string, args *ClusterArgs, clusterName pulumi.StringOutput,
	parent pulumi.ResourceOption) (*managedidentity.UserAssignedIdentity, error) {
	// A user-assigned identity exists before the cluster, so it can be
	// granted rights on the node subnet first; a system-assigned one only
	// exists after AKS has already needed them.
	controlPlane, err := managedidentity.NewUserAssignedIdentity(ctx, name+"-control-plane", &managedidentity.UserAssignedIdentityArgs{
		ResourceGroupName: c.ResourceGroupName,
		Location:          args.Location,
		ResourceName:      clusterName.ApplyT(azname.ControlPlaneIdentityName).(pulumi.StringOutput),
		Tags:              args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating the control-plane identity: %w", err)
	}
	c.ControlPlanePrincipalID = controlPlane.PrincipalId
	return controlPlane, nil
}

// registerAKS creates the managed cluster and takes its outputs.
func (c *Cluster) registerAKS(ctx *pulumi.Context, name string, args *ClusterArgs, clusterName pulumi.StringOutput,
	controlPlane *managedidentity.UserAssignedIdentity, parent pulumi.ResourceOption) error {
	aks, err := containerservice.NewManagedCluster(ctx, name+"-aks", c.aksArgs(args, clusterName, controlPlane), parent)
	if err != nil {
		return fmt.Errorf("creating the AKS cluster: %w", err)
	}
	c.ManagedCluster = aks
	c.ClusterName = aks.Name
	c.NodeResourceGroup = aks.NodeResourceGroup.Elem()
	c.OIDCIssuerURL = aks.OidcIssuerProfile.IssuerURL().Elem()
	return nil
}

// aksArgs is the cluster `az aks create` in the guide makes, with the OIDC
// issuer and workload identity CAA's identity federates through.
func (c *Cluster) aksArgs(args *ClusterArgs, clusterName pulumi.StringOutput,
	controlPlane *managedidentity.UserAssignedIdentity) *containerservice.ManagedClusterArgs {
	nodeResourceGroup := c.ResourceGroupName.ApplyT(azname.NodeResourceGroupName).(pulumi.StringOutput)
	return &containerservice.ManagedClusterArgs{
		ResourceGroupName: c.ResourceGroupName,
		Location:          args.Location,
		ResourceName:      clusterName,
		DnsPrefix:         clusterName.ApplyT(azname.DNSPrefix).(pulumi.StringOutput),
		KubernetesVersion: args.KubernetesVersion,
		NodeResourceGroup: nodeResourceGroup,
		Identity: &containerservice.ManagedClusterIdentityArgs{
			Type:                   containerservice.ResourceIdentityTypeUserAssigned,
			UserAssignedIdentities: pulumi.StringArray{controlPlane.ID().ToStringOutput()},
		},
		AgentPoolProfiles: containerservice.ManagedClusterAgentPoolProfileArray{systemPool(args)},
		LinuxProfile: &containerservice.ContainerServiceLinuxProfileArgs{
			AdminUsername: args.AdminUsername,
			Ssh: containerservice.ContainerServiceSshConfigurationArgs{
				PublicKeys: containerservice.ContainerServiceSshPublicKeyArray{
					containerservice.ContainerServiceSshPublicKeyArgs{KeyData: args.SSHPublicKey},
				},
			},
		},
		NetworkProfile: &containerservice.ContainerServiceNetworkProfileArgs{
			NetworkPlugin:     args.NetworkPlugin,
			NetworkPluginMode: args.NetworkPluginMode,
			PodCidr:           args.PodCIDR,
		},
		AadProfile:           aadProfile(args.Entra),
		DisableLocalAccounts: pulumi.Bool(args.Entra != nil),
		OidcIssuerProfile:    &containerservice.ManagedClusterOIDCIssuerProfileArgs{Enabled: pulumi.Bool(true)},
		SecurityProfile: &containerservice.ManagedClusterSecurityProfileArgs{
			WorkloadIdentity: &containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs{Enabled: pulumi.Bool(true)},
		},
		Tags: args.Tags,
	}
}

// systemPool is the one node pool; its nodes carry the label the CAA
// DaemonSet selects.
func systemPool(args *ClusterArgs) *containerservice.ManagedClusterAgentPoolProfileArgs {
	return &containerservice.ManagedClusterAgentPoolProfileArgs{
		Name:         pulumi.String("system"),
		Mode:         containerservice.AgentPoolModeSystem,
		Count:        args.NodeCount,
		VmSize:       args.NodeVMSize,
		OsType:       containerservice.OSTypeLinux,
		OsSKU:        containerservice.OSSKUUbuntu,
		Type:         containerservice.AgentPoolTypeVirtualMachineScaleSets,
		NodeLabels:   pulumi.StringMap{WorkerNodeLabel: pulumi.String("")},
		VnetSubnetID: args.NodeSubnetID,
	}
}

// readKubeconfig reads the user kubeconfig. With Entra ID it first
// grants the admins, and returns those grants: the provider's first call
// is forbidden without them.
func (c *Cluster) readKubeconfig(ctx *pulumi.Context, name string, entra *EntraAccess, parent pulumi.ResourceOrInvokeOption) ([]pulumi.Resource, error) {
	credArgs := containerservice.ListManagedClusterUserCredentialsOutputArgs{
		ResourceGroupName: c.ResourceGroupName,
		ResourceName:      c.ManagedCluster.Name,
	}
	if entra == nil {
		creds := containerservice.ListManagedClusterUserCredentialsOutput(ctx, credArgs, parent)
		c.Kubeconfig = pulumi.ToSecret(creds.Kubeconfigs().Index(pulumi.Int(0)).Value().ApplyT(DecodeKubeconfig)).(pulumi.StringOutput)
		return nil, nil
	}
	grants, err := c.grantClusterAdmins(ctx, name, entra.Admins, parent)
	if err != nil {
		return nil, err
	}
	credArgs.Format = pulumi.String("exec")
	creds := containerservice.ListManagedClusterUserCredentialsOutput(ctx, credArgs, parent)
	loginMode := entra.LoginMode
	c.Kubeconfig = creds.Kubeconfigs().Index(pulumi.Int(0)).Value().ApplyT(func(b64 string) (string, error) {
		raw, err := DecodeKubeconfig(b64)
		if err != nil {
			return "", err
		}
		return ExecKubeconfig(raw, loginMode)
	}).(pulumi.StringOutput)
	return grants, nil
}

// grantClusterAdmins makes each admin an Azure RBAC cluster admin.
func (c *Cluster) grantClusterAdmins(ctx *pulumi.Context, name string, admins []Principal, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
	aks := c.ManagedCluster
	var grants []pulumi.Resource
	for _, admin := range admins {
		raOpts := []pulumi.ResourceOption{parent}
		if admin.KeepFirst {
			raOpts = append(raOpts, pulumi.IgnoreChanges([]string{"principalId", "principalType"}))
		}
		ra, err := authorization.NewRoleAssignment(ctx, name+"-rbac-cluster-admin-"+admin.Label, &authorization.RoleAssignmentArgs{
			PrincipalId:      pulumi.String(admin.ObjectID),
			PrincipalType:    pulumi.String(admin.Type),
			RoleDefinitionId: aks.ID().ToStringOutput().ApplyT(clusterAdminRole).(pulumi.StringOutput),
			Scope:            aks.ID().ToStringOutput(),
		}, raOpts...)
		if err != nil {
			return nil, fmt.Errorf("granting %s cluster admin: %w", admin.Label, err)
		}
		grants = append(grants, ra)
	}
	return grants, nil
}

// registerProvider creates the provider every Kubernetes resource uses;
// deps are what it must wait for.
func (c *Cluster) registerProvider(ctx *pulumi.Context, name string, deps []pulumi.Resource, parent pulumi.ResourceOption) error {
	provider, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{
		Kubeconfig: c.Kubeconfig,
		// Only a new cluster (a new ARM id) replaces the provider; a
		// refreshed kubeconfig is an update, not a replace of every object.
		ClusterIdentifier: c.ManagedCluster.ID().ToStringOutput(),
		// A changed ConfigMap or Secret is updated in place, not replaced.
		// The provider's default replaces it, and an object with a fixed
		// name (peer-pods-cm) is deleted before it is recreated: CAA's
		// configuration is briefly gone, and the engine then replaces
		// what depends on it, the sample's Deployment and its pod VM
		// (seen under the real engine, tests/engine). CAA still rolls: its
		// pod template carries the checksum of what it reads.
		EnableConfigMapMutable: pulumi.BoolPtr(true),
		EnableSecretMutable:    pulumi.BoolPtr(true),
		// deleteUnreachable and skipUpdateUnreachable stay unset, on
		// purpose. With deleteUnreachable the provider's Read drops an
		// object from state on any discovery error (an expired login, a 401,
		// a stopped cluster), so one refresh forgets every object that is
		// still running; and any value set here overrides the
		// PULUMI_K8S_DELETE_UNREACHABLE variable that docs/operations.md
		// gives for the one destroy of a cluster deleted by hand.
		// skipUpdateUnreachable would let `pulumi up` report success while
		// skipping every Kubernetes change: a failed run says more.
	}, parent, pulumi.DependsOn(deps)) // with Entra ID, the program acts through its admin grant
	if err != nil {
		return fmt.Errorf("creating the Kubernetes provider: %w", err)
	}
	c.Provider = provider
	return nil
}

// registerOutputs completes the component; it comes last, once every
// output is known.
func (c *Cluster) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(c, pulumi.Map{
		"resourceGroupName":       c.ResourceGroupName,
		"clusterName":             c.ClusterName,
		"nodeResourceGroup":       c.NodeResourceGroup,
		"oidcIssuerUrl":           c.OIDCIssuerURL,
		"controlPlanePrincipalId": c.ControlPlanePrincipalID,
		"kubeconfig":              c.Kubeconfig,
	})
}

// aadProfile is the AKS-managed Entra ID integration with Azure RBAC.
func aadProfile(entra *EntraAccess) containerservice.ManagedClusterAADProfilePtrInput {
	if entra == nil {
		return nil
	}
	return &containerservice.ManagedClusterAADProfileArgs{Managed: pulumi.Bool(true), EnableAzureRBAC: pulumi.Bool(true)}
}

// clusterAdminRole is the subscription-qualified "Azure Kubernetes Service
// RBAC Cluster Admin" role, from the cluster's id.
func clusterAdminRole(clusterID string) string {
	subscription := ""
	if parts := strings.Split(clusterID, "/"); len(parts) > 2 {
		subscription = parts[2]
	}
	return RoleDefinitionID(subscription, RoleAKSRBACClusterAdmin)
}

// DecodeKubeconfig decodes the base64 kubeconfig AKS returns. An empty or
// undecodable value is an error: a provider built from it would fail later
// with a far less helpful message.
func DecodeKubeconfig(b64 string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("the kubeconfig AKS returned is not base64: %w", err)
	}
	if len(raw) == 0 {
		return "", fmt.Errorf("AKS returned an empty kubeconfig")
	}
	return string(raw), nil
}
