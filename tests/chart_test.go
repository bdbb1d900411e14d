package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const tChart = "kubernetes:helm.sh/v4:Chart"

func chartStack(t *testing.T, set map[string]string) *mocks {
	t.Helper()
	cfg := stackConfig(t, "snp")
	cfg["caa-azure:caaSourceDir"] = ""
	cfg["caa-azure:operatorSourceDir"] = ""
	for k, v := range set {
		cfg[k] = v
	}
	m := newMocks()
	deployAndExport(t, "snp", cfg, m)
	return m
}

func TestChartInstall(t *testing.T) {
	m := chartStack(t, map[string]string{"caa-azure:caaVersion": "0.22.0", "caa-azure:podVmImageId": ownPodVMImage})
	clusterName := "caa-" + suffix
	chart := m.one(t, tChart, "caa-peerpods")
	expect(t, "chart", str(t, chart, "chart"), "oci://ghcr.io/confidential-containers/cloud-api-adaptor/charts/peerpods")
	expect(t, "chart version", str(t, chart, "version"), "0.4.0")
	expect(t, "namespace", str(t, chart, "namespace"), ns)
	if !chart.RegisterRPC.GetRemote() {
		t.Error("the chart is a remote component rendered by the provider")
	}
	v := []string{"values"}
	expect(t, "provider", str(t, chart, append(v, "provider")...), "azure")
	expect(t, "image", str(t, chart, append(v, "image", "name")...), "quay.io/confidential-containers/cloud-api-adaptor")
	expect(t, "tag", str(t, chart, append(v, "image", "tag")...), "61b1aba91df646a663e60ab6b55c6a7dc93cd167")
	azure := append(v, "providerConfigs", "azure")
	for k, want := range map[string]string{
		"AZURE_SUBSCRIPTION_ID": subscriptionID,
		"AZURE_REGION":          "eastus",
		"AZURE_INSTANCE_SIZE":   "Standard_DC2as_v5",
		"AZURE_RESOURCE_GROUP":  podVMGroup(t, m),
		"AZURE_SUBNET_ID": "/subscriptions/" + subscriptionID + "/resourceGroups/caa-rg-" + suffix +
			"/providers/Microsoft.Network/virtualNetworks/" + clusterName + "-vnet/subnets/caa-peerpods-snp",
		"AZURE_IMAGE_ID": ownPodVMImage,
		"DISABLECVM":     "false",
		"TAGS":           "caa-azure-stack=caa-azure/snp/" + suffix,
	} {
		expect(t, "providerConfigs.azure."+k, str(t, chart, append(azure, k)...), want)
	}
	if _, ok := prop(t, chart, azure...).ObjectValue()["CLOUD_PROVIDER"]; ok {
		t.Error("CLOUD_PROVIDER is the chart's `provider`, not a providerConfigs key")
	}
	expect(t, "secret mode", str(t, chart, append(v, "secrets", "mode")...), "reference")
	expect(t, "secret name", str(t, chart, append(v, "secrets", "existingSecretName")...), "peer-pods-secret")
	if _, ok := prop(t, chart, v...).ObjectValue()["limit"]; ok {
		t.Error("the chart's top-level `limit` is read by no template; the limit goes in providerConfigs.azure")
	}
	for _, part := range []string{"resourceCtrl", "webhook"} {
		for _, key := range []string{"image", "authProxy"} {
			if _, ok := prop(t, chart, append(v, part)...).ObjectValue()[resource.PropertyKey(key)]; ok {
				t.Errorf("chart 0.4.0 pins %s.%s itself; the program must not override it", part, key)
			}
		}
	}
	client := "client-of-" + clusterName + "-caa"
	for _, part := range []string{"daemonset", "resourceCtrl"} {
		expect(t, part+" WI label", str(t, chart, append(v, part, "podLabels", "azure.workload.identity/use")...), "true")
		expect(t, part+" client id", str(t, chart, append(v, part, "serviceAccount", "annotations", "azure.workload.identity/client-id")...), client)
	}
	if !prop(t, chart, append(v, "resourceCtrl", "enabled")...).BoolValue() {
		t.Error("peerpod-ctrl (the VM garbage collector) must be enabled")
	}
	if prop(t, chart, append(v, "webhook", "enabled")...).BoolValue() || len(m.byType(tChart)) != 1 {
		t.Error("the webhook and cert-manager are off by default")
	}
	secret := m.one(t, tSecret, "caa-"+ns+"/peer-pods-secret")
	expect(t, "secret client id", str(t, secret, "stringData", "AZURE_CLIENT_ID"), client)

	// Nothing of the operator path.
	for _, r := range kubernetesObjects(m) {
		if r.TypeToken == tCcRuntime || r.TypeToken == tDaemonSet || r.TypeToken == tCRD || r.TypeToken == tConfigMap ||
			(r.TypeToken == tDeployment && r.Name != "nginx") {
			t.Errorf("the chart path registered %s %s", r.TypeToken, r.Name)
		}
	}

	// peerpod-ctrl's credential, written after CAA's.
	first := m.one(t, tFederation, "caa-identity-federation")
	second := m.one(t, tFederation, "caa-identity-federation-2")
	expect(t, "peerpod-ctrl subject", str(t, second, "subject"), "system:serviceaccount:confidential-containers-system:peerpodctrl-controller-manager")
	expect(t, "peerpod-ctrl issuer", str(t, second, "issuer"), issuerURL)
	if !dependsOn(second, first) {
		t.Error("the second federated credential must wait for the first (409 on concurrent writes)")
	}
	for _, fic := range m.byType(tFederation) {
		if !fic.RegisterRPC.GetDeleteBeforeReplace() {
			t.Errorf("%s must be deleted before it is replaced: Azure refuses a second credential with its issuer and subject", fic.Name)
		}
	}

	// Order: the chart after CAA's Azure rights and secret; the sample after the chart.
	nginx := m.one(t, tDeployment, "nginx")
	for _, dep := range []pulumi.MockResourceArgs{chart, secret, first, second, m.one(t, tRoleAssignment, "caa-identity-vm-contributor"),
		m.one(t, tSubnet, "network-peerpods"), m.one(t, tNat, "network-nat")} {
		if !dependsOn(nginx, dep) {
			t.Errorf("NginxSample does not wait for %s %s: destroy could remove it while the pod VM exists", dep.TypeToken, dep.Name)
		}
	}
	for _, dep := range []pulumi.MockResourceArgs{secret, first, second, m.one(t, tNamespace, "caa-"+ns)} {
		if !dependsOn(chart, dep) {
			t.Errorf("the chart does not wait for %s %s", dep.TypeToken, dep.Name)
		}
	}
	expect(t, "runtime class", str(t, nginx, "spec", "template", "spec", "runtimeClassName"), "kata-remote")
}

func TestChartOlderReleasesAndWebhook(t *testing.T) {
	m := chartStack(t, map[string]string{"caa-azure:caaVersion": "0.19.0", "caa-azure:webhook": "true"})
	chart := m.one(t, tChart, "caa-peerpods")
	expect(t, "chart version", str(t, chart, "version"), "0.1.3")
	if _, ok := prop(t, chart, "values", "daemonset").ObjectValue()["serviceAccount"]; ok {
		t.Error("chart 0.1.3 has no daemonset.serviceAccount; the client id goes through peer-pods-secret")
	}
	if len(m.byType(tFederation)) != 1 {
		t.Error("peerpod-ctrl cannot use workload identity before chart 0.3.0: no second credential")
	}
	certManager := m.one(t, tChart, "caa-cert-manager")
	expect(t, "cert-manager chart", str(t, certManager, "chart"), "oci://quay.io/jetstack/charts/cert-manager")
	// Without its CRDs cert-manager runs but no Certificate can exist, so the
	// webhook never gets its serving certificate.
	if crds := prop(t, certManager, "values", "crds", "enabled"); !crds.IsBool() || !crds.BoolValue() {
		t.Errorf("cert-manager must install its CRDs (crds.enabled true): %v", crds)
	}
	if !dependsOn(chart, certManager) || !prop(t, chart, "values", "webhook", "enabled").BoolValue() {
		t.Error("with webhook true, cert-manager is installed first and the webhook enabled")
	}

	// A local chart directory instead of the published chart.
	m = chartStack(t, map[string]string{"caa-azure:caaVersion": "0.22.0", "caa-azure:podVmImageId": ownPodVMImage,
		"caa-azure:caaSourceDir": "fixtures/cloud-api-adaptor/src/cloud-api-adaptor"})
	chart = m.one(t, tChart, "caa-peerpods")
	expect(t, "local chart", str(t, chart, "chart"), "fixtures/cloud-api-adaptor/src/cloud-api-adaptor/install/charts/peerpods")
	if _, ok := chart.Inputs["version"]; ok || !prop(t, chart, "dependencyUpdate").BoolValue() {
		t.Error("a local chart has no version and needs its dependencies fetched")
	}

	// The operator path registers no chart.
	m = newMocks()
	deployAndExport(t, "snp", stackConfig(t, "snp"), m)
	if len(m.byType(tChart)) != 0 {
		t.Error("caaVersion 0.10.0 must not install the chart")
	}
}

// TestChartValuesLandWhereTheChartReadsThem: the per-node limit reaches
// peer-pods-cm through providerConfigs.azure; a custom image is split into
// the chart's name and tag; 0.18.0's subcharts are pinned and repaired.
func TestChartValuesLandWhereTheChartReadsThem(t *testing.T) {
	m := chartStack(t, map[string]string{"caa-azure:caaVersion": "0.18.0", "caa-azure:peerpodsLimitPerNode": "4",
		"caa-azure:caaImage": "example.azurecr.io/caa:v9"})
	chart := m.one(t, tChart, "caa-peerpods")
	v := []string{"values"}
	expect(t, "PEERPODS_LIMIT_PER_NODE", str(t, chart, "values", "providerConfigs", "azure", "PEERPODS_LIMIT_PER_NODE"), "4")
	expect(t, "image name", str(t, chart, append(v, "image", "name")...), "example.azurecr.io/caa")
	expect(t, "image tag", str(t, chart, append(v, "image", "tag")...), "v9")
	for _, part := range []string{"resourceCtrl", "webhook"} {
		expect(t, part+" image tag", str(t, chart, append(v, part, "image", "tag")...), "a5f492482236b9fc4a77088efe6b4c2159ae6a03")
		expect(t, part+" kube-rbac-proxy", str(t, chart, append(v, part, "authProxy", "image")...), "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.14.0")
	}

	digest := "sha256:" + strings.Repeat("c", 64)
	m = chartStack(t, map[string]string{"caa-azure:caaVersion": "0.20.0", "caa-azure:caaTag": "v0.20.0@" + digest})
	chart = m.one(t, tChart, "caa-peerpods")
	expect(t, "digest rides on the tag", str(t, chart, append(v, "image", "tag")...), "v0.20.0@"+digest)
}
