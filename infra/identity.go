package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TokenExchangeAudience is the audience Entra ID expects in federated tokens.
const TokenExchangeAudience = "api://AzureADTokenExchange"

// WorkloadIdentityArgs configures CAA's identity and its rights.
type WorkloadIdentityArgs struct {
	ResourceGroupName pulumi.StringInput
	Location          pulumi.StringInput
	IdentityName      pulumi.StringInput
	// ResourceGroupID is where CAA creates pod VMs: VM Contributor and Reader apply there.
	ResourceGroupID pulumi.StringInput
	// PeerPodSubnetID is the only network scope CAA needs (to attach pod VM NICs).
	PeerPodSubnetID pulumi.StringInput
	SubscriptionID  pulumi.StringInput
	// OIDCIssuerURL is the cluster's issuer that signs service-account tokens.
	OIDCIssuerURL pulumi.StringInput
	// Subject is the Kubernetes service account CAA runs as, in
	// system:serviceaccount:<namespace>:<name> form.
	Subject pulumi.StringInput
	Tags    pulumi.StringMapInput
	// GrantVMSizeRead creates a custom role with only VMSizeReadAction at
	// subscription scope and grants it: CAA lists VM sizes there at start-up
	// and exits on a 403 (cloud-api-adaptor PR #1453).
	GrantVMSizeRead bool
	// VMSizeRoleName names that custom role; role names are unique per tenant.
	VMSizeRoleName pulumi.StringInput
}

// VMSizeReadAction is the one action CAA needs at subscription scope.
const VMSizeReadAction = "Microsoft.Compute/locations/vmSizes/read"

// WorkloadIdentity is the user-assigned identity CAA uses to create pod VMs,
// its least-privilege role assignments and the federated credential that
// lets CAA's service account act as it.
type WorkloadIdentity struct {
	pulumi.ResourceState

	ClientID    pulumi.StringOutput `pulumi:"clientId"`
	PrincipalID pulumi.StringOutput `pulumi:"principalId"`

	Identity            *managedidentity.UserAssignedIdentity
	RoleAssignments     []*authorization.RoleAssignment
	FederatedCredential *managedidentity.FederatedIdentityCredential
	// VMSizeRole is nil unless GrantVMSizeRead is set.
	VMSizeRole *authorization.RoleDefinition
}

// Dependencies are the resources CAA must outlive: anything that creates or
// deletes pod VMs depends on all of them, so destroy removes it first.
func (w *WorkloadIdentity) Dependencies() []pulumi.Resource {
	deps := []pulumi.Resource{w.Identity, w.FederatedCredential}
	for _, ra := range w.RoleAssignments {
		deps = append(deps, ra)
	}
	if w.VMSizeRole != nil {
		deps = append(deps, w.VMSizeRole)
	}
	return deps
}

// identityRole is one role CAA holds, and on what.
type identityRole struct {
	suffix string
	role   string
	scope  pulumi.StringInput
}

// NewWorkloadIdentity creates the identity, grants Virtual Machine
// Contributor and Reader on the CAA resource group and Network Contributor
// on the peer-pod subnet, and federates the identity with CAA's service
// account.
func NewWorkloadIdentity(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, opts ...pulumi.ResourceOption) (*WorkloadIdentity, error) {
	if args == nil || args.ResourceGroupName == nil || args.IdentityName == nil || args.ResourceGroupID == nil ||
		args.PeerPodSubnetID == nil || args.SubscriptionID == nil || args.OIDCIssuerURL == nil || args.Subject == nil {
		return nil, fmt.Errorf("workload identity %q: every field but Location and Tags is required", name)
	}
	w := &WorkloadIdentity{}
	if err := ctx.RegisterComponentResource("caa-azure:infra:WorkloadIdentity", name, w, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)

	identity, err := managedidentity.NewUserAssignedIdentity(ctx, name, &managedidentity.UserAssignedIdentityArgs{
		ResourceGroupName: args.ResourceGroupName,
		Location:          args.Location,
		ResourceName:      args.IdentityName,
		Tags:              args.Tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("creating the CAA identity: %w", err)
	}
	w.Identity = identity

	for _, r := range []identityRole{
		{"vm-contributor", RoleVirtualMachineContributor, args.ResourceGroupID},
		{"reader", RoleReader, args.ResourceGroupID},
		{"network-contributor", RoleNetworkContributor, args.PeerPodSubnetID},
	} {
		ra, err := authorization.NewRoleAssignment(ctx, name+"-"+r.suffix, &authorization.RoleAssignmentArgs{
			PrincipalId: identity.PrincipalId,
			// The SDK defaults to User, which fails for managed identities
			// and defeats Azure's handling of Entra replication delay.
			PrincipalType:    authorization.PrincipalTypeServicePrincipal,
			RoleDefinitionId: roleDefinition(args.SubscriptionID, r.role),
			Scope:            r.scope,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("granting the CAA identity %s: %w", r.suffix, err)
		}
		w.RoleAssignments = append(w.RoleAssignments, ra)
	}

	if args.GrantVMSizeRead {
		if args.VMSizeRoleName == nil {
			return nil, fmt.Errorf("workload identity %q: VMSizeRoleName is required with GrantVMSizeRead", name)
		}
		subscriptionScope := args.SubscriptionID.ToStringOutput().ApplyT(func(sub string) string {
			return "/subscriptions/" + sub
		}).(pulumi.StringOutput)
		role, err := authorization.NewRoleDefinition(ctx, name+"-vm-size-reader", &authorization.RoleDefinitionArgs{
			RoleName:         args.VMSizeRoleName,
			Description:      pulumi.String("Lets cloud-api-adaptor list VM sizes at start-up; nothing else."),
			RoleType:         pulumi.String("CustomRole"),
			Scope:            subscriptionScope,
			AssignableScopes: pulumi.StringArray{subscriptionScope},
			Permissions: authorization.PermissionArray{&authorization.PermissionArgs{
				Actions: pulumi.StringArray{pulumi.String(VMSizeReadAction)},
			}},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating the VM size reader role: %w", err)
		}
		ra, err := authorization.NewRoleAssignment(ctx, name+"-vm-size-reader", &authorization.RoleAssignmentArgs{
			PrincipalId:      identity.PrincipalId,
			PrincipalType:    authorization.PrincipalTypeServicePrincipal,
			RoleDefinitionId: role.ID().ToStringOutput(),
			Scope:            subscriptionScope,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("granting the CAA identity the VM size reader role: %w", err)
		}
		w.VMSizeRole = role
		w.RoleAssignments = append(w.RoleAssignments, ra)
	}

	fic, err := managedidentity.NewFederatedIdentityCredential(ctx, name+"-federation", &managedidentity.FederatedIdentityCredentialArgs{
		ResourceGroupName:                       args.ResourceGroupName,
		ResourceName:                            identity.Name,
		FederatedIdentityCredentialResourceName: pulumi.String("cloud-api-adaptor"),
		Issuer:                                  args.OIDCIssuerURL,
		Subject:                                 args.Subject,
		Audiences:                               pulumi.StringArray{pulumi.String(TokenExchangeAudience)},
		// Azure refuses a second credential with the same issuer and
		// subject, so a replacement must delete the old one first.
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, fmt.Errorf("federating the CAA identity: %w", err)
	}
	w.FederatedCredential = fic
	w.ClientID = identity.ClientId
	w.PrincipalID = identity.PrincipalId

	if err := ctx.RegisterResourceOutputs(w, pulumi.Map{
		"clientId":    w.ClientID,
		"principalId": w.PrincipalID,
	}); err != nil {
		return nil, err
	}
	return w, nil
}
