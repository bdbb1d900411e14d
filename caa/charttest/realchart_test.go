// Package charttest renders CAA's real peerpods chart with the values the
// program registers, using Helm's own library, from a checkout given by an
// environment variable. Without one it skips and says why; CI has none.
package charttest

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"caa-azure/caa"
	"caa-azure/caa/initdata"
	"caa-azure/caa/kbscert"
	"caa-azure/caa/upstream"
)

// Environment: CAA_REPO is a git repository of cloud-api-adaptor (a clone
// or a bare mirror) holding the release tags; KATA_REPO one of
// kata-containers, for the kata-deploy subchart the chart pulls from an OCI
// registry (`helm dependency update` would fetch it; this test reads it at
// the chart's pinned version instead).
const (
	envCAARepo  = "CAA_REPO"
	envKataRepo = "KATA_REPO"
)

// TestRealChart renders 0.18.0, 0.20.0 and 0.22.0 with the program's values
// (a tagged caaImage, a per-node limit, the webhook on) and checks what the
// chart makes of them.
func TestRealChart(t *testing.T) {
	caaRepo, kataRepo := os.Getenv(envCAARepo), os.Getenv(envKataRepo)
	if caaRepo == "" || kataRepo == "" {
		t.Skipf("set %s to a cloud-api-adaptor git repository and %s to a kata-containers one to render the real chart "+
			"(see CONTRIBUTING.md); skipped", envCAARepo, envKataRepo)
	}
	for _, version := range []string{"0.18.0", "0.20.0", "0.22.0"} {
		for _, image := range []string{"", "example.azurecr.io/caa:v9"} {
			t.Run(version+"/"+strings.ReplaceAll(image, "/", "_"), func(t *testing.T) {
				rel, problems := upstream.ResolveRelease(version, upstream.ReleaseOverrides{Image: image,
					PodVMImageID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/podvm"})
				if problems != nil {
					t.Fatal(problems)
				}
				objs, crds := render(t, caaRepo, kataRepo, rel)
				check(t, rel, objs)
				checkTransform(t, objs, crds)
			})
		}
	}
}

type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }
func (o object) isHook() bool {
	m, _ := o["metadata"].(map[string]any)
	a, _ := m["annotations"].(map[string]any)
	_, hook := a["helm.sh/hook"]
	return hook
}
func (o object) name() string {
	m, _ := o["metadata"].(map[string]any)
	s, _ := m["name"].(string)
	return s
}

// render extracts the chart and its subcharts at the release's tag,
// assembles them as `helm dependency update` would, and renders them with
// the values the program registers.
func render(t *testing.T, caaRepo, kataRepo string, rel upstream.Release) (objs, crds []object) {
	t.Helper()
	dir := t.TempDir()
	tag := "v" + rel.CAAVersion
	extract(t, caaRepo, tag, "src/cloud-api-adaptor/install/charts/peerpods", filepath.Join(dir, "peerpods"))
	parent, err := loader.Load(filepath.Join(dir, "peerpods"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range parent.Metadata.Dependencies {
		var sub *chart.Chart
		switch {
		case strings.HasPrefix(dep.Repository, "file://"):
			// file://../../../../peerpod-ctrl/chart, relative to the chart.
			rel := filepath.Clean(filepath.Join("src/cloud-api-adaptor/install/charts/peerpods", strings.TrimPrefix(dep.Repository, "file://")))
			extract(t, caaRepo, tag, rel, filepath.Join(dir, dep.Name))
			sub, err = loader.Load(filepath.Join(dir, dep.Name))
		case dep.Name == "kata-deploy":
			extract(t, kataRepo, dep.Version, "tools/packaging/kata-deploy/helm-chart/kata-deploy", filepath.Join(dir, dep.Name))
			sub, err = loader.Load(filepath.Join(dir, dep.Name))
		default:
			t.Fatalf("dependency %s from %s: no local source", dep.Name, dep.Repository)
		}
		if err != nil {
			t.Fatalf("loading %s: %v", dep.Name, err)
		}
		if sub.Metadata.Version != dep.Version {
			t.Fatalf("%s is %s at the tag, the chart pins %s", dep.Name, sub.Metadata.Version, dep.Version)
		}
		parent.AddDependency(sub)
	}

	install, err := caa.ChartInstallOf(rel, caa.ChartOptions{
		Settings: caa.PeerPodsSettings{SubscriptionID: "sub", Region: "eastus", InstanceSize: "Standard_DC2as_v5",
			ResourceGroup: pulumi.String("caa-x-podvms-1"), SubnetID: pulumi.String("/subnet"), ImageID: rel.PodVMImageID,
			PeerPodsLimitPerNode: 4, Tags: map[string]string{"caa-azure-stack": "caa-azure/snp"}, Initdata: testInitdata(t, rel)},
		WorkloadIdentity: true, ClientID: pulumi.String("client-id"), Webhook: true,
		RBACProxyImage: upstream.DefaultRBACProxyImage,
	})
	if err != nil {
		t.Fatal(err)
	}
	vals := plain(install.Values.Map()).(map[string]any)
	if err := chartutil.ProcessDependenciesWithMerge(parent, vals); err != nil {
		t.Fatal(err)
	}
	top, err := chartutil.ToRenderValues(parent, vals, chartutil.ReleaseOptions{Name: "peerpods", Namespace: caa.Namespace,
		IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(parent, top)
	if err != nil {
		t.Fatal(err)
	}
	// crds/ of the chart and its subcharts: Helm installs them before the
	// templates, and so does Pulumi's Helm v4 Chart.
	for _, crd := range parent.CRDObjects() {
		var o map[string]any
		if err := yaml.Unmarshal(crd.File.Data, &o); err != nil {
			t.Fatalf("%s: %v", crd.Filename, err)
		}
		crds = append(crds, object(o))
	}
	for name, body := range files {
		if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") {
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(body))
		for {
			var o map[string]any
			if err := dec.Decode(&o); err != nil {
				break
			}
			// Pulumi's helm v4 Chart deploys no hook resources
			// (pulumi/pulumi-kubernetes#3284), so neither does this test.
			if len(o) > 0 && !object(o).isHook() {
				objs = append(objs, object(o))
			}
		}
	}
	return objs, crds
}

// checkTransform runs the program's chart transform over the real chart's
// objects, as the engine does when the Helm v4 Chart registers them: only
// CAA's DaemonSet gets the config checksum, and it reads nothing the
// checksum does not cover; every CRD, the PeerPod CRD among them, is kept
// on delete for the cluster to take.
func checkTransform(t *testing.T, objs, crds []object) {
	t.Helper()
	apply := caa.ChartTransform(pulumi.String("checksum"))
	var annotated []string
	for _, o := range objs {
		res := apply(context.Background(), &pulumi.ResourceTransformArgs{Custom: true, Type: caa.TypeToken(caa.Object(o)),
			Name: o.name(), Props: caa.ToInput(map[string]any(o)).(pulumi.Map)})
		if res == nil {
			continue
		}
		if res.Opts.RetainOnDelete {
			t.Errorf("%s %s would be kept on destroy", o.kind(), o.name())
		}
		meta := res.Props["spec"].(pulumi.Map)["template"].(pulumi.Map)["metadata"].(pulumi.Map)
		if meta["annotations"].(pulumi.Map)[caa.ConfigChecksumAnnotation] != pulumi.String("checksum") {
			t.Errorf("%s %s was transformed without the checksum", o.kind(), o.name())
		}
		annotated = append(annotated, o.kind()+"/"+o.name())
		reads := configSources(o)
		for _, src := range reads {
			if src != "configMap/peer-pods-cm" && src != "secret/peer-pods-secret" {
				t.Errorf("CAA also reads %s, which the config checksum does not cover", src)
			}
		}
		t.Logf("CAA reads %v", reads)
	}
	if len(annotated) != 1 || annotated[0] != "DaemonSet/"+caa.DaemonSetName {
		t.Errorf("the config checksum went on %v, want CAA's DaemonSet alone", annotated)
	}
	var kept []string
	for _, o := range crds {
		res := caa.ChartTransform(pulumi.String("checksum"))(context.Background(), &pulumi.ResourceTransformArgs{Custom: true,
			Type: caa.TypeToken(caa.Object(o)), Name: o.name(), Props: caa.ToInput(map[string]any(o)).(pulumi.Map)})
		if res == nil || !res.Opts.RetainOnDelete {
			t.Errorf("CRD %s would be deleted through the API on destroy", o.name())
			continue
		}
		kept = append(kept, o.name())
	}
	if !slices.Contains(kept, "peerpods.confidentialcontainers.org") {
		t.Errorf("the PeerPod CRD is not among the chart's CRDs %v: check where peerpod-ctrl ships it now", kept)
	}
	t.Logf("CRDs kept on destroy: %v", kept)
}

// configSources lists the ConfigMaps and Secrets a workload's containers
// read (envFrom, env valueFrom, volumes).
func configSources(o object) []string {
	var out []string
	add := func(kind string, ref any) {
		if m, ok := ref.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				out = append(out, kind+"/"+n)
			} else if n, ok := m["secretName"].(string); ok {
				out = append(out, kind+"/"+n)
			}
		}
	}
	for _, c := range caa.Containers(caa.Object(o)) {
		for _, e := range asList(c["envFrom"]) {
			add("configMap", e["configMapRef"])
			add("secret", e["secretRef"])
		}
		for _, e := range asList(c["env"]) {
			if from, ok := e["valueFrom"].(map[string]any); ok {
				add("configMap", from["configMapKeyRef"])
				add("secret", from["secretKeyRef"])
			}
		}
	}
	spec, _ := o["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	podSpec, _ := tmpl["spec"].(map[string]any)
	for _, v := range asList(podSpec["volumes"]) {
		add("configMap", v["configMap"])
		add("secret", v["secret"])
	}
	return out
}

func asList(v any) []map[string]any {
	items, _ := v.([]any)
	var out []map[string]any
	for _, i := range items {
		if m, ok := i.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// extract writes path at ref of repo into dest.
func extract(t *testing.T, repo, ref, path, dest string) {
	t.Helper()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	tarball, err := exec.Command("git", "--git-dir", gitDir(repo), "archive", ref, path).Output()
	if err != nil {
		t.Fatalf("git archive %s %s: %v", ref, path, err)
	}
	untar := exec.Command("tar", "-x", "-C", dest, "--strip-components", fmt.Sprint(len(strings.Split(path, "/"))))
	untar.Stdin = bytes.NewReader(tarball)
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("untar %s: %v %s", path, err, out)
	}
}

func gitDir(repo string) string {
	if _, err := os.Stat(filepath.Join(repo, ".git")); err == nil {
		return filepath.Join(repo, ".git")
	}
	return repo
}

// check asserts what the program relies on in the rendered chart.
func check(t *testing.T, rel upstream.Release, objs []object) {
	t.Helper()
	var cm, ds object
	var runtimeClass bool
	images := map[string]string{}
	for _, o := range objs {
		switch {
		case o.kind() == "ConfigMap" && o.name() == "peer-pods-cm":
			cm = o
		case o.kind() == "DaemonSet" && o.name() == "cloud-api-adaptor-daemonset":
			ds = o
		case o.kind() == "RuntimeClass" && o.name() == caa.RuntimeClass:
			runtimeClass = true
		case o.kind() == "Secret" && o.name() == "ssh-key-secret":
			t.Error("the chart now makes ssh-key-secret for Azure: update the docs, which say it does not")
		}
		for _, c := range caa.Containers(caa.Object(o)) {
			images[o.kind()+"/"+o.name()+"/"+c["name"].(string)] = fmt.Sprint(c["image"])
		}
	}
	if cm == nil || ds == nil {
		t.Fatalf("peer-pods-cm or the CAA DaemonSet was not rendered (%d objects)", len(objs))
	}
	data, _ := cm["data"].(map[string]any)
	for k, want := range map[string]string{"PEERPODS_LIMIT_PER_NODE": "4", "AZURE_RESOURCE_GROUP": "caa-x-podvms-1",
		"AZURE_IMAGE_ID": rel.PodVMImageID, "CLOUD_PROVIDER": "azure", "TAGS": "caa-azure-stack=caa-azure/snp",
		"INITDATA": string(testInitdata(t, rel))} {
		if fmt.Sprint(data[k]) != want {
			t.Errorf("peer-pods-cm %s = %v, want %q", k, data[k], want)
		}
	}
	if got, want := images["DaemonSet/cloud-api-adaptor-daemonset/cloud-api-adaptor-con"], rel.ImageRef().String(); got != want {
		t.Errorf("CAA image %q, want %q (all images: %v)", got, want, images)
	}
	if !runtimeClass {
		t.Error("no kata-remote RuntimeClass rendered: the sample would never schedule")
	}
	for where, image := range images {
		ref := upstream.SplitImage(image)
		switch {
		case strings.HasPrefix(image, "gcr.io/kubebuilder/"):
			t.Errorf("%s pulls %s, which gcr.io no longer serves", where, image)
		case ref.Tag == "" && ref.Digest == "", ref.Tag == "latest":
			t.Errorf("%s pulls %s, which is not pinned", where, image)
		}
	}
	t.Logf("%d objects; images: %v", len(objs), images)
}

// testInitdata is the global INITDATA of an attested stack of the release.
func testInitdata(t *testing.T, rel upstream.Release) pulumi.String {
	t.Helper()
	pair, err := kbscert.Derive(make([]byte, kbscert.SeedSize), netip.MustParseAddr("10.224.255.254"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := initdata.Build("https://10.224.255.254:8080", pair.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	s, err := initdata.Encode(doc, rel.InitdataFormat().Encoding)
	if err != nil {
		t.Fatal(err)
	}
	return pulumi.String(s)
}

// plain turns the program's chart values (plain Pulumi inputs) into the Go
// values Helm takes.
func plain(v any) any {
	switch x := v.(type) {
	case pulumi.Map:
		out := map[string]any{}
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case pulumi.StringMap:
		out := map[string]any{}
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case pulumi.String:
		return string(x)
	case pulumi.Bool:
		return bool(x)
	case pulumi.Int:
		return int(x)
	}
	panic(fmt.Sprintf("chart value of type %T", v))
}
