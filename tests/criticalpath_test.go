package tests

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// step is the typical time one resource takes to become ready, and where
// the figure comes from. The numbers are typical, not guaranteed; what the
// test checks is the shape of the graph, which does not depend on them.
type step struct {
	seconds int
	source  string
}

var typicalLatency = map[string]step{
	tRandom:                               {0, "local, no API call"},
	tResourceGroup:                        {5, "one synchronous ARM PUT"},
	tIdentity:                             {10, "one ARM PUT; Entra replication can add seconds"},
	tRoleAssignment:                       {30, "ARM PUT plus RBAC propagation, which Azure documents as up to minutes (caa-config.md §4)"},
	tRoleDefinition:                       {15, "one ARM PUT at subscription scope"},
	tFederation:                           {10, "one ARM PUT"},
	tVNet:                                 {10, "one ARM PUT"},
	tSubnet:                               {10, "one ARM PUT, serialised per VNet (pulumi-pitfalls.md §9)"},
	tPublicIP:                             {5, "one ARM PUT"},
	tNat:                                  {30, "long-running ARM operation"},
	tCluster:                              {480, "AKS create with one node: several minutes (AKS quickstart: \"a few minutes\"); 8 min assumed"},
	tK8sProvider:                          {0, "local, reads the kubeconfig"},
	tNamespace:                            {2, "one API-server write"},
	tCRD:                                  {3, "API-server write and establishment"},
	tClusterRole:                          {1, "one API-server write"},
	tCRB:                                  {1, "one API-server write"},
	tConfigMap:                            {1, "one API-server write"},
	tSecret:                               {1, "one API-server write"},
	tSA:                                   {1, "one API-server write"},
	tDeployment:                           {60, "operator image pull and readiness; upstream e2e allows 10 min (caa-e2e.md)"},
	tCcRuntime:                            {300, "kata-deploy and nydus install on the node, images pulled on a fresh node"},
	tDaemonSet:                            {90, "CAA image pull and start-up probe (20 s initial delay, caa-objects.md)"},
	"kubernetes:apps/v1:Deployment:nginx": {180, "pod VM create and boot; upstream e2e waits 2 min per VM lookup (caa-e2e.md)"},
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

// TestCriticalPath compares the deploy's critical path with the guide run
// by hand and with the floor that only forced edges allow; an avoidable
// edge on the critical path fails it. `go test ./tests -run CriticalPath -v`
// prints the figures.
func TestCriticalPath(t *testing.T) {
	for _, s := range stackFiles {
		m := newMocks()
		deployAndExport(t, s.name, stackConfig(t, s.name), m)
		nodes := graph(m)
		guide := 0
		for _, n := range nodes {
			l := latencyOf(n)
			if l.seconds < 0 {
				t.Fatalf("no typical latency for %s %s: add it to typicalLatency with its source", n.typ, n.name)
			}
			guide += l.seconds
		}
		program, chain := longest(nodes, func(node, node) bool { return true })
		floor, floorChain := longest(nodes, forced)
		t.Logf("stack %s: critical path %ds (%.1f min), guide step by step %ds (%.1f min), floor %ds",
			s.name, program, float64(program)/60, guide, float64(guide)/60, floor)
		t.Logf("critical chain:\n  %s", strings.Join(chain, "\n  "))
		if program > floor {
			t.Errorf("stack %s: the critical path (%ds) exceeds the floor (%ds): an avoidable edge is on it.\nprogram: %s\nfloor:   %s",
				s.name, program, floor, strings.Join(chain, " → "), strings.Join(floorChain, " → "))
		}
		if program >= guide {
			t.Errorf("stack %s: the program (%ds) is no faster than doing the guide by hand (%ds)", s.name, program, guide)
		}
		if len(chain) < 6 || !strings.Contains(strings.Join(chain, " "), tCluster) {
			t.Errorf("stack %s: the critical chain should run through the cluster: %v", s.name, chain)
		}
	}
}

// TestForcedEdgesAreReal: the floor may not lean on an edge the program
// does not have (which would make the comparison meaningless).
func TestForcedEdgesAreReal(t *testing.T) {
	m := newMocks()
	deployAndExport(t, "snp", stackConfig(t, "snp"), m)
	nodes := graph(m)
	_, chain := longest(nodes, forced)
	for i := 1; i < len(chain); i++ {
		from := strings.Fields(chain[i])[0]
		to := strings.Fields(chain[i-1])[0]
		found := false
		for _, d := range nodes[from].deps {
			found = found || d == to
		}
		if !found {
			t.Errorf("floor edge %s → %s is not in the program's graph", from, to)
		}
	}
}

// BenchmarkDeploy times the whole program under mocks for each stack.
func BenchmarkDeploy(b *testing.B) {
	for _, s := range stackFiles {
		cfg := stackConfig(b, s.name)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := run(b, s.name, cfg, newMocks(), func(ctx *pulumi.Context) error { return stackDeploy(ctx) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
