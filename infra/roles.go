package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Built-in Azure role ids ("Azure built-in roles", Microsoft Learn); they are
// the same in every public-cloud tenant.
const (
	RoleVirtualMachineContributor = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
	RoleReader                    = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	RoleAKSRBACClusterAdmin       = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
)

// RoleDefinitionID is the subscription-qualified id of a built-in role: the
// form Azure returns on read, so a refresh shows no drift.
func RoleDefinitionID(subscriptionID, role string) string {
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", subscriptionID, role)
}

// customRole defines a role of the stack's own that allows only actions,
// defined and assignable at scope.
func customRole(ctx *pulumi.Context, name string, roleName pulumi.StringInput, description string, scope pulumi.StringOutput,
	actions []string, opts ...pulumi.ResourceOption) (*authorization.RoleDefinition, error) {
	return authorization.NewRoleDefinition(ctx, name, &authorization.RoleDefinitionArgs{
		RoleName:         roleName,
		Description:      pulumi.String(description),
		RoleType:         pulumi.String("CustomRole"),
		Scope:            scope,
		AssignableScopes: pulumi.StringArray{scope},
		Permissions:      authorization.PermissionArray{&authorization.PermissionArgs{Actions: pulumi.ToStringArray(actions)}},
	}, opts...)
}
