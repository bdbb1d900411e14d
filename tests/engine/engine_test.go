//go:build engine

// Package engine runs the program under the real Pulumi engine and the real
// Kubernetes provider against a real (local) Kubernetes API server, with a
// stand-in for the Azure and random providers, through the five runs every
// resource must survive: first up, a second run with nothing changed, an up
// after a config change, a refresh with the cluster unreachable, and a plain
// destroy. Build tag `engine`; run it with `make engine-test`, which builds
// the binaries it needs first (tools/engine/build.sh). Without them every
// test skips and says why.
package engine

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"caa-azure/stack"
)

// repoRoot is the product's root, two levels up from this package.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// The binaries a local cluster needs, and those the engine runs add.
var (
	clusterBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages"}
	engineBinaries  = append([]string{"pulumi", "pulumi-resource-kubernetes", "standin"}, clusterBinaries...)
)

// engineBin is the directory tools/engine/build.sh links every binary into;
// the test skips unless it holds each of need.
func engineBin(t *testing.T, need []string) string {
	t.Helper()
	dir := os.Getenv("CAA_ENGINE_BIN")
	if dir == "" {
		cache := os.Getenv("CAA_ENGINE_CACHE")
		if cache == "" {
			base := os.Getenv("XDG_CACHE_HOME")
			if base == "" {
				home, _ := os.UserHomeDir()
				base = filepath.Join(home, ".cache")
			}
			cache = filepath.Join(base, "caa-azure-engine")
		}
		dir = filepath.Join(cache, "current")
	}
	for _, b := range need {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Skipf("the engine test needs %s in %s: run tools/engine/build.sh (or `make engine-test`) first", b, dir)
		}
	}
	return dir
}

// pluginVersions are the provider versions the product's SDKs ask the
// engine for, read from its go.mod so a version bump needs no edit here.
func pluginVersions(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sdks := map[string]*regexp.Regexp{
		"azure-native": regexp.MustCompile(`github\.com/pulumi/pulumi-azure-native-sdk/containerservice/v2 v([0-9.]+)`),
		"azuread":      regexp.MustCompile(`github\.com/pulumi/pulumi-azuread/sdk/v5 v([0-9.]+)`),
		"random":       regexp.MustCompile(`github\.com/pulumi/pulumi-random/sdk/v4 v([0-9.]+)`),
		"kubernetes":   regexp.MustCompile(`github\.com/pulumi/pulumi-kubernetes/sdk/v4 v([0-9.]+)`),
	}
	out := map[string]string{}
	for name, re := range sdks {
		m := re.FindSubmatch(b)
		if m == nil {
			t.Fatalf("go.mod pins no %s SDK (%s)", name, re)
		}
		out[name] = string(m[1])
	}
	return out
}

// env is one stack under the real engine, with its cluster.
type env struct {
	t       *testing.T
	ctx     context.Context
	cluster *cluster
	stack   auto.Stack
	// kubeconfig is the file the stand-in returns as the cluster's user
	// credentials; the read-only preview swaps its content.
	kubeconfig string
	// standinLog holds the stand-in's create/update/delete lines, in order.
	standinLog string
	operator   *operator
}

// newEnv starts a cluster, installs the plugins into a Pulumi home of the
// test's own, and creates the snp stack with config on a local backend.
func newEnv(t *testing.T, config map[string]string) *env {
	t.Helper()
	bin := engineBin(t, engineBinaries)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, cluster: startCluster(t, bin)}
	dir := t.TempDir()
	home := filepath.Join(dir, "pulumi-home")
	e.kubeconfig = filepath.Join(dir, "cluster-user.kubeconfig")
	e.standinLog = filepath.Join(dir, "standin.log")
	e.useKubeconfig(e.cluster.AdminKubeconfig)

	// PULUMI_HOME in the test's temp dir: installing the plugins changes
	// nothing outside it.
	vars := map[string]string{
		"PULUMI_HOME":                          home,
		"PULUMI_BACKEND_URL":                   fileBackend(t, dir),
		"PULUMI_CONFIG_PASSPHRASE":             "engine-test",
		"PULUMI_SKIP_UPDATE_CHECK":             "true",
		"PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
		"CAA_STANDIN_LOG":                      e.standinLog,
		"CAA_STANDIN_KUBECONFIG":               e.kubeconfig,
	}
	installPlugins(t, bin, home, pluginVersions(t))
	cli := pulumiCLI(t, bin, dir)

	// The project and stack files are the repository's, copied so the
	// stack's config is written beside the copies, never into the repo.
	project := filepath.Join(dir, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Pulumi.yaml", "Pulumi.snp.yaml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(project, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	program := func(ctx *pulumi.Context) error {
		// No Azure: preflight off (Preflight nil), upstream from local
		// trees only (Sources nil).
		_, err := stack.DeployWith(ctx, stack.Options{})
		return err
	}
	var err error
	e.stack, err = auto.UpsertStackInlineSource(ctx, "snp", "caa-azure", program,
		auto.WorkDir(project), auto.Pulumi(cli), auto.PulumiHome(home), auto.EnvVars(vars),
		auto.SecretsProvider("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := auto.ConfigMap{
		"caa-azure:sshPublicKey": {Value: sshKey(t)},
		"caa-azure:preflight":    {Value: "off"},
	}
	for k, v := range config {
		cfg[k] = auto.ConfigValue{Value: v}
	}
	if err := e.stack.SetAllConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	e.operator = playOperator(t, e.cluster.admin)
	return e
}

// fileBackend is a local state backend in dir; the CLI wants it to exist.
func fileBackend(t *testing.T, dir string) string {
	t.Helper()
	state := filepath.Join(dir, "state")
	must(t, os.MkdirAll(state, 0o700))
	return "file://" + state
}

// installPlugins installs each provider plugin at the given version into
// the Pulumi home: the real Kubernetes provider as kubernetes, the stand-in
// as every other.
func installPlugins(t *testing.T, bin, home string, versions map[string]string) {
	t.Helper()
	for name, version := range versions {
		file := filepath.Join(bin, "standin")
		if name == "kubernetes" {
			file = filepath.Join(bin, "pulumi-resource-kubernetes")
		}
		cmd := exec.Command(filepath.Join(bin, "pulumi"), "plugin", "install", "resource", name, version, "--file", file)
		cmd.Env = append(os.Environ(), "PULUMI_HOME="+home, "PULUMI_SKIP_UPDATE_CHECK=true")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pulumi plugin install resource %s %s: %v\n%s", name, version, err, out)
		}
	}
}

// pulumiCLI is the built CLI for the Automation API, which wants it as
// <root>/bin/pulumi.
func pulumiCLI(t *testing.T, bin, dir string) auto.PulumiCommand {
	t.Helper()
	root := filepath.Join(dir, "cli")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bin, "pulumi"), filepath.Join(root, "bin", "pulumi")); err != nil {
		t.Fatal(err)
	}
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// useKubeconfig makes the stand-in hand out this kubeconfig as the
// cluster's user credentials from the next run on.
func (e *env) useKubeconfig(path string) {
	e.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.kubeconfig, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func sshKey(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// up runs `pulumi up` and returns its summary and the URNs of each
// operation the engine performed.
func (e *env) up(opts ...optup.Option) (map[string]int, map[string][]string) {
	e.t.Helper()
	ch := make(chan events.EngineEvent)
	steps := collectSteps(ch)
	start := time.Now()
	res, err := e.stack.Up(e.ctx, append(opts, optup.EventStreams(ch))...)
	e.t.Logf("up: %s", time.Since(start).Round(time.Second))
	if err != nil {
		e.t.Fatalf("up: %v\n%s", err, res.StdErr)
	}
	return changes(res.Summary.ResourceChanges), steps()
}

// collectSteps gathers the URN of every resource step by operation.
func collectSteps(ch <-chan events.EngineEvent) func() map[string][]string {
	var mu sync.Mutex
	done := make(chan struct{})
	out := map[string][]string{}
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.ResourcePreEvent == nil {
				continue
			}
			m := ev.ResourcePreEvent.Metadata
			mu.Lock()
			out[string(m.Op)] = append(out[string(m.Op)], m.URN)
			mu.Unlock()
		}
	}()
	return func() map[string][]string {
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, urns := range out {
			sort.Strings(urns)
		}
		return out
	}
}

func changes(m *map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return *m
}

// only fails unless every operation but "same" is one of allowed.
func only(t *testing.T, what string, summary map[string]int, allowed ...string) {
	t.Helper()
	for op, n := range summary {
		if op == "same" || n == 0 {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || op == a
		}
		if !ok {
			t.Errorf("%s: %d %q operations, want none (summary %v)", what, n, op, summary)
		}
	}
}

// stateResource is a resource in the exported state.
type stateResource struct {
	URN  string `json:"urn"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

func (e *env) state() []stateResource {
	e.t.Helper()
	d, err := e.stack.Export(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var dep struct {
		Resources []stateResource `json:"resources"`
	}
	if err := json.Unmarshal(d.Deployment, &dep); err != nil {
		e.t.Fatal(err)
	}
	return dep.Resources
}

// kubernetesObjects are the URNs in state of objects in the API server
// (not the provider, not component resources).
func kubernetesObjects(rs []stateResource) []string {
	var out []string
	for _, r := range rs {
		if strings.HasPrefix(r.Type, "kubernetes:") && !strings.HasPrefix(r.Type, "pulumi:providers:") &&
			!strings.HasPrefix(r.Type, "kubernetes:helm.sh/") && !strings.HasPrefix(r.Type, "kubernetes:yaml/") {
			out = append(out, r.URN)
		}
	}
	sort.Strings(out)
	return out
}

// standinOps are the stand-in's log lines ("delete <type> <name>"), in order.
func (e *env) standinOps(op string) []string {
	e.t.Helper()
	b, err := os.ReadFile(e.standinLog)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == op {
			out = append(out, f[1]+" "+f[2])
		}
	}
	return out
}

// before fails unless a comes before b in ops.
func before(t *testing.T, ops []string, a, b string) {
	t.Helper()
	ia, ib := indexOf(ops, a), indexOf(ops, b)
	if ia < 0 || ib < 0 {
		t.Errorf("%q or %q not in %v", a, b, ops)
		return
	}
	if ia > ib {
		t.Errorf("%q ran after %q; docs/design.md (Teardown) orders it before: %v", a, b, ops)
	}
}

func indexOf(ops []string, s string) int {
	for i, o := range ops {
		if o == s {
			return i
		}
	}
	return -1
}

// operator plays what the cluster's controllers of CAA's install would
// do and the local cluster has not: the CoCo operator reports the
// CcRuntime installed and creates the kata-remote RuntimeClass (kata-deploy
// does it on the chart path).
type operator struct {
	stop chan struct{}
	done chan struct{}
}

func playOperator(t *testing.T, k *kube) *operator {
	o := &operator{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for {
			select {
			case <-o.stop:
				return
			case <-time.After(time.Second):
			}
			o.reconcile(k)
		}
	}()
	t.Cleanup(func() { close(o.stop); <-o.done })
	return o
}

func (o *operator) reconcile(k *kube) {
	const rc = "kata-remote"
	o.assignLoadBalancers(k)
	installed := o.reportCcRuntimes(k, rc) || o.chartPath(k)
	if installed {
		_, _, _ = k.do("POST", "/apis/node.k8s.io/v1/runtimeclasses", map[string]any{
			"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
			"metadata": map[string]any{"name": rc}, "handler": rc,
		}, "application/json")
	}
}

// reportCcRuntimes sets every CcRuntime's status to installed and says
// whether there is one; false when there is no CcRuntime CRD (the chart
// path) or the API server is stopped.
func (o *operator) reportCcRuntimes(k *kube, rc string) bool {
	code, b, err := k.do("GET", "/apis/confidentialcontainers.org/v1beta1/ccruntimes", nil, "")
	if err != nil || code != 200 {
		return false
	}
	var runtimes struct {
		Items []map[string]any `json:"items"`
	}
	if json.Unmarshal(b, &runtimes) != nil {
		return false
	}
	for _, cr := range runtimes.Items {
		if str(cr, "status", "runtimeClass") == rc {
			continue
		}
		// The operator's CRD requires runtimeName and totalNodesCount in
		// the status (api/v1beta1 at v0.10.0); one node here.
		runtimeName := str(cr, "spec", "runtimeName")
		if runtimeName == "" {
			runtimeName = "kata"
		}
		name := str(cr, "metadata", "name")
		_, _, _ = k.do("PATCH", "/apis/confidentialcontainers.org/v1beta1/ccruntimes/"+name+"/status",
			map[string]any{"status": map[string]any{"runtimeClass": rc, "runtimeName": runtimeName, "totalNodesCount": 1}},
			"application/merge-patch+json")
	}
	return len(runtimes.Items) > 0
}

// assignLoadBalancers plays Azure's cloud provider for the KBS's internal
// load balancer: a LoadBalancer Service gets the address its annotation
// asks for, which Pulumi waits for.
func (o *operator) assignLoadBalancers(k *kube) {
	code, b, err := k.do("GET", "/api/v1/services", nil, "")
	if err != nil || code != 200 {
		return
	}
	var services struct {
		Items []map[string]any `json:"items"`
	}
	if json.Unmarshal(b, &services) != nil {
		return
	}
	for _, svc := range services.Items {
		ip := str(svc, "metadata", "annotations", "service.beta.kubernetes.io/azure-load-balancer-ipv4")
		if str(svc, "spec", "type") != "LoadBalancer" || ip == "" || len(list(svc, "status", "loadBalancer", "ingress")) > 0 {
			continue
		}
		path := "/api/v1/namespaces/" + str(svc, "metadata", "namespace") + "/services/" + str(svc, "metadata", "name") + "/status"
		_, _, _ = k.do("PATCH", path, map[string]any{"status": map[string]any{"loadBalancer": map[string]any{
			"ingress": []any{map[string]any{"ip": ip}}}}}, "application/merge-patch+json")
	}
}

// chartPath: the peerpods chart's DaemonSet is there (kata-deploy's job).
func (o *operator) chartPath(k *kube) bool {
	code, _, err := k.do("GET", "/apis/apps/v1/namespaces/"+namespace+"/daemonsets/"+caaDaemonSet, nil, "")
	return err == nil && code == 200
}

const (
	namespace    = "confidential-containers-system"
	caaDaemonSet = "cloud-api-adaptor-daemonset"
	caaConfigMap = "peer-pods-cm"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fixture(parts ...string) string {
	return filepath.Join(append([]string{repoRoot, "tests"}, parts...)...)
}

func describe(v any) string { return fmt.Sprintf("%v", v) }
