package stack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra"
	"caa-azure/infra/preflight"
)

// Preflight modes.
const (
	PreflightError = "error"
	PreflightWarn  = "warn"
	PreflightOff   = "off"
)

// preflightTimeout bounds all checks together.
const preflightTimeout = 30 * time.Second

// PreflightFactory opens the Azure API for the checks; preflight.ErrNoCredentials
// means "skip, and say so".
type PreflightFactory func(ctx context.Context, subscriptionID string) (preflight.Cloud, error)

func azurePreflight(ctx context.Context, subscriptionID string) (preflight.Cloud, error) {
	return preflight.NewAzureCloud(ctx, subscriptionID)
}

// preflightRequest lists what the deployment will ask of Azure.
func preflightRequest(cfg *Config, subscriptionID string, group string) preflight.Request {
	perPod := cfg.PeerPodsLimitPerNode
	if perPod < 0 {
		perPod = 0
	}
	req := preflight.Request{
		Location: cfg.Location,
		Sizes: []preflight.SizeNeed{
			{Key: qualify(KeyNodeVMSize), Size: cfg.NodeVMSize, Count: cfg.NodeCount},
			{Key: qualify(KeyInstanceSize), Size: cfg.InstanceSize, Count: cfg.NodeCount * perPod, PodVMs: true},
		},
		ImageKey: qualify(KeyPodVMImageID),
		ImageID:  cfg.Release.PodVMImageID,
	}
	for _, s := range cfg.InstanceSizes {
		// Alternatives a pod may pick: they must exist; their quota is shared.
		req.Sizes = append(req.Sizes, preflight.SizeNeed{Key: qualify(KeyInstanceSizes), Size: s, PodVMs: true})
	}
	subscription := "/subscriptions/" + subscriptionID
	assignKey, assignScope := qualify(KeyResourceGroupName), subscription
	if group != "" {
		assignScope = infra.ResourceGroupID(subscriptionID, group)
	}
	req.Permissions = append(req.Permissions, preflight.PermissionNeed{Key: assignKey, Scope: assignScope,
		Action: "Microsoft.Authorization/roleAssignments/write", Why: "the CAA identity's role assignments need"})
	if cfg.VNetSubnet != nil {
		req.Permissions = append(req.Permissions, preflight.PermissionNeed{Key: qualify(KeyVNetSubnetID), Scope: cfg.VNetSubnet.String(),
			Action: "Microsoft.Authorization/roleAssignments/write", Why: "granting the cluster identity Network Contributor on the subnet needs"})
	}
	if cfg.GrantVMSizeRead {
		req.Permissions = append(req.Permissions, preflight.PermissionNeed{Key: qualify(KeyGrantVMSizeRead), Scope: subscription,
			Action: "Microsoft.Authorization/roleDefinitions/write", Why: "the VM size reader role needs (or set grantVmSizeRead false)"})
	}
	return req
}

// runPreflight runs the checks and turns the findings into warnings and,
// in error mode, one ConfigError. It never registers anything.
func runPreflight(ctx *pulumi.Context, cfg *Config, subscriptionID string, open PreflightFactory) error {
	if cfg.Preflight == PreflightOff || open == nil {
		return nil
	}
	start := time.Now()
	cloud, err := open(ctx.Context(), subscriptionID)
	if err != nil {
		msg := fmt.Sprintf("preflight checks skipped: %v. Nothing about sizes, quota, the pod VM image or permissions was checked; "+
			"log in with `az login` to run them, or set caa-azure:preflight off to silence this", err)
		if !errors.Is(err, preflight.ErrNoCredentials) {
			msg = fmt.Sprintf("preflight checks could not start (%v); nothing was checked", err)
		}
		return ctx.Log.Warn(msg, nil)
	}
	findings := preflight.Run(ctx.Context(), cloud, preflightRequest(cfg, subscriptionID, cfg.ResourceGroupName), preflightTimeout)
	var errs problems
	for _, f := range findings {
		if f.Severity == preflight.Error && cfg.Preflight == PreflightError {
			errs = append(errs, f.Key+": "+f.Message)
			continue
		}
		if err := ctx.Log.Warn("preflight: "+f.Key+": "+f.Message, nil); err != nil {
			return err
		}
	}
	_ = ctx.Log.Info(fmt.Sprintf("preflight checks took %v", time.Since(start).Round(time.Millisecond)), nil)
	if len(errs) > 0 {
		errs = append(errs, "these come from the preflight checks against Azure; set caa-azure:preflight warn to deploy anyway")
		return &ConfigError{Problems: errs}
	}
	return nil
}
