package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-azuread/sdk/v5/go/azuread"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra"
)

// azureCLIAppID is the Azure CLI's public client id: a deployer logged in
// with `az login` is a user; anything else (CI) is a service principal.
const azureCLIAppID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// entraAccess resolves who administers an Entra ID-only cluster: the
// deploying principal and the configured groups, looked up before anything
// is created. It also checks that kubelogin, which the program's own
// Kubernetes provider runs, is installed.
func entraAccess(ctx *pulumi.Context, cfg *Config, lookPath func(string) (string, error), env func(string) (string, bool)) (*infra.EntraAccess, error) {
	if cfg.ClusterAuth != ClusterAuthEntra {
		return nil, nil
	}
	errs := &reader{}
	if _, err := lookPath("kubelogin"); err != nil {
		errs.fail(keyClusterAuth, "is entra, which needs kubelogin on PATH to reach the cluster, but it was not found; install it "+
			"(`az aks install-cli` installs kubectl and kubelogin) or use clusterAuth local")
	}
	me, err := azuread.GetClientConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the deploying principal from Entra ID (clusterAuth entra grants it cluster admin): %w; "+
			"check that the azuread provider is signed in (`az login`, or the ARM_* variables) and may read its own principal", err)
	}
	kind := "ServicePrincipal"
	if me.ClientId == azureCLIAppID {
		kind = "User"
	}
	access := &infra.EntraAccess{
		// The deployer is an admin by default, and stays the one the first
		// up granted: a colleague's or CI's later run neither replaces the
		// grant (the first admin would lose access) nor shows a diff.
		Admins:    []infra.Principal{{ObjectID: me.ObjectId, Type: kind, Label: "deployer", KeepFirst: true}},
		LoginMode: infra.KubeloginMode(func(name string) string { v, _ := env(name); return v }),
	}
	for _, a := range cfg.ClusterAdmins {
		access.Admins = append(access.Admins, infra.Principal{ObjectID: a.ObjectID, Type: a.Type, Label: "id-" + a.ObjectID})
	}
	for _, name := range cfg.ClusterAdminGroups {
		g, err := azuread.LookupGroup(ctx, &azuread.LookupGroupArgs{DisplayName: &name})
		if err != nil || g == nil || g.ObjectId == "" {
			errs.fail(keyClusterAdminGroups, "Entra group %q was not found (%v); check the display name with "+
				"`az ad group show --group %q`", name, firstLine(err), name)
			continue
		}
		access.Admins = append(access.Admins, infra.Principal{ObjectID: g.ObjectId, Type: "Group", Label: adminGroupLabel(name)})
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return access, nil
}

// firstLine is an error's first line ("no such group" without one): Entra
// errors carry a long trace after it.
func firstLine(err error) string {
	if err == nil {
		return "no such group"
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
