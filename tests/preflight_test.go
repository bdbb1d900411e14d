package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azauth"
	"caa-azure/infra/preflight"
	"caa-azure/stack"
)

// brokenSubscription offers no confidential sizes, has no quota, lacks
// the image and denies role assignments; deployed says the stack's
// cluster exists from an earlier run.
type brokenSubscription struct {
	asked    []string
	deployed bool
}

func (b *brokenSubscription) KubernetesVersions(context.Context, string) ([]string, error) {
	return []string{"1.33"}, nil
}

func (b *brokenSubscription) GroupExists(context.Context, string) (bool, error) { return false, nil }

func (b *brokenSubscription) Footprint(_ context.Context, tag preflight.Tag) (preflight.Footprint, error) {
	if !b.deployed || tag != (preflight.Tag{Key: "caa-azure-stack", Value: "caa-azure/snp/" + suffix}) {
		return preflight.Footprint{}, nil
	}
	return preflight.Footprint{Cluster: "/subscriptions/s/resourceGroups/caa-rg-x/providers/Microsoft.ContainerService/managedClusters/caa-x",
		VMs: map[string]int{"Standard_F4s_v2": 1}}, nil
}

func (b *brokenSubscription) SKUs(context.Context, string) ([]preflight.SKU, error) {
	b.asked = append(b.asked, "skus")
	return []preflight.SKU{{Name: "Standard_F4s_v2", Family: "standardFSv2Family", VCPUs: 4}}, nil
}
func (b *brokenSubscription) Usages(context.Context, string) ([]preflight.Usage, error) {
	return []preflight.Usage{{Name: "standardFSv2Family", Current: 10, Limit: 10}}, nil
}
func (b *brokenSubscription) ImageInRegion(context.Context, string, string) error {
	return fmt.Errorf("%w: GalleryImageNotFound", preflight.ErrNotFound)
}
func (b *brokenSubscription) Allowed(context.Context, string, string) (bool, error) {
	return false, nil
}

func deployWithPreflight(t *testing.T, mode string, open stack.PreflightFactory) (*mocks, error) {
	m, _, err := deployWithPreflightWarnings(t, mode, open)
	return m, err
}

// deployWithPreflightWarnings also returns what the run warned the user of.
func deployWithPreflightWarnings(t *testing.T, mode string, open stack.PreflightFactory) (*mocks, []string, error) {
	cfg := stackConfig(t, "snp")
	cfg["caa-azure:preflight"] = mode
	m := newMocks()
	var warnings []string
	err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
		d, err := stack.DeployWith(ctx, stack.Options{Preflight: open})
		if d != nil {
			warnings = d.Warnings
		}
		return err
	})
	return m, warnings, err
}

func TestPreflightErrorStopsBeforeAnything(t *testing.T) {
	cloud := &brokenSubscription{}
	m, err := deployWithPreflight(t, "error", func(context.Context, string, azauth.Settings) (preflight.Cloud, error) { return cloud, nil })
	if err == nil {
		t.Fatal("a broken subscription must stop the run in error mode")
	}
	for _, want := range []string{
		"caa-azure:instanceSize: Standard_DC2as_v5 is not offered in eastus",
		"caa-azure:nodeVmSize: the standardFSv2Family quota in eastus has 0 of 10 vCPUs free",
		"caa-azure:podVmImageId: image /CommunityGalleries/",
		"your Azure rights: the deploying identity may not Microsoft.Authorization/roleAssignments/write",
		"caa-azure:grantVmSizeRead: the deploying identity may not Microsoft.Authorization/roleDefinitions/write",
		"grantVmSizeRead false); ask for Owner or User Access Administrator there",
		"Microsoft.Authorization/roleDefinitions/write on /subscriptions/" + subscriptionID + ", which the subnet join role",
		"your Azure rights: the deploying identity may not Microsoft.Resources/subscriptions/resourceGroups/write on /subscriptions/" + subscriptionID,
		"Azure cannot take this stack as configured (preflight checks); this run changed nothing:",
		"request the quota (portal: Subscriptions → Usage + quotas) or the role at the scope each line names",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if rest := beyondIdentity(m); len(rest) != 0 {
		t.Errorf("%d resources besides the stack's suffix were registered although preflight failed, e.g. %s", len(rest), rest[0].TypeToken)
	}
}

// TestPreflightErrorOnADeployedStack: when the stack's cluster already
// exists, the error must not claim that nothing was created.
func TestPreflightErrorOnADeployedStack(t *testing.T) {
	cloud := &brokenSubscription{deployed: true}
	m, err := deployWithPreflight(t, "error", func(context.Context, string, azauth.Settings) (preflight.Cloud, error) { return cloud, nil })
	if err == nil {
		t.Fatal("a broken subscription must stop the run in error mode")
	}
	if strings.Contains(err.Error(), "nothing was created") || !strings.Contains(err.Error(), "what earlier runs created is still there, untouched") {
		t.Errorf("the error must say the run changed nothing, not that nothing was created:\n%v", err)
	}
	if rest := beyondIdentity(m); len(rest) != 0 {
		t.Errorf("%d resources besides the stack's suffix were registered although preflight failed, e.g. %s", len(rest), rest[0].TypeToken)
	}
}

func TestPreflightWarnAndOffDeploy(t *testing.T) {
	cloud := &brokenSubscription{}
	m, warnings, err := deployWithPreflightWarnings(t, "warn", func(context.Context, string, azauth.Settings) (preflight.Cloud, error) { return cloud, nil })
	if err != nil || len(m.byType(tCluster)) != 1 || len(cloud.asked) == 0 {
		t.Fatalf("warn mode reports and deploys: %v", err)
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "preflight: caa-azure:instanceSize: Standard_DC2as_v5 is not offered in eastus") {
		t.Errorf("warn mode must show each finding as a warning; got %q", warnings)
	}
	called := false
	m, err = deployWithPreflight(t, "off", func(context.Context, string, azauth.Settings) (preflight.Cloud, error) {
		called = true
		return cloud, nil
	})
	if err != nil || called || len(m.byType(tCluster)) != 1 {
		t.Fatalf("off mode must not call Azure: called %v, %v", called, err)
	}
}

func TestPreflightWithoutCredentialsSkips(t *testing.T) {
	m, warnings, err := deployWithPreflightWarnings(t, "error", func(context.Context, string, azauth.Settings) (preflight.Cloud, error) {
		return nil, fmt.Errorf("%w: Azure CLI not found on path", preflight.ErrNoCredentials)
	})
	if err != nil || len(m.byType(tCluster)) != 1 {
		t.Fatalf("without credentials the checks are skipped (with a warning), not fatal: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "preflight checks skipped: no Azure credentials: Azure CLI not found on path") ||
		!strings.Contains(warnings[0], "az login") {
		t.Errorf("the skip must be a warning that says why and how to run the checks; got %q", warnings)
	}
}
