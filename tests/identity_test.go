package tests

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/stack"
)

const (
	tApplication = "azuread:index/application:Application"
	tSP          = "azuread:index/servicePrincipal:ServicePrincipal"
	tPassword    = "azuread:index/servicePrincipalPassword:ServicePrincipalPassword"
)

func deployModes(t *testing.T, set map[string]string, kubelogin bool) (*mocks, outputs, error) {
	cfg := stackConfig(t, "snp")
	for k, v := range set {
		cfg[k] = v
	}
	m := newMocks()
	out := outputs{}
	err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
		_, err := stack.DeployWith(ctx, stack.Options{LookPath: func(string) (string, error) {
			if kubelogin {
				return "/usr/local/bin/kubelogin", nil
			}
			return "", errors.New("not found")
		}})
		if err != nil {
			return err
		}
		return awaitExports(ctx, out)
	})
	return m, out, err
}

func TestEntraOnlyClusterAccess(t *testing.T) {
	m, out, err := deployModes(t, map[string]string{"caa-azure:clusterAuth": "entra", "caa-azure:clusterAdminGroups": "aks-admins",
		"caa-azure:clusterAdmins": "servicePrincipal:AAAAAAAA-0000-0000-0000-000000000001"}, true)
	if err != nil {
		t.Fatal(err)
	}
	aks := m.one(t, tCluster, "cluster-aks")
	if !prop(t, aks, "disableLocalAccounts").BoolValue() {
		t.Error("local accounts must be disabled")
	}
	if !prop(t, aks, "aadProfile", "managed").BoolValue() || !prop(t, aks, "aadProfile", "enableAzureRBAC").BoolValue() {
		t.Error("AKS-managed Entra ID with Azure RBAC must be on")
	}
	clusterID := "/subscriptions/" + subscriptionID + "/resourceGroups/caa-rg-" + suffix + "/providers/Microsoft.ContainerService/managedClusters/caa-" + suffix
	admin := roleID("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b")
	for name, want := range map[string][2]string{
		"cluster-rbac-cluster-admin-deployer":         {"deployer-object", "User"},
		"cluster-rbac-cluster-admin-group-aks-admins": {"group-object", "Group"},
		// An explicit admin, by object id: the id is the resource's stable name.
		"cluster-rbac-cluster-admin-id-aaaaaaaa-0000-0000-0000-000000000001": {"aaaaaaaa-0000-0000-0000-000000000001", "ServicePrincipal"},
	} {
		ra := m.one(t, tRoleAssignment, name)
		expect(t, name+" principal", str(t, ra, "principalId"), want[0])
		expect(t, name+" type", str(t, ra, "principalType"), want[1])
		expect(t, name+" role", str(t, ra, "roleDefinitionId"), admin)
		expect(t, name+" scope", str(t, ra, "scope"), clusterID)
		if !dependsOn(m.one(t, tK8sProvider, "cluster-k8s"), ra) {
			t.Errorf("the provider does not wait for %s: its first call would be forbidden", name)
		}
		// The deployer is whoever ran the first up: a later run by anyone
		// else keeps that grant (no replace, no diff); groups follow config.
		ignored := strings.Join(ra.RegisterRPC.GetIgnoreChanges(), ",")
		if want := map[bool]string{true: "principalId,principalType", false: ""}[name == "cluster-rbac-cluster-admin-deployer"]; ignored != want {
			t.Errorf("%s ignores changes to %q, want %q", name, ignored, want)
		}
	}
	kc := out["kubeconfig"]
	s, _ := kc.Value.(string)
	if kc.Secret || !strings.HasPrefix(s, "# This kubeconfig holds no credential") || !strings.Contains(s, "- azurecli") || strings.Contains(s, "devicecode") {
		t.Errorf("kubeconfig output must be the exec form with the Azure CLI login, not secret:\n%v %s", kc.Secret, s)
	}
	prov := m.one(t, tK8sProvider, "cluster-k8s")
	if kv := prop(t, prov, "kubeconfig"); !strings.Contains(asString(kv.Mappable()), "kubelogin") {
		t.Errorf("the provider must use the exec kubeconfig: %v", kv)
	}

	// Local mode has neither.
	m, out, err = deployModes(t, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if prop(t, m.one(t, tCluster, "cluster-aks"), "disableLocalAccounts").BoolValue() || !out["kubeconfig"].Secret {
		t.Error("local mode keeps local accounts and a secret kubeconfig")
	}
}

func TestServicePrincipalMode(t *testing.T) {
	m, out, err := deployModes(t, map[string]string{"caa-azure:caaAuth": "servicePrincipal"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{tFederation, tIdentity + "::caa-identity"} {
		for _, r := range m.resources {
			if r.TypeToken+"::"+r.Name == absent || (r.TypeToken == absent) {
				t.Errorf("service-principal mode registered %s %s", r.TypeToken, r.Name)
			}
		}
	}
	// docs/configuration.md tells users to find it by this name.
	expect(t, "application name", str(t, m.one(t, tApplication, "caa-identity-app"), "displayName"), "caa-azure cloud-api-adaptor (caa-azure/snp)")
	m.one(t, tSP, "caa-identity-sp")
	pw := m.one(t, tPassword, "caa-identity-password")
	expect(t, "lifetime", str(t, pw, "endDateRelative"), "2160h")
	expect(t, "generation", str(t, pw, "rotateWhenChanged", "generation"), "1")

	secret := m.one(t, tSecret, "caa-"+ns+"/peer-pods-secret")
	data := prop(t, secret, "stringData")
	if !data.IsSecret() {
		t.Fatal("peer-pods-secret's credentials are not a Pulumi secret")
	}
	values := data.SecretValue().Element.ObjectValue()
	for k, want := range map[string]string{"AZURE_CLIENT_ID": "app-client-id", "AZURE_CLIENT_SECRET": fakePassword, "AZURE_TENANT_ID": tenantID} {
		v := values[resource.PropertyKey(k)]
		if v.IsSecret() {
			v = v.SecretValue().Element
		}
		expect(t, "peer-pods-secret "+k, v.StringValue(), want)
	}
	if _, ok := prop(t, m.one(t, tSA, "caa-"+ns+"/cloud-api-adaptor"), "metadata").ObjectValue()["annotations"]; ok {
		t.Error("no workload-identity annotation in service-principal mode")
	}
	labels := prop(t, m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset"), "spec", "template", "metadata", "labels").ObjectValue()
	if _, ok := labels["azure.workload.identity/use"]; ok {
		t.Error("no workload-identity label in service-principal mode")
	}
	expect(t, "identityClientId export", out["identityClientId"].Value.(string), "app-client-id")
	for k, v := range out {
		if k != "kubeconfig" && strings.Contains(asString(v.Value), fakePassword) {
			t.Errorf("export %s leaks the password", k)
		}
	}

	// The same roles, on the same scopes, as with workload identity.
	scopes := func(m *mocks, principal string) string {
		var rows []string
		for _, ra := range m.byType(tRoleAssignment) {
			if str(t, ra, "principalId") == principal {
				rows = append(rows, strings.TrimPrefix(ra.Name, "caa-identity-")+" "+str(t, ra, "scope")+" "+str(t, ra, "principalType"))
			}
		}
		sort.Strings(rows)
		b, _ := json.Marshal(rows)
		return string(b)
	}
	wi, _, err := deployModes(t, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := scopes(m, "sp-object-id"), scopes(wi, "principal-of-caa-"+suffix+"-caa"); a != b || a == "null" {
		t.Errorf("role scopes differ between modes:\nsp: %s\nwi: %s", a, b)
	}
}

func TestPasswordRotatesOnlyOnDemand(t *testing.T) {
	inputs := func(generation string) string {
		set := map[string]string{"caa-azure:caaAuth": "servicePrincipal"}
		if generation != "" {
			set["caa-azure:credentialGeneration"] = generation
		}
		m, _, err := deployModes(t, set, false)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m.one(t, tPassword, "caa-identity-password").Inputs.Mappable())
		return string(b)
	}
	first, second := inputs(""), inputs("")
	if first != second {
		t.Errorf("the password's inputs changed between two runs: it would be replaced\n%s\n%s", first, second)
	}
	if rotated := inputs("2"); rotated == first || !strings.Contains(rotated, `"generation":"2"`) {
		t.Errorf("bumping credentialGeneration must change the password's rotateWhenChanged: %s", rotated)
	}
}
