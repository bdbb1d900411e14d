package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeCloud answers from tables; nil maps mean "API error".
type fakeCloud struct {
	skus      []SKU
	usages    []Usage
	images    map[string]bool
	allowed   map[string]bool // scope|action
	skuErr    error
	permDelay time.Duration
	// footprint is what the stack already runs; footErr fails the lookup.
	footprint Footprint
	footErr   error
	footAsked []Tag
	// versions AKS offers; groups that exist.
	versions    []string
	versionsErr error
	groups      map[string]bool
}

func (f *fakeCloud) KubernetesVersions(context.Context, string) ([]string, error) {
	return f.versions, f.versionsErr
}

func (f *fakeCloud) GroupExists(_ context.Context, name string) (bool, error) {
	return f.groups[name], nil
}

func (f *fakeCloud) Footprint(_ context.Context, tag Tag) (Footprint, error) {
	f.footAsked = append(f.footAsked, tag)
	return f.footprint, f.footErr
}

func (f *fakeCloud) SKUs(context.Context, string) ([]SKU, error) { return f.skus, f.skuErr }
func (f *fakeCloud) Usages(context.Context, string) ([]Usage, error) {
	return f.usages, nil
}
func (f *fakeCloud) ImageInRegion(_ context.Context, id, location string) error {
	if f.images[id+"@"+location] {
		return nil
	}
	return fmt.Errorf("%w: GalleryImageNotFound", ErrNotFound)
}
func (f *fakeCloud) Allowed(ctx context.Context, scope, action string) (bool, error) {
	select {
	case <-time.After(f.permDelay):
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return f.allowed[scope+"|"+action], nil
}

const image = "/CommunityGalleries/g/Images/i/Versions/0.10.0"

func healthy() *fakeCloud {
	return &fakeCloud{
		skus: []SKU{
			{Name: "Standard_DC2as_v5", Family: "standardDCASv5Family", VCPUs: 2},
			{Name: "Standard_DC4as_v5", Family: "standardDCASv5Family", VCPUs: 4},
			{Name: "Standard_DC8as_v5", Family: "standardDCASv5Family", VCPUs: 8},
			{Name: "Standard_F4s_v2", Family: "standardFSv2Family", VCPUs: 4},
			{Name: "Standard_DC2es_v6", Family: "standardDCESv6Family", VCPUs: 2, Restricted: "NotAvailableForSubscription"},
		},
		usages: []Usage{
			{Name: "standardDCASv5Family", Current: 0, Limit: 20},
			{Name: "standardFSv2Family", Current: 0, Limit: 10},
		},
		images:  map[string]bool{image + "@eastus": true},
		allowed: map[string]bool{"/subscriptions/s|Microsoft.Authorization/roleAssignments/write": true},
	}
}

func request() Request {
	return Request{
		Stack:    Tag{Key: "caa-azure-stack", Value: "caa-azure/snp"},
		Location: "eastus",
		Sizes: []SizeNeed{
			{Key: "caa-azure:instanceSize", Size: "Standard_DC2as_v5", Count: 10, Min: 1, PodVMs: true},
			{Key: "caa-azure:nodeVmSize", Size: "Standard_F4s_v2", Count: 1, Min: 1},
		},
		ImageKey: "caa-azure:podVmImageId", ImageID: image,
		Permissions: []PermissionNeed{{Key: "caa-azure:resourceGroupName", Scope: "/subscriptions/s",
			Action: "Microsoft.Authorization/roleAssignments/write", Why: "the role assignments need"}},
	}
}

func TestAllChecksPass(t *testing.T) {
	if f := Run(context.Background(), healthy(), request(), time.Second); len(f) != 0 {
		t.Fatalf("findings on a healthy subscription: %+v", f)
	}
}

func TestSizeNotOfferedOrRestricted(t *testing.T) {
	req := request()
	req.Sizes[0].Size = "Standard_DC16as_v5"
	f := CheckSizesAndQuota(context.Background(), healthy(), req)
	if len(f) != 1 || f[0].Severity != Error || f[0].Key != "caa-azure:instanceSize" ||
		!strings.Contains(f[0].Message, "not offered in eastus") || !strings.Contains(f[0].Message, "Standard_DC8as_v5, Standard_DC4as_v5, Standard_DC2as_v5") {
		t.Fatalf("want one error naming the nearest sizes, got %+v", f)
	}
	req.Sizes[0].Size = "Standard_DC2es_v6"
	f = CheckSizesAndQuota(context.Background(), healthy(), req)
	if len(f) != 1 || !strings.Contains(f[0].Message, "NotAvailableForSubscription") {
		t.Fatalf("restricted size: %+v", f)
	}
}

func TestQuota(t *testing.T) {
	cases := []struct {
		name     string
		current  int
		nodeUsed int
		want     []Severity
	}{
		{"room to spare", 0, 0, nil},
		{"exactly at need", 0, 6, nil},
		{"pod VMs short", 5, 0, []Severity{Warning}},
		{"nodes short", 0, 8, []Severity{Error}},
	}
	for _, c := range cases {
		cloud := healthy()
		cloud.usages = []Usage{{Name: "standardDCASv5Family", Current: c.current, Limit: 20}, {Name: "standardFSv2Family", Current: c.nodeUsed, Limit: 10}}
		f := CheckSizesAndQuota(context.Background(), cloud, request())
		if len(f) != len(c.want) {
			t.Errorf("%s: %+v", c.name, f)
			continue
		}
		for i, s := range c.want {
			if f[i].Severity != s || !strings.Contains(f[i].Message, "vCPUs free") {
				t.Errorf("%s: finding %+v", c.name, f[i])
			}
		}
	}
	cloud := healthy()
	cloud.usages = []Usage{{Name: "standardDCASv5Family", Current: 18, Limit: 20}}
	f := CheckSizesAndQuota(context.Background(), cloud, request())
	if len(f) != 1 || f[0].Severity != Warning ||
		!strings.Contains(f[0].Message, "has 2 of 20 vCPUs free but the deployment needs 2 and may use 20 (10 pod VM(s) of Standard_DC2as_v5)") {
		t.Errorf("the numbers must be in the warning: %+v", f)
	}

	// Not even one pod VM fits: nothing the stack deploys could run.
	cloud.usages = []Usage{{Name: "standardDCASv5Family", Current: 0, Limit: 0}}
	f = CheckSizesAndQuota(context.Background(), cloud, request())
	if len(f) != 1 || f[0].Severity != Error || f[0].Key != "caa-azure:instanceSize" || !strings.Contains(f[0].Message, "has 0 of 0 vCPUs free") {
		t.Errorf("no room for one pod VM must be an error on instanceSize: %+v", f)
	}

	// The region's total vCPUs bind even when each family has room.
	cloud.usages = []Usage{{Name: "standardDCASv5Family", Limit: 20}, {Name: "standardFSv2Family", Limit: 10},
		{Name: "cores", Current: 8, Limit: 10}}
	f = CheckSizesAndQuota(context.Background(), cloud, request())
	if len(f) != 1 || f[0].Severity != Error || !strings.Contains(f[0].Message, "the total regional vCPU quota in eastus has 2 of 10 vCPUs free but the deployment needs 6") {
		t.Errorf("the total regional quota must be checked: %+v", f)
	}
	cloud.usages[2].Current = 2
	f = CheckSizesAndQuota(context.Background(), cloud, request())
	if len(f) != 1 || f[0].Severity != Warning || !strings.Contains(f[0].Message, "total regional vCPU quota") {
		t.Errorf("room for the nodes and one pod VM but not all pods: a warning: %+v", f)
	}
}

// TestSecondRunWithExactQuota: the first up used exactly the quota there
// was; on the second, Azure counts the stack's own node and pod VMs as
// used, and the check must count them as the stack's own.
func TestSecondRunWithExactQuota(t *testing.T) {
	req := request()
	req.Sizes = []SizeNeed{
		{Key: "caa-azure:instanceSize", Size: "Standard_DC2as_v5", Count: 1, PodVMs: true},
		{Key: "caa-azure:nodeVmSize", Size: "Standard_F4s_v2", Count: 1},
	}
	cloud := healthy()
	cloud.usages = []Usage{{Name: "standardDCASv5Family", Current: 0, Limit: 2}, {Name: "standardFSv2Family", Current: 0, Limit: 4}}
	if f := CheckSizesAndQuota(context.Background(), cloud, req); len(f) != 0 {
		t.Fatalf("first run with exactly enough quota: %+v", f)
	}
	// After the first up: one node and one pod VM of this stack run.
	cloud.usages = []Usage{{Name: "standardDCASv5Family", Current: 2, Limit: 2}, {Name: "standardFSv2Family", Current: 4, Limit: 4}}
	cloud.footprint = Footprint{Cluster: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c",
		VMs: map[string]int{"Standard_F4s_v2": 1, "standard_dc2as_v5": 1}}
	if f := CheckSizesAndQuota(context.Background(), cloud, req); len(f) != 0 {
		t.Fatalf("second run with nothing changed fails on the stack's own footprint: %+v", f)
	}
	if len(cloud.footAsked) != 2 || cloud.footAsked[1] != req.Stack {
		t.Errorf("the footprint was looked up by %v, want the stack tag %v", cloud.footAsked, req.Stack)
	}
	// Someone else's VMs still count against us.
	cloud.footprint = Footprint{VMs: map[string]int{"Standard_F4s_v2": 1}}
	f := CheckSizesAndQuota(context.Background(), cloud, req)
	if len(f) != 1 || f[0].Key != "caa-azure:instanceSize" || f[0].Severity != Warning {
		t.Errorf("another stack's pod VMs fill the DCasv5 quota: want one warning for the pod VM size, got %+v", f)
	}
	// A footprint that cannot be read is said, and counted as nothing.
	cloud.footprint, cloud.footErr = Footprint{}, errors.New("AuthorizationFailed")
	f = CheckSizesAndQuota(context.Background(), cloud, req)
	if len(f) != 3 || !strings.Contains(f[0].Message+f[1].Message+f[2].Message, "could not find what this stack already runs") {
		t.Errorf("an unreadable footprint: want a warning besides the two shortfalls, got %+v", f)
	}
}

func TestKubernetesVersionOffered(t *testing.T) {
	cloud := healthy()
	cloud.versions = []string{"1.32", "1.33"}
	req := request()
	req.KubernetesVersionKey, req.KubernetesVersion = "caa-azure:kubernetesVersion", "1.33"
	if f := CheckKubernetesVersion(context.Background(), cloud, req); len(f) != 0 {
		t.Errorf("an offered version: %+v", f)
	}
	req.KubernetesVersion = "1.29"
	f := CheckKubernetesVersion(context.Background(), cloud, req)
	if len(f) != 1 || f[0].Severity != Error || f[0].Key != "caa-azure:kubernetesVersion" || !strings.Contains(f[0].Message, "use one of 1.32, 1.33") {
		t.Errorf("a version AKS does not offer must be an error naming the offered ones: %+v", f)
	}
	cloud.versionsErr = errors.New("throttled")
	if f := CheckKubernetesVersion(context.Background(), cloud, req); len(f) != 1 || f[0].Severity != Warning {
		t.Errorf("an unreadable list is a warning: %+v", f)
	}
	req.KubernetesVersion = ""
	if f := CheckKubernetesVersion(context.Background(), cloud, req); len(f) != 0 {
		t.Errorf("the AKS default needs no check: %+v", f)
	}
}

func TestSharedGroupRefused(t *testing.T) {
	cloud := healthy()
	req := request()
	req.NodeResourceGroupKey, req.NodeResourceGroup = "caa-azure:resourceGroupName", "team-rg-aks"
	if f := CheckSharedGroup(context.Background(), cloud, req); len(f) != 0 {
		t.Errorf("a free group: %+v", f)
	}
	cloud.groups = map[string]bool{"team-rg-aks": true}
	f := CheckSharedGroup(context.Background(), cloud, req)
	if len(f) != 1 || f[0].Severity != Error || !strings.Contains(f[0].Message, "another cluster") {
		t.Errorf("another stack's node group: want an error, got %+v", f)
	}
	// Run runs it with the other checks.
	req.KubernetesVersionKey, req.KubernetesVersion = "caa-azure:kubernetesVersion", "1.29"
	cloud.versions = []string{"1.33"}
	all := Run(context.Background(), cloud, req, time.Second)
	keys := map[string]bool{}
	for _, f := range all {
		keys[f.Key] = f.Severity == Error
	}
	if !keys["caa-azure:resourceGroupName"] || !keys["caa-azure:kubernetesVersion"] {
		t.Errorf("Run must include the shared-group and version checks: %+v", all)
	}
	cloud.footprint = Footprint{Cluster: "/subscriptions/s/resourceGroups/team-rg/providers/Microsoft.ContainerService/managedClusters/mine"}
	if f := CheckSharedGroup(context.Background(), cloud, req); len(f) != 0 {
		t.Errorf("this stack's own node group on a second run: %+v", f)
	}
}

func TestImageMissing(t *testing.T) {
	req := request()
	req.Location = "northeurope"
	f := CheckImage(context.Background(), healthy(), req)
	if len(f) != 1 || f[0].Severity != Error || f[0].Key != "caa-azure:podVmImageId" || !strings.Contains(f[0].Message, "not available in northeurope") {
		t.Fatalf("%+v", f)
	}
}

func TestPermissionDenied(t *testing.T) {
	cloud := healthy()
	cloud.allowed = map[string]bool{}
	f := CheckPermissions(context.Background(), cloud, request())
	if len(f) != 1 || f[0].Severity != Error || f[0].Key != "caa-azure:resourceGroupName" || !strings.Contains(f[0].Message, "may not Microsoft.Authorization/roleAssignments/write") {
		t.Fatalf("%+v", f)
	}
}

func TestAPIErrorsAndTimeoutAreWarnings(t *testing.T) {
	cloud := healthy()
	cloud.skuErr = errors.New("503 ServiceUnavailable")
	cloud.permDelay = time.Hour
	start := time.Now()
	f := Run(context.Background(), cloud, request(), 50*time.Millisecond)
	if time.Since(start) > 2*time.Second {
		t.Fatal("the timeout did not bound the checks")
	}
	if len(f) != 2 {
		t.Fatalf("%+v", f)
	}
	for _, x := range f {
		if x.Severity != Warning {
			t.Errorf("a check that could not run must warn, not fail: %+v", x)
		}
	}
}

func TestActionAllowed(t *testing.T) {
	cases := []struct {
		actions, not []string
		action       string
		want         bool
	}{
		{[]string{"*"}, nil, "Microsoft.Authorization/roleAssignments/write", true},
		{[]string{"*"}, []string{"Microsoft.Authorization/*/Write"}, "Microsoft.Authorization/roleAssignments/write", false},
		{[]string{"Microsoft.Authorization/roleAssignments/*"}, nil, "Microsoft.Authorization/roleAssignments/write", true},
		{[]string{"*/read"}, nil, "Microsoft.Authorization/roleAssignments/write", false},
		{[]string{"Microsoft.Authorization/*/write"}, nil, "microsoft.authorization/roledefinitions/write", true},
		{nil, nil, "x", false},
	}
	for _, c := range cases {
		if got := ActionAllowed(c.actions, c.not, c.action); got != c.want {
			t.Errorf("ActionAllowed(%v, %v, %s) = %v", c.actions, c.not, c.action, got)
		}
	}
}
