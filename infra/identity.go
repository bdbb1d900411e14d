package infra

import (
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi-azuread/sdk/v5/go/azuread"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TokenExchangeAudience is the audience Entra ID expects in federated tokens.
const TokenExchangeAudience = "api://AzureADTokenExchange"

// WorkloadIdentityArgs configures CAA's identity and its rights.
type WorkloadIdentityArgs struct {
	ResourceGroupName pulumi.StringInput
	Location          pulumi.StringInput
	IdentityName      pulumi.StringInput
	// PodVMResourceGroupID is the group CAA creates pod VMs in, and the only
	// scope of its Virtual Machine Contributor and Reader roles.
	PodVMResourceGroupID pulumi.StringInput
	// PeerPodSubnetID is the only network scope CAA needs (to attach pod VM
	// NICs), where it holds SubnetRoleID: join and read, nothing else.
	PeerPodSubnetID pulumi.StringInput
	SubnetRoleID    pulumi.StringInput
	SubscriptionID  pulumi.StringInput
	// OIDCIssuerURL is the cluster's issuer that signs service-account tokens.
	OIDCIssuerURL pulumi.StringInput
	// Subject is the Kubernetes service account CAA runs as, in
	// system:serviceaccount:<namespace>:<name> form.
	Subject pulumi.StringInput
	// MoreSubjects are further service accounts federated with the same
	// identity (the chart's peerpod-ctrl).
	MoreSubjects []pulumi.StringInput
	Tags         pulumi.StringMapInput
	// GrantVMSizeRead creates a custom role with only VMSizeReadAction at
	// subscription scope and grants it: CAA lists VM sizes there at start-up
	// and exits on a 403 (cloud-api-adaptor PR #1453).
	GrantVMSizeRead bool
	// VMSizeRoleName names that custom role; role names are unique per tenant.
	VMSizeRoleName pulumi.StringInput
	// ImageRead, when set, grants CAA read on a pod VM image of the user's;
	// nil for community gallery images, which anyone may use.
	ImageRead *ImageReadGrant
	// ServicePrincipal, when set, replaces the managed identity and its
	// federated credential with an Entra application, service principal and
	// password, for clusters that cannot use workload identity.
	ServicePrincipal *ServicePrincipalMode
}

// ImageReadGrant is CAA's read on its pod VM image. Azure checks the VM
// creator's read right on an image given by id (LinkedAuthorizationFailed
// without it), and the deployer's rights, which preflight sees, are not
// CAA's.
type ImageReadGrant struct {
	// ImageID is the image, image definition or version: the narrowest
	// scope that works, and the scope of the grant.
	ImageID string
	// RoleScope is the image's resource group, where the role is defined
	// (so the deployer needs no subscription-wide right for it).
	RoleScope string
	// Actions are the only actions the role allows (azname.ImageID.ReadActions).
	Actions []string
	// RoleName names the role; role names are unique per tenant.
	RoleName pulumi.StringInput
}

// ServicePrincipalMode configures CAA's service principal and its password.
type ServicePrincipalMode struct {
	DisplayName pulumi.StringInput
	// LifetimeHours is how long each password is valid.
	LifetimeHours int
	// Generation replaces the password when it changes, and only then.
	Generation int
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
	// ClientSecret is the service principal's password (a secret); empty
	// with workload identity.
	ClientSecret pulumi.StringOutput `pulumi:"clientSecret"`

	// Identity is nil in service-principal mode.
	Identity *managedidentity.UserAssignedIdentity
	// Application, ServicePrincipal and Password are set only in
	// service-principal mode.
	Application         *azuread.Application
	ServicePrincipal    *azuread.ServicePrincipal
	Password            *azuread.ServicePrincipalPassword
	RoleAssignments     []*authorization.RoleAssignment
	FederatedCredential *managedidentity.FederatedIdentityCredential
	// MoreFederatedCredentials follow FederatedCredential one by one.
	MoreFederatedCredentials []*managedidentity.FederatedIdentityCredential
	// VMSizeRole is nil unless GrantVMSizeRead is set.
	VMSizeRole *authorization.RoleDefinition
	// ImageReadRole is nil unless ImageRead is set.
	ImageReadRole *authorization.RoleDefinition
}

// Dependencies are the resources CAA must outlive: anything that creates or
// deletes pod VMs depends on all of them, so destroy removes it first.
func (w *WorkloadIdentity) Dependencies() []pulumi.Resource {
	var deps []pulumi.Resource
	for _, r := range []pulumi.Resource{w.Identity, w.FederatedCredential, w.Application, w.ServicePrincipal, w.Password} {
		if !isNil(r) {
			deps = append(deps, r)
		}
	}
	for _, ra := range w.RoleAssignments {
		deps = append(deps, ra)
	}
	for _, fic := range w.MoreFederatedCredentials {
		deps = append(deps, fic)
	}
	for _, role := range []*authorization.RoleDefinition{w.VMSizeRole, w.ImageReadRole} {
		if role != nil {
			deps = append(deps, role)
		}
	}
	return deps
}

// identityRole is one role CAA holds, and on what.
type identityRole struct {
	suffix string
	role   pulumi.StringInput
	scope  pulumi.StringInput
}

// NewWorkloadIdentity creates the identity, grants Virtual Machine
// Contributor and Reader on the pod VM resource group and the subnet join
// role on the peer-pod subnet, and federates the identity with CAA's
// service account.
func NewWorkloadIdentity(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, opts ...pulumi.ResourceOption) (*WorkloadIdentity, error) {
	if args == nil || args.ResourceGroupName == nil || args.IdentityName == nil || args.PodVMResourceGroupID == nil ||
		args.PeerPodSubnetID == nil || args.SubnetRoleID == nil || args.SubscriptionID == nil ||
		(args.ServicePrincipal == nil && (args.OIDCIssuerURL == nil || args.Subject == nil)) {
		return nil, fmt.Errorf("workload identity %q: every field but Location and Tags is required", name)
	}
	w := &WorkloadIdentity{}
	if err := ctx.RegisterComponentResource("caa-azure:infra:WorkloadIdentity", name, w, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)

	principalID, err := w.createPrincipal(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	if err := w.grantRoles(ctx, name, args, principalID, parent); err != nil {
		return nil, err
	}
	if args.GrantVMSizeRead {
		if err := w.grantVMSizeRead(ctx, name, args, principalID, parent); err != nil {
			return nil, err
		}
	}
	if args.ImageRead != nil {
		if err := w.grantImageRead(ctx, name, args.ImageRead, principalID, parent); err != nil {
			return nil, err
		}
	}
	w.PrincipalID = principalID
	if w.Identity != nil {
		if err := w.federate(ctx, name, args, parent); err != nil {
			return nil, err
		}
	}
	if err := w.registerOutputs(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// createPrincipal creates what CAA signs in as, a service principal or a
// managed identity, and returns the principal every role is granted to.
func (w *WorkloadIdentity) createPrincipal(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs,
	parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	if sp := args.ServicePrincipal; sp != nil {
		if err := w.createServicePrincipal(ctx, name, sp, parent); err != nil {
			return pulumi.StringOutput{}, err
		}
		return w.ServicePrincipal.ObjectId, nil
	}
	if err := w.createManagedIdentity(ctx, name, args, parent); err != nil {
		return pulumi.StringOutput{}, err
	}
	return w.Identity.PrincipalId, nil
}

// createManagedIdentity creates the user-assigned identity. It has no
// password: ClientSecret is an empty secret so the output is there in both
// modes.
func (w *WorkloadIdentity) createManagedIdentity(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, parent pulumi.ResourceOption) error {
	identity, err := managedidentity.NewUserAssignedIdentity(ctx, name, &managedidentity.UserAssignedIdentityArgs{
		ResourceGroupName: args.ResourceGroupName,
		Location:          args.Location,
		ResourceName:      args.IdentityName,
		Tags:              args.Tags,
	}, parent)
	if err != nil {
		return fmt.Errorf("creating the CAA identity: %w", err)
	}
	w.Identity = identity
	w.ClientID = identity.ClientId
	w.ClientSecret = pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput)
	return nil
}

// grantRoles grants the built-in roles CAA creates pod VMs with, each on
// the narrowest scope that works.
func (w *WorkloadIdentity) grantRoles(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, principalID pulumi.StringOutput,
	parent pulumi.ResourceOption) error {
	for _, r := range []identityRole{
		{"vm-contributor", roleDefinition(args.SubscriptionID, RoleVirtualMachineContributor), args.PodVMResourceGroupID},
		{"reader", roleDefinition(args.SubscriptionID, RoleReader), args.PodVMResourceGroupID},
		{"subnet-join", args.SubnetRoleID, args.PeerPodSubnetID},
	} {
		ra, err := authorization.NewRoleAssignment(ctx, name+"-"+r.suffix, &authorization.RoleAssignmentArgs{
			PrincipalId: principalID,
			// The SDK defaults to User, which fails for managed identities
			// and defeats Azure's handling of Entra replication delay.
			PrincipalType:    authorization.PrincipalTypeServicePrincipal,
			RoleDefinitionId: r.role,
			Scope:            r.scope,
		}, parent)
		if err != nil {
			return fmt.Errorf("granting the CAA identity %s: %w", r.suffix, err)
		}
		w.RoleAssignments = append(w.RoleAssignments, ra)
	}
	return nil
}

// grantVMSizeRead defines a role that may only list VM sizes and grants it
// to CAA on the subscription, the only scope that action has.
func (w *WorkloadIdentity) grantVMSizeRead(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, principalID pulumi.StringOutput,
	parent pulumi.ResourceOption) error {
	if args.VMSizeRoleName == nil {
		return fmt.Errorf("workload identity %q: VMSizeRoleName is required with GrantVMSizeRead", name)
	}
	subscriptionScope := args.SubscriptionID.ToStringOutput().ApplyT(func(sub string) string {
		return "/subscriptions/" + sub
	}).(pulumi.StringOutput)
	role, err := customRole(ctx, name+"-vm-size-reader", args.VMSizeRoleName,
		"Lets cloud-api-adaptor list VM sizes at start-up; nothing else.", subscriptionScope, []string{VMSizeReadAction}, parent)
	if err != nil {
		return fmt.Errorf("creating the VM size reader role: %w", err)
	}
	ra, err := authorization.NewRoleAssignment(ctx, name+"-vm-size-reader", &authorization.RoleAssignmentArgs{
		PrincipalId:      principalID,
		PrincipalType:    authorization.PrincipalTypeServicePrincipal,
		RoleDefinitionId: role.ID().ToStringOutput(),
		Scope:            subscriptionScope,
	}, parent)
	if err != nil {
		return fmt.Errorf("granting the CAA identity the VM size reader role: %w", err)
	}
	w.VMSizeRole = role
	w.RoleAssignments = append(w.RoleAssignments, ra)
	return nil
}

// federate lets CAA's service account, and then each of MoreSubjects, act
// as the managed identity.
func (w *WorkloadIdentity) federate(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, parent pulumi.ResourceOption) error {
	fic, err := managedidentity.NewFederatedIdentityCredential(ctx, name+"-federation", &managedidentity.FederatedIdentityCredentialArgs{
		ResourceGroupName:                       args.ResourceGroupName,
		ResourceName:                            w.Identity.Name,
		FederatedIdentityCredentialResourceName: pulumi.String("cloud-api-adaptor"),
		Issuer:                                  args.OIDCIssuerURL,
		Subject:                                 args.Subject,
		Audiences:                               pulumi.StringArray{pulumi.String(TokenExchangeAudience)},
		// Azure refuses a second credential with the same issuer and
		// subject, so a replacement must delete the old one first.
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return fmt.Errorf("federating the CAA identity: %w", err)
	}
	w.FederatedCredential = fic
	return w.federateMoreSubjects(ctx, name, args, parent)
}

// federateMoreSubjects federates each of MoreSubjects after the one before.
func (w *WorkloadIdentity) federateMoreSubjects(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, parent pulumi.ResourceOption) error {
	// ARM rejects concurrent credential writes on one identity with a
	// 409 that azure-native v2.79.0 does not retry: chain them.
	previous := w.FederatedCredential
	for i, subject := range args.MoreSubjects {
		more, err := managedidentity.NewFederatedIdentityCredential(ctx, fmt.Sprintf("%s-federation-%d", name, i+2), &managedidentity.FederatedIdentityCredentialArgs{
			ResourceGroupName:                       args.ResourceGroupName,
			ResourceName:                            w.Identity.Name,
			FederatedIdentityCredentialResourceName: pulumi.String(fmt.Sprintf("cloud-api-adaptor-%d", i+2)),
			Issuer:                                  args.OIDCIssuerURL,
			Subject:                                 subject,
			Audiences:                               pulumi.StringArray{pulumi.String(TokenExchangeAudience)},
		}, parent, pulumi.DeleteBeforeReplace(true), pulumi.DependsOn([]pulumi.Resource{previous}))
		if err != nil {
			return fmt.Errorf("federating the CAA identity with %d: %w", i+2, err)
		}
		w.MoreFederatedCredentials = append(w.MoreFederatedCredentials, more)
		previous = more
	}
	return nil
}

// registerOutputs completes the component; it comes last, once every
// output is known.
func (w *WorkloadIdentity) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(w, pulumi.Map{
		"clientId":     w.ClientID,
		"principalId":  w.PrincipalID,
		"clientSecret": w.ClientSecret,
	})
}

// grantImageRead defines a role that may only read the pod VM image and
// grants it to CAA on the image itself.
func (w *WorkloadIdentity) grantImageRead(ctx *pulumi.Context, name string, g *ImageReadGrant, principalID pulumi.StringOutput,
	parent pulumi.ResourceOption) error {
	if g.ImageID == "" || g.RoleScope == "" || len(g.Actions) == 0 || g.RoleName == nil {
		return fmt.Errorf("workload identity %q: the image read grant needs an image, a role scope, actions and a role name", name)
	}
	// A role name is unique in the tenant: when the image moves to another
	// group, the old role must go before the new one, of the same name, is
	// defined (Pulumi then replaces the assignment too).
	role, err := customRole(ctx, name+"-image-read", g.RoleName,
		"Lets cloud-api-adaptor create pod VMs from its image; nothing else.", pulumi.String(g.RoleScope).ToStringOutput(),
		g.Actions, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return fmt.Errorf("creating the pod VM image read role: %w", err)
	}
	ra, err := authorization.NewRoleAssignment(ctx, name+"-image-read", &authorization.RoleAssignmentArgs{
		PrincipalId:      principalID,
		PrincipalType:    authorization.PrincipalTypeServicePrincipal,
		RoleDefinitionId: role.ID().ToStringOutput(),
		Scope:            pulumi.String(g.ImageID),
	}, parent)
	if err != nil {
		return fmt.Errorf("granting the CAA identity read on the pod VM image: %w", err)
	}
	w.ImageReadRole = role
	w.RoleAssignments = append(w.RoleAssignments, ra)
	return nil
}

// createServicePrincipal creates the application, its service principal
// and a password that lasts LifetimeHours and changes only with Generation.
func (w *WorkloadIdentity) createServicePrincipal(ctx *pulumi.Context, name string, sp *ServicePrincipalMode, parent pulumi.ResourceOption) error {
	if sp.DisplayName == nil || sp.LifetimeHours <= 0 {
		return fmt.Errorf("workload identity %q: the service principal needs a display name and a lifetime", name)
	}
	app, err := azuread.NewApplication(ctx, name+"-app", &azuread.ApplicationArgs{DisplayName: sp.DisplayName}, parent)
	if err != nil {
		return fmt.Errorf("creating the CAA application: %w", err)
	}
	principal, err := azuread.NewServicePrincipal(ctx, name+"-sp", &azuread.ServicePrincipalArgs{ClientId: app.ClientId}, parent)
	if err != nil {
		return fmt.Errorf("creating the CAA service principal: %w", err)
	}
	password, err := azuread.NewServicePrincipalPassword(ctx, name+"-password", &azuread.ServicePrincipalPasswordArgs{
		ServicePrincipalId: principal.ID().ToStringOutput(),
		DisplayName:        pulumi.String("cloud-api-adaptor"),
		// Relative, so the input is the same on every run; Azure fixes the
		// end date when the password is created.
		EndDateRelative:   pulumi.String(fmt.Sprintf("%dh", sp.LifetimeHours)),
		RotateWhenChanged: pulumi.StringMap{"generation": pulumi.String(fmt.Sprint(sp.Generation))},
	}, parent, pulumi.AdditionalSecretOutputs([]string{"value"}))
	if err != nil {
		return fmt.Errorf("creating the CAA password: %w", err)
	}
	w.Application, w.ServicePrincipal, w.Password = app, principal, password
	w.ClientID = app.ClientId
	w.ClientSecret = pulumi.ToSecret(password.Value).(pulumi.StringOutput)
	return nil
}

// isNil reports whether a resource interface holds a nil pointer.
func isNil(r pulumi.Resource) bool {
	if r == nil {
		return true
	}
	v := reflect.ValueOf(r)
	return v.Kind() == reflect.Ptr && v.IsNil()
}
