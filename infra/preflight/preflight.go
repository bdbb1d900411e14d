// Package preflight checks, before anything is created, that Azure can run
// the deployment: the VM sizes are offered, the vCPU quota has room, the
// pod VM image exists in the region and the deployer may write role
// assignments. Each check is a function over Cloud, so tests use fakes.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is what Cloud returns for a resource that does not exist.
var ErrNotFound = errors.New("not found")

// SKU is one VM size as the resource SKU API reports it for a region.
type SKU struct {
	Name   string
	Family string
	VCPUs  int
	// Arch is the CpuArchitectureType capability (x64, Arm64), MemoryGB the
	// MemoryGB one; "" and 0 when Azure did not say.
	Arch     string
	MemoryGB float64
	// Restricted is the reason Azure will not create it here, or "".
	Restricted string
}

// Usage is one regional quota counter, e.g. a VM family's vCPUs.
type Usage struct {
	Name    string // e.g. standardDCASv5Family, cores
	Current int
	Limit   int
}

// Cloud is the slice of the Azure API the checks need.
type Cloud interface {
	SKUs(ctx context.Context, location string) ([]SKU, error)
	Usages(ctx context.Context, location string) ([]Usage, error)
	// ImageInRegion returns nil when the image can be used in location,
	// ErrNotFound (wrapped) when it cannot.
	ImageInRegion(ctx context.Context, imageID, location string) error
	// Allowed reports whether the caller may perform action at scope.
	Allowed(ctx context.Context, scope, action string) (bool, error)
	// Footprint finds what the stack already runs: the resources that
	// carry its tag.
	Footprint(ctx context.Context, tag Tag) (Footprint, error)
	// KubernetesVersions lists the major.minor versions AKS offers in a
	// region, previews left out.
	KubernetesVersions(ctx context.Context, location string) ([]string, error)
	// GroupExists reports whether a resource group exists.
	GroupExists(ctx context.Context, name string) (bool, error)
}

// Tag is the Azure tag every resource of one stack carries.
type Tag struct{ Key, Value string }

// Footprint is what a stack already runs in Azure.
type Footprint struct {
	// Cluster is the ARM id of the stack's AKS cluster, or "" before the
	// first successful create.
	Cluster string
	// VMs counts the stack's VMs by size: its node pool's nodes and the
	// pod VMs CAA created (they carry the stack tag through CAA's TAGS).
	VMs map[string]int
}

// Severity of a finding.
type Severity int

// Severities: an Error stops the deploy in error mode, a Warning never does.
const (
	Warning Severity = iota
	Error
)

// Finding is one problem, naming the configuration key it concerns.
type Finding struct {
	Severity Severity
	Key      string
	Message  string
}

// SizeNeed is a VM size the deployment uses and how many of it.
type SizeNeed struct {
	Key   string // the configuration key that chose the size
	Size  string
	Count int
	// Min is how many must fit for the deployment to finish: every node,
	// and the pod VMs of the main size that `pulumi up` waits on together.
	Min int
	// PodVMs marks pod VM sizes: a quota shortfall is only a warning there,
	// since pods can still run up to the quota.
	PodVMs bool
}

// The ARM actions the deployment performs that a deployer may lack.
const (
	WriteResourceGroup  = "Microsoft.Resources/subscriptions/resourceGroups/write"
	WriteRoleAssignment = "Microsoft.Authorization/roleAssignments/write"
	WriteRoleDefinition = "Microsoft.Authorization/roleDefinitions/write"
)

// PermissionNeed is an action the deployer must be allowed at a scope.
type PermissionNeed struct {
	Key    string
	Scope  string
	Action string
	Why    string
}

// Request is everything the checks look at.
type Request struct {
	// Stack finds what this stack already uses; its own nodes and pod VMs
	// count as room it has, so a second run needs no more quota than the
	// first.
	Stack       Tag
	Location    string
	Sizes       []SizeNeed
	ImageKey    string
	ImageID     string
	Permissions []PermissionNeed
	// KubernetesVersion, when set, must be one AKS offers in Location.
	KubernetesVersionKey, KubernetesVersion string
	// NodeResourceGroup, when set, is the node group AKS will create in a
	// group the user supplied; another stack's cluster may already own it.
	NodeResourceGroupKey, NodeResourceGroup string
}

// Run runs every check concurrently, bounded by timeout, and returns all
// findings sorted by key. A check that cannot complete is a warning.
func Run(ctx context.Context, cloud Cloud, req Request, timeout time.Duration) []Finding {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	var all []Finding
	var wg sync.WaitGroup
	run := func(check func(context.Context, Cloud, Request) []Finding) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found := check(ctx, cloud, req)
			mu.Lock()
			all = append(all, found...)
			mu.Unlock()
		}()
	}
	run(CheckSizesAndQuota)
	run(CheckImage)
	run(CheckPermissions)
	run(CheckKubernetesVersion)
	run(CheckSharedGroup)
	wg.Wait()
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Severity != all[j].Severity {
			return all[i].Severity > all[j].Severity
		}
		return all[i].Key < all[j].Key
	})
	return all
}

// CheckSizesAndQuota checks that every size is offered in the region and
// that each family's vCPU quota has room for what the deployment needs.
func CheckSizesAndQuota(ctx context.Context, cloud Cloud, req Request) []Finding {
	skus, err := cloud.SKUs(ctx, req.Location)
	if err != nil {
		return []Finding{{Warning, "azure-native:location", fmt.Sprintf("could not list the VM sizes of %s (%v); sizes and quota were not checked", req.Location, err)}}
	}
	byName := map[string]SKU{}
	for _, s := range skus {
		byName[strings.ToLower(s.Name)] = s
	}
	var out []Finding
	// Per quota counter (a family, or TotalRegionalCores): the vCPUs the
	// deployment may use, and the vCPUs it cannot run without (its nodes
	// and one pod VM).
	need, must := map[string]int{}, map[string]int{}
	needFrom := map[string][]SizeNeed{}
	for _, n := range req.Sizes {
		s, ok := byName[strings.ToLower(n.Size)]
		switch {
		case !ok:
			out = append(out, Finding{Error, n.Key, fmt.Sprintf("%s is not offered in %s; %s", n.Size, req.Location, alternatives(skus, n.Size))})
			continue
		case s.Restricted != "":
			out = append(out, Finding{Error, n.Key, fmt.Sprintf("%s is not available to this subscription in %s (%s); %s",
				n.Size, req.Location, s.Restricted, alternatives(skus, n.Size))})
			continue
		}
		if problems := capabilityProblems(n, s); len(problems) > 0 {
			out = append(out, problems...)
			continue
		}
		for _, counter := range []string{strings.ToLower(s.Family), TotalRegionalCores} {
			need[counter] += max(n.Count, n.Min) * s.VCPUs
			must[counter] += n.Min * s.VCPUs
			needFrom[counter] = append(needFrom[counter], n)
		}
	}
	if len(need) == 0 {
		return out
	}
	usages, err := cloud.Usages(ctx, req.Location)
	if err != nil {
		return append(out, Finding{Warning, "azure-native:location", fmt.Sprintf("could not read the vCPU quota of %s (%v); quota was not checked", req.Location, err)})
	}
	ours, err := ownVCPUs(ctx, cloud, req.Stack, byName)
	if err != nil {
		out = append(out, Finding{Warning, "azure-native:location", fmt.Sprintf("could not find what this stack already runs (%v); "+
			"the quota check counts its own nodes and pod VMs as used by others", err)})
	}
	quota := map[string]Usage{}
	for _, u := range usages {
		quota[strings.ToLower(u.Name)] = u
	}
	counters := make([]string, 0, len(need))
	for c := range need {
		counters = append(counters, c)
	}
	sort.Strings(counters)
	for _, counter := range counters {
		u, ok := quota[counter]
		if !ok {
			continue
		}
		// What this stack already runs is counted in Current but is the
		// stack's own: it stays or is replaced in place.
		free := u.Limit - u.Current + min(ours[counter], u.Current)
		if free >= need[counter] {
			continue
		}
		// Short of the nodes or of a single pod VM, nothing would run: an
		// error. Short of the most the pods may use, some may wait: a warning.
		severity, key := Warning, needFrom[counter][0].Key
		if free < must[counter] {
			severity = Error
			for _, n := range needFrom[counter] {
				if !n.PodVMs {
					key = n.Key
				}
			}
		}
		what := "the " + u.Name + " quota"
		if counter == TotalRegionalCores {
			what = "the total regional vCPU quota"
		}
		msg := fmt.Sprintf("%s in %s has %d of %d vCPUs free but the deployment needs %d and may use %d (%s); request more with "+
			"`az quota create` or the portal (Subscriptions → Usage + quotas), or use a smaller size",
			what, req.Location, max(free, 0), u.Limit, must[counter], need[counter], describe(needFrom[counter]))
		out = append(out, Finding{severity, key, msg})
	}
	return out
}

// AKS's floor for a system node pool's size ("Manage system node pools in
// AKS", limitations): the program's only pool is the system pool.
const (
	minNodeVCPUs    = 2
	minNodeMemoryGB = 4
)

// capabilityProblems is what makes an offered size unfit for its use: any
// Arm64 size (CAA's images and the pod VM images for Azure are amd64),
// and a node size below AKS's floor for system nodes.
func capabilityProblems(n SizeNeed, s SKU) []Finding {
	var out []Finding
	if s.Arch != "" && !strings.EqualFold(s.Arch, "x64") {
		out = append(out, Finding{Error, n.Key, fmt.Sprintf("%s is an %s size, but CAA's images and pod VM images for Azure are amd64; "+
			"use an x64 size such as %s", n.Size, s.Arch, amd64Suggestion(n.PodVMs))})
	}
	if n.PodVMs {
		return out
	}
	if s.VCPUs > 0 && s.VCPUs < minNodeVCPUs || s.MemoryGB > 0 && s.MemoryGB < minNodeMemoryGB {
		out = append(out, Finding{Error, n.Key, fmt.Sprintf("%s has %d vCPU(s) and %g GB of memory; AKS needs at least %d vCPUs and %d GB "+
			"for a system node; use a larger size such as Standard_F4s_v2", n.Size, s.VCPUs, s.MemoryGB, minNodeVCPUs, minNodeMemoryGB)})
	}
	return out
}

// amd64Suggestion is an x64 size to offer instead, for nodes or pod VMs.
func amd64Suggestion(podVM bool) string {
	if podVM {
		return "Standard_D2as_v5"
	}
	return "Standard_F4s_v2"
}

// TotalRegionalCores is the quota counter of all vCPUs in a region.
const TotalRegionalCores = "cores"

// ownVCPUs sums the stack's own VMs' vCPUs by lower-case family.
func ownVCPUs(ctx context.Context, cloud Cloud, tag Tag, skus map[string]SKU) (map[string]int, error) {
	ours := map[string]int{}
	if tag.Key == "" {
		return ours, nil
	}
	fp, err := cloud.Footprint(ctx, tag)
	if err != nil {
		return ours, err
	}
	for size, n := range fp.VMs {
		if s, ok := skus[strings.ToLower(size)]; ok {
			ours[strings.ToLower(s.Family)] += n * s.VCPUs
		}
	}
	return ours, nil
}

func describe(needs []SizeNeed) string {
	parts := make([]string, 0, len(needs))
	for _, n := range needs {
		what := "node"
		if n.PodVMs {
			what = "pod VM"
		}
		parts = append(parts, fmt.Sprintf("%d %s(s) of %s", n.Count, what, n.Size))
	}
	return strings.Join(parts, ", ")
}

// alternatives names up to three offered sizes of the same series, closest
// in vCPUs first.
func alternatives(skus []SKU, size string) string {
	series := seriesOf(size)
	want := vcpusFromName(size)
	var candidates []SKU
	for _, s := range skus {
		if s.Restricted == "" && seriesOf(s.Name) == series && !strings.EqualFold(s.Name, size) {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 0 {
		return "no size of the same series is offered there; try another region"
	}
	sort.Slice(candidates, func(i, j int) bool {
		di, dj := abs(candidates[i].VCPUs-want), abs(candidates[j].VCPUs-want)
		if di != dj {
			return di < dj
		}
		return candidates[i].Name < candidates[j].Name
	})
	names := []string{}
	for _, c := range candidates[:min(3, len(candidates))] {
		names = append(names, c.Name)
	}
	return "offered there: " + strings.Join(names, ", ")
}

// seriesOf is a size without its vCPU count: Standard_DC2as_v5 → standard_dcas_v5.
func seriesOf(size string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(size) {
		if r < '0' || r > '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func vcpusFromName(size string) int {
	n := 0
	for _, r := range strings.TrimPrefix(size, "Standard_") {
		if r >= '0' && r <= '9' {
			n = n*10 + int(r-'0')
		} else if n > 0 {
			break
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// CheckImage checks that the pod VM image can be used in the region.
func CheckImage(ctx context.Context, cloud Cloud, req Request) []Finding {
	if req.ImageID == "" {
		return nil
	}
	err := cloud.ImageInRegion(ctx, req.ImageID, req.Location)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return []Finding{{Error, req.ImageKey, fmt.Sprintf("image %s is not available in %s (%v); pick a region it is replicated to, "+
			"or set podVmImageId to an image in %s", req.ImageID, req.Location, err, req.Location)}}
	default:
		return []Finding{{Warning, req.ImageKey, fmt.Sprintf("could not check image %s in %s: %v", req.ImageID, req.Location, err)}}
	}
}

// CheckKubernetesVersion checks a configured version against the ones AKS
// offers in the region.
func CheckKubernetesVersion(ctx context.Context, cloud Cloud, req Request) []Finding {
	if req.KubernetesVersion == "" {
		return nil
	}
	offered, err := cloud.KubernetesVersions(ctx, req.Location)
	if err != nil {
		return []Finding{{Warning, req.KubernetesVersionKey, fmt.Sprintf("could not list the Kubernetes versions AKS offers in %s (%v); %s was not checked",
			req.Location, err, req.KubernetesVersion)}}
	}
	for _, v := range offered {
		if v == req.KubernetesVersion {
			return nil
		}
	}
	return []Finding{{Error, req.KubernetesVersionKey, fmt.Sprintf("%s is not a version AKS offers in %s; use one of %s "+
		"(`az aks get-versions --location %s -o table`), or leave it empty for the AKS default",
		req.KubernetesVersion, req.Location, strings.Join(offered, ", "), req.Location)}}
}

// CheckSharedGroup refuses a group another stack's cluster already uses:
// AKS names its node group after the group, so a second cluster there
// would fail late, after the network and identities were created.
func CheckSharedGroup(ctx context.Context, cloud Cloud, req Request) []Finding {
	if req.NodeResourceGroup == "" {
		return nil
	}
	exists, err := cloud.GroupExists(ctx, req.NodeResourceGroup)
	if err != nil {
		return []Finding{{Warning, req.NodeResourceGroupKey, fmt.Sprintf("could not check whether %s exists (%v)", req.NodeResourceGroup, err)}}
	}
	if !exists {
		return nil
	}
	// A stack whose identity is not yet known has no cluster anywhere.
	if req.Stack.Key != "" {
		if fp, err := cloud.Footprint(ctx, req.Stack); err == nil && fp.Cluster != "" {
			return nil // this stack's own cluster made it
		}
	}
	return []Finding{{Error, req.NodeResourceGroupKey, fmt.Sprintf("the node resource group %s already exists, so another cluster "+
		"(another stack) uses this resource group; give this stack a resource group of its own (or leave resourceGroupName "+
		"empty to let the stack create one)", req.NodeResourceGroup)}}
}

// CheckPermissions checks each action the deployment performs.
func CheckPermissions(ctx context.Context, cloud Cloud, req Request) []Finding {
	var out []Finding
	for _, p := range req.Permissions {
		ok, err := cloud.Allowed(ctx, p.Scope, p.Action)
		switch {
		case err != nil:
			out = append(out, Finding{Warning, p.Key, fmt.Sprintf("could not check %s on %s: %v", p.Action, p.Scope, err)})
		case !ok:
			out = append(out, Finding{Error, p.Key, fmt.Sprintf("the deploying identity may not %s on %s, which %s; "+
				"ask for %s there", p.Action, p.Scope, p.Why, rolesAllowing(p.Action))})
		}
	}
	return out
}

// rolesAllowing names the narrowest built-in roles that grant an action the
// deployment needs ("Azure built-in roles", Microsoft Learn): Role Based
// Access Control Administrator may assign roles but not define them.
func rolesAllowing(action string) string {
	switch action {
	case WriteRoleDefinition:
		return "Owner or User Access Administrator"
	case WriteRoleAssignment:
		return "Owner, User Access Administrator, or Role Based Access Control Administrator"
	}
	return "Owner or Contributor"
}

// ActionAllowed evaluates ARM permission entries (actions and notActions
// with * wildcards) for one action.
func ActionAllowed(actions, notActions []string, action string) bool {
	allowed := false
	for _, a := range actions {
		if wildcardMatch(a, action) {
			allowed = true
		}
	}
	for _, n := range notActions {
		if wildcardMatch(n, action) {
			return false
		}
	}
	return allowed
}

func wildcardMatch(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(s, p)
		}
		idx := strings.Index(s, p)
		if idx < 0 {
			return false
		}
		s = s[idx+len(p):]
	}
	return true
}
