package tests

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// step is an assumed typical time for one resource to become ready, and
// where the figure comes from. The figures make a model, not a
// measurement: what the test checks is the shape of the graph (no avoidable
// edge on the critical path), which does not depend on them.
type step struct {
	seconds int
	source  string
}

var typicalLatency = map[string]step{
	tRandom:                               {0, "local, no API call"},
	tResourceGroup:                        {5, "one synchronous ARM PUT (assumed)"},
	tIdentity:                             {10, "one ARM PUT (assumed)"},
	tRoleAssignment:                       {30, "one ARM PUT; Azure documents that role assignment changes can take up to 10 minutes to apply (Microsoft Learn, \"Troubleshoot Azure RBAC\"); 30 s assumed"},
	tRoleDefinition:                       {15, "one ARM PUT at subscription scope (assumed)"},
	tFederation:                           {10, "one ARM PUT (assumed)"},
	tVNet:                                 {10, "one ARM PUT (assumed)"},
	tSubnet:                               {10, "one ARM PUT; Azure serialises writes on one VNet (AnotherOperationInProgress) (assumed)"},
	tPublicIP:                             {5, "one ARM PUT (assumed)"},
	tNat:                                  {30, "long-running ARM operation (assumed)"},
	tCluster:                              {480, "AKS create with one node: \"a few minutes\" (AKS quickstart, Microsoft Learn); 8 min assumed"},
	tK8sProvider:                          {0, "local, reads the kubeconfig"},
	tNamespace:                            {2, "one API-server write (assumed)"},
	tCRD:                                  {3, "API-server write and establishment (assumed)"},
	tClusterRole:                          {1, "one API-server write (assumed)"},
	tCRB:                                  {1, "one API-server write (assumed)"},
	tConfigMap:                            {1, "one API-server write (assumed)"},
	tSecret:                               {1, "one API-server write (assumed)"},
	tSA:                                   {1, "one API-server write (assumed)"},
	tDeployment:                           {60, "operator image pull and readiness (assumed)"},
	tCcRuntime:                            {300, "kata-deploy installs on the node, pulling its images on a fresh node (assumed)"},
	tDaemonSet:                            {90, "CAA image pull and start-up; its readiness probe waits 20 s (install/yamls/daemonset.yaml at cloud-api-adaptor v0.10.0); 90 s assumed"},
	"kubernetes:apps/v1:Deployment:nginx": {180, "an Azure VM created and booted for the pod (assumed)"},
}

// node is one resource in the dependency graph recorded under mocks.
type node struct {
	key, typ, name string
	deps           []string
}

func latencyOf(n node) step {
	if s, ok := typicalLatency[n.typ+":"+n.name]; ok {
		return s
	}
	if s, ok := typicalLatency[n.typ]; ok {
		return s
	}
	return step{-1, ""}
}

// keyOfURN turns a dependency URN into "<type>::<name>".
func keyOfURN(u string) string {
	parts := strings.Split(u, "::")
	if len(parts) < 2 {
		return u
	}
	typ := parts[len(parts)-2]
	if i := strings.LastIndex(typ, "$"); i >= 0 {
		typ = typ[i+1:]
	}
	return typ + "::" + parts[len(parts)-1]
}

// graph returns the custom resources and their dependencies; components
// are skipped, since the SDK expands a dependency on one to its children.
func graph(m *mocks) map[string]node {
	m.mu.Lock()
	defer m.mu.Unlock()
	nodes := map[string]node{}
	for _, r := range m.resources {
		if !r.Custom && !strings.HasPrefix(r.TypeToken, "pulumi:providers:") {
			continue
		}
		n := node{key: r.TypeToken + "::" + r.Name, typ: r.TypeToken, name: r.Name}
		seen := map[string]bool{}
		add := func(u string) {
			if k := keyOfURN(u); !seen[k] {
				seen[k] = true
				n.deps = append(n.deps, k)
			}
		}
		for _, u := range r.RegisterRPC.GetDependencies() {
			add(u)
		}
		for _, deps := range r.RegisterRPC.GetPropertyDependencies() {
			for _, u := range deps.GetUrns() {
				add(u)
			}
		}
		// A provider reference is "<urn>::<id>"; using the provider waits for it.
		if i := strings.LastIndex(r.Provider, "::"); i >= 0 {
			add(r.Provider[:i])
		}
		nodes[n.key] = n
	}
	return nodes
}

// forced says whether an edge is one the work itself imposes: the
// dependent consumes the dependency or cannot exist before it.
func forced(from, to node) bool {
	f, t := from.typ, to.typ
	azure := strings.HasPrefix(f, "azure-native:")
	k8s := strings.HasPrefix(f, "kubernetes:")
	switch {
	case azure && t == tResourceGroup:
		return true // lives in the group
	case f == tSubnet && (t == tVNet || t == tNat):
		return true // part of the VNet; associated with the NAT gateway
	case f == tNat && t == tPublicIP:
		return true
	case f == tCluster && (t == tSubnet || t == tIdentity):
		return true
	case f == tCluster && t == tRoleAssignment:
		return true // AKS checks its user-assigned identity's rights on a BYO subnet at create
	case f == tRoleAssignment && (t == tIdentity || t == tSubnet || t == tRoleDefinition):
		return true // the principal and the scope must exist
	case f == tFederation && (t == tIdentity || t == tCluster):
		return true // the identity and the cluster's issuer
	case f == tK8sProvider && t == tCluster:
		return true
	case k8s && t == tK8sProvider:
		return true
	case k8s && (t == tNamespace || t == tCRD):
		return true // namespaced objects, custom resources
	case f == tCcRuntime && t == tDeployment:
		return true // the operator installs the runtime
	case f == tDaemonSet && (t == tCcRuntime || t == tConfigMap || t == tSecret || t == tSA || t == tIdentity):
		return true // the guide's order; CAA reads its configuration at start
	case f == tSA && t == tIdentity:
		return true // annotated with the identity's client id
	case f == tDeployment && from.name == "nginx":
		// The pod needs kata-remote, CAA, and CAA's rights to create its VM.
		return t == tCcRuntime || t == tDaemonSet || t == tRoleAssignment || t == tFederation || t == tSubnet || t == tNat
	}
	return false
}

// longest returns the length and chain of the slowest path through nodes,
// following only the edges keep allows.
func longest(nodes map[string]node, keep func(from, to node) bool) (int, []string) {
	memo := map[string]int{}
	next := map[string]string{}
	var visit func(k string) int
	visit = func(k string) int {
		if v, ok := memo[k]; ok {
			return v
		}
		n := nodes[k]
		best, via := 0, ""
		deps := append([]string{}, n.deps...)
		sort.Strings(deps)
		for _, d := range deps {
			dn, ok := nodes[d]
			if !ok || !keep(n, dn) {
				continue
			}
			if v := visit(d); v > best {
				best, via = v, d
			}
		}
		memo[k] = best + latencyOf(n).seconds
		next[k] = via
		return memo[k]
	}
	total, end := 0, ""
	keys := make([]string, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := visit(k); v > total {
			total, end = v, k
		}
	}
	var chain []string
	for k := end; k != ""; k = next[k] {
		chain = append([]string{fmt.Sprintf("%s (%ds)", k, latencyOf(nodes[k]).seconds)}, chain...)
	}
	return total, chain
}

// avoidableOnCriticalPath returns the critical chain when an edge that
// the work does not force lengthens it beyond the floor, else nil.
func avoidableOnCriticalPath(nodes map[string]node) (program, floor int, chain, floorChain []string) {
	program, chain = longest(nodes, func(node, node) bool { return true })
	floor, floorChain = longest(nodes, forced)
	if program > floor {
		return program, floor, chain, floorChain
	}
	return program, floor, nil, nil
}

// TestCriticalPath fails when an avoidable edge is on the deploy's
// critical path. `go test ./tests -run CriticalPath -v` prints the
// modelled figures.
func TestCriticalPath(t *testing.T) {
	for _, s := range stackFiles {
		m := newMocks()
		deployAndExport(t, s.name, stackConfig(t, s.name), m)
		nodes := graph(m)
		for _, n := range nodes {
			if latencyOf(n).seconds < 0 {
				t.Fatalf("no typical latency for %s %s: add it to typicalLatency with its source", n.typ, n.name)
			}
		}
		program, floor, chain, floorChain := avoidableOnCriticalPath(nodes)
		t.Logf("stack %s (model): critical path %ds (%.1f min), floor %ds", s.name, program, float64(program)/60, floor)
		if chain != nil {
			t.Errorf("stack %s: the critical path (%ds) exceeds the floor (%ds): an avoidable edge is on it.\nprogram: %s\nfloor:   %s",
				s.name, program, floor, strings.Join(chain, " → "), strings.Join(floorChain, " → "))
		}
	}
}

// TestCriticalPathCatchesAvoidableEdges: the check above can fail. CAA's
// configuration waiting for the runtime install (an edge an earlier
// version had) puts the path over the floor.
func TestCriticalPathCatchesAvoidableEdges(t *testing.T) {
	m := newMocks()
	deployAndExport(t, "snp", stackConfig(t, "snp"), m)
	for _, from := range []string{tConfigMap + "::caa-" + ns + "/peer-pods-cm", tSecret + "::caa-" + ns + "/ssh-key-secret"} {
		nodes := graph(m)
		n, ok := nodes[from]
		if !ok {
			t.Fatalf("no %s in the graph", from)
		}
		n.deps = append(n.deps, tCcRuntime+"::caa-ccruntime-peer-pods")
		nodes[from] = n
		if _, _, chain, _ := avoidableOnCriticalPath(nodes); chain == nil {
			t.Errorf("%s waiting for the CcRuntime is not caught as an avoidable edge on the critical path", from)
		}
	}
}

// BenchmarkDeploy times the whole program under mocks for each stack.
func BenchmarkDeploy(b *testing.B) {
	for _, s := range stackFiles {
		cfg := stackConfig(b, s.name)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			program := deploy(b)
			for b.Loop() {
				if err := run(b, s.name, cfg, newMocks(), program); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
