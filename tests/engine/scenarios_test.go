//go:build engine

package engine

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

// Upstream trees for the operator path: checkouts at v0.10.0 of
// cloud-api-adaptor and of the operator; our fixtures without them.
const (
	envCAARepo      = "ENGINE_CAA_REPO"
	envOperatorRepo = "ENGINE_OPERATOR_REPO"
)

// The instanceSize change: both fit snp.
const (
	firstSize  = "Standard_DC2as_v5"
	secondSize = "Standard_DC4as_v5"
)

// TestOperatorPath runs the five runs on the operator path (caaVersion
// 0.10.0): first up, a preview with nothing changed, an instanceSize change,
// a refresh with the API server stopped, a preview as a read-only user, and
// a plain destroy.
func TestOperatorPath(t *testing.T) {
	caaDir := fixture("fixtures", "cloud-api-adaptor", "src", "cloud-api-adaptor")
	operatorDir := fixture("fixtures", "operator")
	if repo := os.Getenv(envCAARepo); repo != "" {
		caaDir = filepath.Join(repo, "src", "cloud-api-adaptor")
		t.Logf("CAA from %s", caaDir)
	}
	if repo := os.Getenv(envOperatorRepo); repo != "" {
		operatorDir = repo
		t.Logf("operator from %s", operatorDir)
	}
	e := newEnv(t, map[string]string{
		"caa-azure:caaVersion":        "0.10.0",
		"caa-azure:instanceSize":      firstSize,
		"caa-azure:caaSourceDir":      caaDir,
		"caa-azure:operatorSourceDir": operatorDir,
	})
	e.firstUp(t)
	e.noChanges(t)
	e.instanceSizeChange(t, caaConfig, nil)
	e.refreshUnreachable(t)
	e.readOnlyPreview(t)
	e.destroy(t, nil)
}

// TestChartPath runs the same on the chart path (caaVersion 0.20.0) with a
// local chart of our own and attestation on (our flat-store trustee tree),
// and destroys with a PeerPod holding CAA's finalizer, as CAA leaves them.
// With attestation, the second run also shows that the KBS certificate,
// the initdata pinning it and the resource policy bound to its PCR 8 are
// the same on every run.
func TestChartPath(t *testing.T) {
	e := newEnv(t, map[string]string{
		"caa-azure:caaVersion":       "0.20.0",
		"caa-azure:instanceSize":     firstSize,
		"caa-azure:caaSourceDir":     filepath.Join(repoRoot, "tests", "engine", "testdata", "cloud-api-adaptor"),
		"caa-azure:attestation":      "true",
		"caa-azure:trusteeSourceDir": fixture("fixtures", "trustee-kvstorage"),
	})
	e.firstUp(t)
	e.kbsServesPinnedCertificate(t)
	e.noChanges(t)
	// The chart is a component whose values change: the engine may show it
	// as an update besides the ConfigMap and the DaemonSet it renders.
	e.instanceSizeChange(t, caaConfig, []string{"kubernetes:helm.sh/v4:Chart"})
	e.refreshUnreachable(t)
	e.readOnlyPreview(t)
	e.destroy(t, func() {
		// A PeerPod as CAA leaves it: only peerpod-ctrl removes the finalizer.
		e.cluster.admin.create(t, "/apis/confidentialcontainers.org/v1alpha1/namespaces/"+namespace+"/peerpods", map[string]any{
			"apiVersion": "confidentialcontainers.org/v1alpha1", "kind": "PeerPod",
			"metadata": map[string]any{"name": "nginx-pod-vm", "finalizers": []any{"peer.pod/finalizer"}},
			"spec":     map[string]any{"instanceId": "standin-vm"},
		})
	})
	// The CRD the PeerPod needs stays for the cluster to take.
	if e.cluster.admin.get(t, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/peerpods.confidentialcontainers.org") == nil {
		t.Error("destroy deleted the PeerPod CRD through the API; it goes with the cluster (a PeerPod's finalizer would block it)")
	}
}

// firstUp: everything is created, nothing else; CAA runs on the node.
func (e *env) firstUp(t *testing.T) {
	step(t, "first up", func(t *testing.T) {
		summary, _ := e.up()
		if summary["create"] == 0 {
			t.Fatalf("first up created nothing: %v", summary)
		}
		only(t, "first up", summary, "create")
		ds := e.cluster.admin.get(t, "/apis/apps/v1/namespaces/"+namespace+"/daemonsets/"+caaDaemonSet)
		if ds == nil {
			t.Fatalf("no DaemonSet %s/%s in the API server", namespace, caaDaemonSet)
		}
		if n, _ := field(ds, "status", "numberReady").(float64); n != 1 {
			t.Errorf("CAA's DaemonSet has %v ready pods, want 1 (the kwok node)", field(ds, "status", "numberReady"))
		}
		cm := e.cluster.admin.get(t, "/api/v1/namespaces/"+namespace+"/configmaps/"+caaConfigMap)
		if got := str(cm, "data", "AZURE_INSTANCE_SIZE"); got != firstSize {
			t.Errorf("peer-pods-cm AZURE_INSTANCE_SIZE = %q, want %q", got, firstSize)
		}
		if len(kubernetesObjects(e.state())) == 0 {
			t.Error("no Kubernetes object in state")
		}
	})
}

// kbsServesPinnedCertificate: the KBS in the API server reads https
// settings and the certificate the stack exports, and CAA's global
// initdata (in peer-pods-cm) carries that certificate.
func (e *env) kbsServesPinnedCertificate(t *testing.T) {
	step(t, "the KBS serves the pinned certificate", func(t *testing.T) {
		out, err := e.stack.Outputs(e.ctx)
		must(t, err)
		cert, _ := out["kbsCertificate"].Value.(string)
		if !strings.HasPrefix(cert, "-----BEGIN CERTIFICATE-----") {
			t.Fatalf("kbsCertificate output %q", cert)
		}
		secret := e.cluster.admin.get(t, "/api/v1/namespaces/coco-tenant/secrets/kbs-https")
		served, err := base64.StdEncoding.DecodeString(str(secret, "data", "https-cert.pem"))
		if err != nil || string(served) != cert {
			t.Errorf("the KBS's https secret holds another certificate than kbsCertificate (%v)", err)
		}
		cm := e.cluster.admin.get(t, "/api/v1/namespaces/"+namespace+"/configmaps/"+caaConfigMap)
		if str(cm, "data", "INITDATA") == "" {
			t.Error("peer-pods-cm has no INITDATA")
		}
	})
}

// noChanges: a second run with the same config changes nothing, with the
// real Kubernetes provider diffing against the API server.
func (e *env) noChanges(t *testing.T) {
	step(t, "second preview changes nothing", func(t *testing.T) {
		start := time.Now()
		res, err := e.stack.Preview(e.ctx, optpreview.ExpectNoChanges(), optpreview.Diff())
		t.Logf("preview: %s", time.Since(start).Round(time.Second))
		if err != nil {
			t.Fatalf("preview --expect-no-changes: %v\n%s", err, res.StdOut)
		}
		only(t, "second preview", opCounts(res.ChangeSummary))
	})
}

// caaConfig are what an instanceSize change must update: peer-pods-cm and
// CAA's DaemonSet (whose pod template carries a checksum of its config).
// Each is "<type> <name>" with the name's namespace/object part, which the
// URN's name ends with on both paths.
var caaConfig = []string{"kubernetes:core/v1:ConfigMap " + namespace + "/" + caaConfigMap,
	"kubernetes:apps/v1:DaemonSet " + namespace + "/" + caaDaemonSet}

// instanceSizeChange: only CAA's config and CAA update (and the optional
// types, when the engine shows them), and CAA's pod template changes in the
// API server, so the DaemonSet rolls CAA.
func (e *env) instanceSizeChange(t *testing.T, required, optional []string) {
	step(t, "instanceSize change rolls CAA only", func(t *testing.T) {
		dsPath := "/apis/apps/v1/namespaces/" + namespace + "/daemonsets/" + caaDaemonSet
		before := e.cluster.admin.get(t, dsPath)
		must(t, e.stack.SetConfig(e.ctx, "caa-azure:instanceSize", auto.ConfigValue{Value: secondSize}))
		summary, steps := e.up()
		only(t, "instanceSize up", summary, "update")
		if len(steps["replace"]) > 0 {
			t.Errorf("instanceSize replaced %v: a replaced object with a fixed name is deleted first, so CAA's config is briefly gone", steps["replace"])
		}
		seen := map[string]bool{}
		for _, urn := range steps["update"] {
			typ, name := urnType(urn), urnName(urn)
			ok := indexOf(optional, typ) >= 0
			for _, want := range required {
				if wantType, wantName, _ := strings.Cut(want, " "); typ == wantType && strings.HasSuffix(name, wantName) {
					ok, seen[want] = true, true
				}
			}
			if !ok {
				t.Errorf("instanceSize updated %s; only %v (and %v) may change", urn, required, optional)
			}
		}
		for _, want := range required {
			if !seen[want] {
				t.Errorf("instanceSize did not update %s (updates: %v)", want, steps["update"])
			}
		}
		cm := e.cluster.admin.get(t, "/api/v1/namespaces/"+namespace+"/configmaps/"+caaConfigMap)
		if got := str(cm, "data", "AZURE_INSTANCE_SIZE"); got != secondSize {
			t.Errorf("peer-pods-cm AZURE_INSTANCE_SIZE = %q after the change, want %q", got, secondSize)
		}
		after := e.cluster.admin.get(t, dsPath)
		if describe(field(before, "spec", "template")) == describe(field(after, "spec", "template")) {
			t.Error("CAA's pod template did not change: CAA keeps reading the old instance size until something restarts it")
		}
	})
}

// refreshUnreachable: a refresh while the API server is down drops nothing
// from state, and an up after it is back changes nothing.
func (e *env) refreshUnreachable(t *testing.T) {
	step(t, "refresh with the cluster unreachable keeps state", func(t *testing.T) {
		stateBefore := kubernetesObjects(e.state())
		e.cluster.StopAPIServer()
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Minute)
		start := time.Now()
		res, err := e.stack.Refresh(ctx, optrefresh.Parallel(4))
		cancel()
		t.Logf("refresh (API server stopped): %s, error: %v", time.Since(start).Round(time.Second), err)
		if err == nil {
			if n := changes(res.Summary.ResourceChanges)["delete"]; n > 0 {
				t.Errorf("refresh with the cluster unreachable deleted %d resources from state", n)
			}
		}
		stateAfter := kubernetesObjects(e.state())
		if describe(stateBefore) != describe(stateAfter) {
			t.Errorf("refresh with the cluster unreachable changed the Kubernetes objects in state:\nbefore %v\nafter  %v", stateBefore, stateAfter)
		}
		e.cluster.StartAPIServer()
		summary, _ := e.up(optup.ExpectNoChanges())
		only(t, "up after the cluster is back", summary)
	})
}

// readOnlyPreview: a pull request's preview, whose identity may only read
// the cluster (the built-in view role: no secrets, no RBAC objects), runs
// through and proposes no change to any object.
func (e *env) readOnlyPreview(t *testing.T) {
	// Nothing later builds on it: a failure here does not stop destroy.
	t.Run("preview as a read-only user", func(t *testing.T) {
		e.useKubeconfig(e.cluster.ReaderKubeconfig)
		defer e.useKubeconfig(e.cluster.AdminKubeconfig)
		start := time.Now()
		res, err := e.stack.Preview(e.ctx, optpreview.Refresh(), optpreview.Diff())
		t.Logf("read-only preview: %s", time.Since(start).Round(time.Second))
		if err != nil {
			t.Fatalf("preview as a read-only user: %v\n%s", err, res.StdOut)
		}
		// The provider's kubeconfig is another user's: that is its only
		// change (an update, not a replace, thanks to clusterIdentifier).
		only(t, "read-only preview", opCounts(res.ChangeSummary), "update")
		if n := opCounts(res.ChangeSummary)["update"]; n > 1 {
			t.Errorf("read-only preview updates %d resources; only the Kubernetes provider's credentials differ\n%s", n, res.StdOut)
		}
	})
}

// destroy: a plain destroy empties the state in the order docs/design.md
// (Teardown) states: CAA through the API, the pod-VM group after CAA's
// roles on it and before the peer-pod subnet, the stack's group last; the
// other Kubernetes objects go with the cluster (their deletes skipped).
func (e *env) destroy(t *testing.T, prepare func()) {
	step(t, "plain destroy", func(t *testing.T) {
		if prepare != nil {
			prepare()
		}
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Minute)
		defer cancel()
		start := time.Now()
		res, err := e.stack.Destroy(ctx)
		t.Logf("destroy: %s", time.Since(start).Round(time.Second))
		if err != nil {
			t.Fatalf("plain destroy: %v\n%s", err, res.StdErr)
		}
		only(t, "destroy", changes(res.Summary.ResourceChanges), "delete")
		if rs := e.state(); len(rs) > 0 {
			t.Errorf("state holds %d resources after destroy, e.g. %s", len(rs), rs[0].URN)
		}

		deletes := e.standinOps("delete")
		group := "azure-native:resources:ResourceGroup "
		before(t, deletes, "azure-native:authorization:RoleAssignment caa-identity-vm-contributor", group+"network-podvms")
		before(t, deletes, "azure-native:authorization:RoleAssignment caa-identity-reader", group+"network-podvms")
		before(t, deletes, group+"network-podvms", "azure-native:network:Subnet network-peerpods")
		before(t, deletes, "azure-native:network:Subnet network-peerpods", "azure-native:network:NatGateway network-nat")
		// The last Azure delete; the random suffix that names the group goes
		// after it, as anything the group depends on.
		var azure []string
		for _, d := range deletes {
			if strings.HasPrefix(d, "azure-native:") {
				azure = append(azure, d)
			}
		}
		if last := azure[len(azure)-1]; !strings.HasPrefix(last, group) || strings.HasSuffix(last, "-podvms") {
			t.Errorf("the stack's resource group is not the last Azure resource deleted: %v", deletes)
		}

		// CAA was deleted through the API; the sample went with the cluster.
		if e.cluster.admin.get(t, "/apis/apps/v1/namespaces/"+namespace+"/daemonsets/"+caaDaemonSet) != nil {
			t.Error("CAA's DaemonSet is still in the API server: destroy did not delete CAA before the pod-VM group")
		}
		if e.cluster.admin.get(t, "/apis/apps/v1/namespaces/default/deployments/nginx") == nil {
			t.Error("the nginx Deployment was deleted through the API; it should go with the cluster (deletedWith)")
		}
	})
}

// step runs one run as a subtest; the runs build on each other, so the
// first that fails ends the test.
func step(t *testing.T, name string, run func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, run) {
		t.FailNow()
	}
}

func opCounts[K ~string](m map[K]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

// urnName is the resource name of a URN.
func urnName(urn string) string {
	parts := strings.Split(urn, "::")
	return parts[len(parts)-1]
}

// urnType is the resource type of a URN (urn:pulumi:stack::project::parent$type::name).
func urnType(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return urn
	}
	types := strings.Split(parts[2], "$")
	return types[len(types)-1]
}
