package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	tCAARelease  = "caa-azure:caa:CAARelease"
	tNginx       = "caa-azure:workload:NginxSample"
	tNamespace   = "kubernetes:core/v1:Namespace"
	tCRD         = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
	tDeployment  = "kubernetes:apps/v1:Deployment"
	tDaemonSet   = "kubernetes:apps/v1:DaemonSet"
	tConfigMap   = "kubernetes:core/v1:ConfigMap"
	tSecret      = "kubernetes:core/v1:Secret"
	tSA          = "kubernetes:core/v1:ServiceAccount"
	tCcRuntime   = "kubernetes:confidentialcontainers.org/v1beta1:CcRuntime"
	tClusterRole = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
	tCRB         = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
	ns           = "confidential-containers-system"
)

// kubernetesObjects are every Kubernetes resource a run registered.
func kubernetesObjects(m *mocks) []pulumi.MockResourceArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []pulumi.MockResourceArgs
	for _, r := range m.resources {
		if strings.HasPrefix(r.TypeToken, "kubernetes:") {
			out = append(out, r)
		}
	}
	return out
}

func TestKubernetesHalf(t *testing.T) {
	for _, s := range stackFiles {
		t.Run(s.name, func(t *testing.T) {
			m := newMocks()
			deployAndExport(t, s.name, stackConfig(t, s.name), m)
			rgName := "caa-rg-" + suffix
			clusterName := "caa-" + suffix
			release := m.one(t, tCAARelease, "caa")
			sampleC := m.one(t, tNginx, "nginx")

			// The operator, repaired.
			namespace := m.one(t, tNamespace, "caa-"+ns)
			crd := m.one(t, tCRD, "caa-ccruntimes.confidentialcontainers.org")
			operator := m.one(t, tDeployment, "caa-"+ns+"/cc-operator-controller-manager")
			images := map[string]string{}
			for _, c := range prop(t, operator, "spec", "template", "spec", "containers").ArrayValue() {
				images[c.ObjectValue()["name"].StringValue()] = c.ObjectValue()["image"].StringValue()
			}
			expect(t, "operator sidecar", images["kube-rbac-proxy"], "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.14.0")
			expect(t, "operator image", images["manager"], "quay.io/confidential-containers/operator:v0.10.0")
			if _, null := prop(t, crd, "metadata").ObjectValue()["creationTimestamp"]; null {
				t.Error("null fields must not be sent")
			}

			// The peer-pods runtime.
			ccr := m.one(t, tCcRuntime, "caa-ccruntime-peer-pods")
			expect(t, "CcRuntime waitFor", str(t, ccr, "metadata", "annotations", "pulumi.com/waitFor"), "jsonpath={.status.runtimeClass}=kata-remote")
			expect(t, "CcRuntime timeout", str(t, ccr, "metadata", "annotations", "pulumi.com/timeoutSeconds"), "1200")

			// CAA and the guide's overlay.
			cm := m.one(t, tConfigMap, "caa-"+ns+"/peer-pods-cm")
			expect(t, "configmap namespace", str(t, cm, "metadata", "namespace"), ns)
			wantData := map[string]string{
				"CLOUD_PROVIDER":        "azure",
				"AZURE_SUBSCRIPTION_ID": subscriptionID,
				"AZURE_REGION":          s.location,
				"AZURE_INSTANCE_SIZE":   s.size,
				"AZURE_RESOURCE_GROUP":  podVMGroup(t, m),
				"AZURE_SUBNET_ID": "/subscriptions/" + subscriptionID + "/resourceGroups/" + rgName +
					"/providers/Microsoft.Network/virtualNetworks/" + clusterName + "-vnet/subnets/caa-peerpods-" + s.name,
				"AZURE_IMAGE_ID": "/CommunityGalleries/cococommunity-42d8482d-92cd-415b-b332-7648bd978eff/Images/peerpod-podvm-ubuntu2204-cvm-snp/Versions/0.10.0",
				"DISABLECVM":     s.disableCvm,
				"TAGS":           "caa-azure-stack=caa-azure/" + s.name + "/" + suffix,
			}
			data := prop(t, cm, "data").ObjectValue()
			if len(data) != len(wantData) {
				t.Errorf("peer-pods-cm has %d keys, want exactly %d: %v", len(data), len(wantData), data)
			}
			for k, want := range wantData {
				expect(t, "peer-pods-cm "+k, str(t, cm, "data", k), want)
			}
			sa := m.one(t, tSA, "caa-"+ns+"/cloud-api-adaptor")
			expect(t, "SA client id", str(t, sa, "metadata", "annotations", "azure.workload.identity/client-id"), "client-of-"+clusterName+"-caa")
			ds := m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset")
			expect(t, "DaemonSet WI label", str(t, ds, "spec", "template", "metadata", "labels", "azure.workload.identity/use"), "true")
			expect(t, "CAA image", str(t, ds, "spec", "template", "spec", "containers", "0", "image"),
				"quay.io/confidential-containers/cloud-api-adaptor:v0.10.0-amd64")
			secret := m.one(t, tSecret, "caa-"+ns+"/peer-pods-secret")
			if _, has := secret.Inputs["data"]; has {
				t.Error("peer-pods-secret must be empty with workload identity")
			}
			sshSecret := m.one(t, tSecret, "caa-"+ns+"/ssh-key-secret")
			expect(t, "ssh-key-secret", str(t, sshSecret, "stringData", "id_rsa.pub"), strings.Join(strings.Fields(testSSHKey(t))[:2], " "))
			for _, r := range kubernetesObjects(m) {
				if r.TypeToken == "kubernetes:node.k8s.io/v1:RuntimeClass" {
					t.Error("the RuntimeClass is the operator's; declaring it fails with AlreadyExists")
				}
			}

			// The sample.
			nginx := m.one(t, tDeployment, "nginx")
			expect(t, "sample name", str(t, nginx, "metadata", "name"), "nginx")
			expect(t, "sample namespace", str(t, nginx, "metadata", "namespace"), "default")
			expect(t, "sample selector", str(t, nginx, "spec", "selector", "matchLabels", "app"), "nginx")
			expect(t, "sample pod label", str(t, nginx, "spec", "template", "metadata", "labels", "app"), "nginx")
			expect(t, "runtime class", str(t, nginx, "spec", "template", "spec", "runtimeClassName"), "kata-remote")
			container := []string{"spec", "template", "spec", "containers", "0"}
			expect(t, "container", str(t, nginx, append(container, "name")...), "nginx")
			expect(t, "image", str(t, nginx, append(container, "image")...), "nginx")
			expect(t, "pull policy", str(t, nginx, append(container, "imagePullPolicy")...), "Always")
			if p := prop(t, nginx, append(container, "ports", "0", "containerPort")...); p.NumberValue() != 80 {
				t.Errorf("port = %v", p)
			}
			if r := prop(t, nginx, "spec", "replicas"); r.NumberValue() != 1 {
				t.Errorf("replicas = %v", r)
			}
			expect(t, "deletion", str(t, nginx, "metadata", "annotations", "pulumi.com/deletionPropagationPolicy"), "foreground")
			if to := nginx.RegisterRPC.GetCustomTimeouts(); to.GetCreate() != "20m" || to.GetDelete() != "20m" {
				t.Errorf("sample timeouts = %v, want 20m to create and delete", to)
			}

			// Parents and provider.
			prov := m.one(t, tK8sProvider, "cluster-k8s")
			for _, r := range kubernetesObjects(m) {
				if !strings.Contains(r.Provider, "::cluster-k8s::") {
					t.Errorf("%s %s does not use the cluster's provider (%q)", r.TypeToken, r.Name, r.Provider)
				}
				want := urn(release)
				if r.Name == "nginx" {
					want = urn(sampleC)
				}
				if !strings.HasSuffix(r.RegisterRPC.GetParent(), want) {
					t.Errorf("%s %s has parent %s, want %s", r.TypeToken, r.Name, r.RegisterRPC.GetParent(), want)
				}
			}
			_ = prov

			// Destroy order.
			var roles []pulumi.MockResourceArgs
			for _, n := range []string{"caa-identity-vm-contributor", "caa-identity-reader", "caa-identity-subnet-join"} {
				roles = append(roles, m.one(t, tRoleAssignment, n))
			}
			azure := map[string]pulumi.MockResourceArgs{
				"the CAA identity":                m.one(t, tIdentity, "caa-identity"),
				"the federated credential":        m.one(t, tFederation, "caa-identity-federation"),
				"the peer-pod subnet":             m.one(t, tSubnet, "network-peerpods"),
				"the NAT gateway":                 m.one(t, tNat, "network-nat"),
				"the VM Contributor role":         roles[0],
				"the Reader role":                 roles[1],
				"the subnet join role assignment": roles[2],
				"the pod VM resource group":       m.one(t, tResourceGroup, "network-podvms"),
			}
			caaObjects := []pulumi.MockResourceArgs{cm, sa, ds, secret, sshSecret,
				m.one(t, tClusterRole, "caa-node-viewer"), m.one(t, tCRB, "caa-node-viewer")}
			for what, dep := range azure {
				if !dependsOn(nginx, dep) {
					t.Errorf("NginxSample does not wait for %s: destroy could remove it while the pod VM exists", what)
				}
				for _, o := range caaObjects {
					if !dependsOn(o, dep) {
						t.Errorf("CAA object %s does not wait for %s: destroy could remove it while CAA runs", o.Name, what)
					}
				}
			}
			if !dependsOn(nginx, ccr) {
				t.Error("NginxSample does not wait for the CcRuntime: it could start before kata-remote exists")
			}
			for _, o := range caaObjects {
				if !dependsOn(nginx, o) {
					t.Errorf("NginxSample does not wait for CAA object %s: destroy could stop CAA before the pod VM is deleted", o.Name)
				}
				for _, op := range []pulumi.MockResourceArgs{namespace, operator} {
					if !dependsOn(o, op) {
						t.Errorf("CAA object %s does not wait for %s %s", o.Name, op.TypeToken, op.Name)
					}
				}
			}
			if !dependsOn(ds, ccr) {
				t.Error("the CAA DaemonSet does not wait for the CcRuntime (the guide installs the runtime first)")
			}
			for _, o := range []pulumi.MockResourceArgs{cm, sa, secret, sshSecret} {
				if !dependsOn(ds, o) {
					t.Errorf("the CAA DaemonSet does not wait for %s, which it reads at start", o.Name)
				}
			}
			for _, op := range []pulumi.MockResourceArgs{namespace, crd, operator} {
				if !dependsOn(ccr, op) {
					t.Errorf("the CcRuntime does not wait for %s: its finalizer needs the operator on delete", op.Name)
				}
			}
			if !dependsOn(operator, namespace) {
				t.Error("the operator Deployment does not wait for its namespace")
			}
			if !dependsOn(prov, m.one(t, tCluster, "cluster-aks")) {
				t.Error("the provider (and so every Kubernetes object) does not wait for the cluster")
			}
		})
	}
}

func TestSampleCanBeDisabledAndTuned(t *testing.T) {
	cfg := stackConfig(t, "nonconf")
	cfg["caa-azure:sample"] = "false"
	m := newMocks()
	deployAndExport(t, "nonconf", cfg, m)
	if n := len(m.byType(tNginx)); n != 0 {
		t.Errorf("sample false still registered %d samples", n)
	}
	m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset")

	cfg = stackConfig(t, "snp")
	cfg["caa-azure:sampleImage"] = "nginx:1.27"
	cfg["caa-azure:sampleReplicas"] = "3"
	cfg["caa-azure:peerpodsLimitPerNode"] = "4"
	cfg["caa-azure:instanceSizes"] = "Standard_DC2as_v5, Standard_DC4as_v5"
	cfg["caa-azure:enableSecureBoot"] = "true"
	cfg["caa-azure:podVmTags"] = `{"team":"alpha","cost":"42"}`
	cfg["caa-azure:caaTag"] = "v0.10.0-dev"
	cfg["caa-azure:podVmImageId"] = "/subscriptions/" + subscriptionID + "/resourceGroups/img/providers/Microsoft.Compute/images/podvm"
	m = newMocks()
	deployAndExport(t, "snp", cfg, m)
	nginx := m.one(t, tDeployment, "nginx")
	expect(t, "image", str(t, nginx, "spec", "template", "spec", "containers", "0", "image"), "nginx:1.27")
	if r := prop(t, nginx, "spec", "replicas"); r.NumberValue() != 3 {
		t.Errorf("replicas = %v", r)
	}
	cm := m.one(t, tConfigMap, "caa-"+ns+"/peer-pods-cm")
	for k, want := range map[string]string{
		"PEERPODS_LIMIT_PER_NODE": "4",
		"AZURE_INSTANCE_SIZES":    "Standard_DC2as_v5,Standard_DC4as_v5",
		"ENABLE_SECURE_BOOT":      "true",
		"TAGS":                    "caa-azure-stack=caa-azure/snp/" + suffix + ",cost=42,team=alpha",
		"AZURE_IMAGE_ID":          "/subscriptions/" + subscriptionID + "/resourceGroups/img/providers/Microsoft.Compute/images/podvm",
	} {
		expect(t, k, str(t, cm, "data", k), want)
	}
	expect(t, "CAA tag", str(t, m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset"),
		"spec", "template", "spec", "containers", "0", "image"), "quay.io/confidential-containers/cloud-api-adaptor:v0.10.0-dev")
}
