package stack

import (
	"context"
	"fmt"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/podvms"
)

// lateString holds a value that an output resolves during the run, for
// hooks that Pulumi calls later.
type lateString struct {
	mu sync.Mutex
	v  string
}

func (l *lateString) set(v string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.v = v
	return v
}

func (l *lateString) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.v
}

// CloudFactory opens the Azure API for the pod VM sweep.
type CloudFactory func(subscriptionID string) (podvms.Cloud, error)

// azureCloud is the real CloudFactory.
func azureCloud(subscriptionID string) (podvms.Cloud, error) {
	return podvms.NewAzureCloud(subscriptionID)
}

// registerPodVMSweep registers the hook that runs before the peer-pod
// subnet is deleted: it deletes the VMs of this stack that CAA left
// behind, so the subnet is free. Delete hooks run only with
// `pulumi destroy --run-program`.
func registerPodVMSweep(ctx *pulumi.Context, cfg *Config, subscriptionID string, resourceGroup pulumi.StringOutput,
	open CloudFactory) (*pulumi.ResourceHook, error) {
	group := &lateString{}
	resourceGroup.ApplyT(group.set)
	hook, err := ctx.RegisterResourceHook("sweep-leftover-pod-vms", func(args *pulumi.ResourceHookArgs) error {
		return runSweep(context.Background(), ctx, cfg.StackID(), subscriptionID, group.get(), args, open)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("registering the pod VM sweep: %w", err)
	}
	return hook, nil
}

// runSweep is the hook body: it finds the resource group and subnet, runs
// the sweep and logs what it deleted.
func runSweep(ctx context.Context, pctx *pulumi.Context, stackID, subscriptionID, resourceGroup string,
	args *pulumi.ResourceHookArgs, open CloudFactory) error {
	subnetID := string(args.ID)
	if v, ok := args.OldOutputs[resource.PropertyKey("id")]; ok && v.IsString() && subnetID == "" {
		subnetID = v.StringValue()
	}
	if resourceGroup == "" {
		// Our own VNet's subnet lives in the CAA resource group.
		if v, ok := args.OldInputs[resource.PropertyKey("resourceGroupName")]; ok && v.IsString() {
			resourceGroup = v.StringValue()
		}
	}
	if subnetID == "" || resourceGroup == "" {
		return fmt.Errorf("pod VM sweep: the peer-pod subnet id or the CAA resource group is unknown; " +
			"check for leftover VMs with `az vm list --resource-group <group> --output table`, then destroy with " +
			"`pulumi config set caa-azure:sweepPodVms false`")
	}
	cloud, err := open(subscriptionID)
	if err != nil {
		return err
	}
	report, err := (&podvms.Sweep{
		Cloud: cloud, ResourceGroup: resourceGroup, SubnetID: subnetID, TagKey: StackTag, TagValue: stackID,
	}).Run(ctx)
	if pctx != nil {
		_ = pctx.Log.Info("pod VM sweep: "+report.String(), nil)
	}
	return err
}
