package stack

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/podvms"
)

// recordingCloud is an empty resource group that records what it was asked.
type recordingCloud struct{ groups []string }

func (r *recordingCloud) ListVMs(_ context.Context, group string) ([]podvms.VM, error) {
	r.groups = append(r.groups, group)
	return nil, nil
}
func (r *recordingCloud) ListNICs(context.Context, string) ([]podvms.NIC, error) { return nil, nil }
func (r *recordingCloud) DeleteVM(context.Context, string) error                 { return nil }
func (r *recordingCloud) DeleteNIC(context.Context, string) error                { return nil }

func TestRunSweepFindsGroupAndSubnet(t *testing.T) {
	cloud := &recordingCloud{}
	var subscription string
	open := func(sub string) (podvms.Cloud, error) { subscription = sub; return cloud, nil }
	args := &pulumi.ResourceHookArgs{
		ID:        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/p",
		OldInputs: resource.PropertyMap{"resourceGroupName": resource.NewStringProperty("from-inputs")},
	}
	if err := runSweep(context.Background(), nil, "caa-azure/snp", "sub", "caa-rg-x", args, open); err != nil {
		t.Fatal(err)
	}
	if subscription != "sub" || strings.Join(cloud.groups, ",") != "caa-rg-x" {
		t.Errorf("swept subscription %q groups %v", subscription, cloud.groups)
	}
	// Without the resolved group, our own VNet's subnet names it.
	if err := runSweep(context.Background(), nil, "caa-azure/snp", "sub", "", args, open); err != nil {
		t.Fatal(err)
	}
	if cloud.groups[1] != "from-inputs" {
		t.Errorf("fallback group = %s", cloud.groups[1])
	}
	if err := runSweep(context.Background(), nil, "caa-azure/snp", "sub", "", &pulumi.ResourceHookArgs{ID: args.ID}, open); err == nil ||
		!strings.Contains(err.Error(), "az vm list") {
		t.Errorf("an unknown group must fail with what to check by hand: %v", err)
	}
	failing := func(string) (podvms.Cloud, error) { return nil, errors.New("no credentials") }
	if err := runSweep(context.Background(), nil, "caa-azure/snp", "sub", "g", args, failing); err == nil {
		t.Error("missing credentials must fail the hook, not skip it silently")
	}
}
