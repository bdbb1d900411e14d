package caa

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"caa-azure/caa/upstream"
)

var fixtures = Sources{
	CAADir:      "../tests/fixtures/cloud-api-adaptor/src/cloud-api-adaptor",
	OperatorDir: "../tests/fixtures/operator",
}

func renderFixtures(t *testing.T, opts RenderOptions) *Manifests {
	t.Helper()
	m, err := Render(fixtures, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func find(t *testing.T, objs []Object, kind, key string) Object {
	t.Helper()
	for _, o := range objs {
		if kindOf(o) == kind && ObjectKey(o) == key {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, key)
	return nil
}

func TestRenderOperatorRepairsSidecar(t *testing.T) {
	m := renderFixtures(t, RenderOptions{RBACProxyImage: upstream.DefaultRBACProxyImage})
	dep := find(t, m.Operator, "Deployment", "confidential-containers-system/cc-operator-controller-manager")
	images := map[string]string{}
	for _, c := range Containers(dep) {
		images[c["name"].(string)] = c["image"].(string)
	}
	if images["kube-rbac-proxy"] != "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.14.0" {
		t.Errorf("sidecar image = %q, want the registry.k8s.io replacement", images["kube-rbac-proxy"])
	}
	if images["manager"] != "quay.io/confidential-containers/operator:v0.10.0" {
		t.Errorf("manager image = %q: the release kustomization's tag must still apply", images["manager"])
	}
	find(t, m.Operator, "Namespace", "confidential-containers-system")
	// Null fields such as the CRD's creationTimestamp are dropped when the
	// object is registered (TestKubernetesHalf checks that).
	find(t, m.Operator, "CustomResourceDefinition", "ccruntimes.confidentialcontainers.org")

	custom := renderFixtures(t, RenderOptions{RBACProxyImage: "mirror.example.com/kube-rbac-proxy:v0.14.0"})
	for _, c := range Containers(find(t, custom.Operator, "Deployment", "confidential-containers-system/cc-operator-controller-manager")) {
		if c["name"] == "kube-rbac-proxy" && c["image"] != "mirror.example.com/kube-rbac-proxy:v0.14.0" {
			t.Errorf("rbacProxyImage not honoured: %v", c["image"])
		}
	}
}

func TestRenderCcRuntimeWaitsForRuntimeClass(t *testing.T) {
	m := renderFixtures(t, RenderOptions{RuntimeClassWaitTimeout: 1200})
	if nameOf(m.CcRuntime) != "ccruntime-peer-pods" || kindOf(m.CcRuntime) != "CcRuntime" {
		t.Fatalf("CcRuntime = %s %s", kindOf(m.CcRuntime), nameOf(m.CcRuntime))
	}
	ann := mapAt(m.CcRuntime, "metadata", "annotations")
	if ann[WaitForAnnotation] != "jsonpath={.status.runtimeClass}=kata-remote" {
		t.Errorf("waitFor = %v", ann[WaitForAnnotation])
	}
	if ann[TimeoutAnnotation] != "1200" {
		t.Errorf("timeout = %v", ann[TimeoutAnnotation])
	}
}

func TestRenderCAAOverlay(t *testing.T) {
	m := renderFixtures(t, RenderOptions{CAAImage: "quay.io/confidential-containers/cloud-api-adaptor:v0.10.0-amd64"})
	ds := find(t, m.CAA, "DaemonSet", "confidential-containers-system/cloud-api-adaptor-daemonset")
	if got := Containers(ds)[0]["image"]; got != "quay.io/confidential-containers/cloud-api-adaptor:v0.10.0-amd64" {
		t.Errorf("CAA image = %v", got)
	}
	labels := mapAt(ds, "spec", "template", "metadata", "labels")
	if labels["azure.workload.identity/use"] != "true" || labels["app"] != "cloud-api-adaptor" {
		t.Errorf("pod labels = %v", labels)
	}
	find(t, m.CAA, "ServiceAccount", "confidential-containers-system/cloud-api-adaptor")
	for _, o := range append(append([]Object{}, m.Operator...), m.CAA...) {
		if kindOf(o) == "RuntimeClass" {
			t.Error("the operator creates the RuntimeClass; it must not be declared")
		}
	}
}

func TestRenderRejectsBadSources(t *testing.T) {
	tmp := t.TempDir()
	for name, c := range map[string]struct {
		src  Sources
		want string
	}{
		"missing operator": {Sources{CAADir: fixtures.CAADir, OperatorDir: filepath.Join(tmp, "nope")}, "is not a directory"},
		"caa root instead of subdir": {Sources{CAADir: "../tests/fixtures/cloud-api-adaptor", OperatorDir: fixtures.OperatorDir},
			"has no install/yamls/kustomization.yaml"},
		"operator is caa": {Sources{CAADir: fixtures.CAADir, OperatorDir: fixtures.CAADir}, "has no config/release"},
	} {
		if _, err := Render(c.src, RenderOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}

	// A directory with the right layout but not CAA's objects.
	bogus := filepath.Join(tmp, "caa")
	if err := os.MkdirAll(filepath.Join(bogus, upstream.CAAInstallDir), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(bogus, upstream.CAAInstallDir, "kustomization.yaml"), "resources: [cm.yaml]\n")
	write(t, filepath.Join(bogus, upstream.CAAInstallDir, "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	if _, err := Render(Sources{CAADir: bogus, OperatorDir: fixtures.OperatorDir}, RenderOptions{}); err == nil ||
		!strings.Contains(err.Error(), "does not render ServiceAccount cloud-api-adaptor") {
		t.Errorf("non-CAA directory: %v", err)
	}
	// A broken kustomization names the directory.
	write(t, filepath.Join(bogus, upstream.CAAInstallDir, "kustomization.yaml"), "resources: [missing.yaml]\n")
	if _, err := Render(Sources{CAADir: bogus, OperatorDir: fixtures.OperatorDir}, RenderOptions{}); err == nil ||
		!strings.Contains(err.Error(), filepath.Join(bogus, upstream.CAAInstallDir)) {
		t.Errorf("broken kustomization: %v", err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTypeTokenAndKey(t *testing.T) {
	cases := []struct {
		obj        Object
		token, key string
	}{
		{Object{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "n"}}, "kubernetes:core/v1:ConfigMap", "n/c"},
		{Object{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": "d", "namespace": "n"}}, "kubernetes:apps/v1:DaemonSet", "n/d"},
		{Object{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": "r"}}, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "r"},
		{Object{"apiVersion": "confidentialcontainers.org/v1beta1", "kind": "CcRuntime", "metadata": map[string]any{"name": "x"}}, "kubernetes:confidentialcontainers.org/v1beta1:CcRuntime", "x"},
	}
	for _, c := range cases {
		if got := TypeToken(c.obj); got != c.token {
			t.Errorf("TypeToken = %s, want %s", got, c.token)
		}
		if got := ObjectKey(c.obj); got != c.key {
			t.Errorf("ObjectKey = %s, want %s", got, c.key)
		}
	}
}
