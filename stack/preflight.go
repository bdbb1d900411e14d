package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azauth"
	"caa-azure/infra/azname"
	"caa-azure/infra/preflight"
)

// Preflight modes.
const (
	PreflightError = "error"
	PreflightWarn  = "warn"
	PreflightOff   = "off"
)

// SubscriptionRights is what a preflight finding about the deployer's
// rights on the subscription names instead of a configuration key.
const SubscriptionRights = "your Azure rights"

// preflightTimeout bounds all checks together.
const preflightTimeout = 30 * time.Second

// PreflightFactory opens the Azure API for the checks, signed in as the
// provider is; preflight.ErrNoCredentials means "skip, and say so".
type PreflightFactory func(ctx context.Context, subscriptionID string, settings azauth.Settings) (preflight.Cloud, error)

func azurePreflight(ctx context.Context, subscriptionID string, settings azauth.Settings) (preflight.Cloud, error) {
	return preflight.NewAzureCloud(ctx, subscriptionID, settings)
}

// podVMsAtOnce is how many pod VMs `pulumi up` waits on together: one per
// nginx replica and, with attestation, the attested sample's Job (nginx
// keeps running meanwhile); at least one, so peer pods can run at all.
func podVMsAtOnce(cfg *Config) int {
	n := 0
	if cfg.Sample {
		n = cfg.SampleReplicas
		if cfg.Attestation {
			n++
		}
	}
	return max(n, 1)
}

// stackTag is the stack tag to find the stack's footprint by; zero before
// the stack's suffix exists, when the stack has no footprint.
func stackTag(id *stackIdentity) preflight.Tag {
	if !id.known {
		return preflight.Tag{}
	}
	return preflight.Tag{Key: StackTag, Value: StackTagValue(id.cfg.Project, id.cfg.Stack, id.value)}
}

// preflightRequest lists what the deployment will ask of Azure.
func preflightRequest(cfg *Config, subscriptionID string, tag preflight.Tag) preflight.Request {
	perPod := cfg.PeerPodsLimitPerNode
	if perPod < 0 {
		perPod = 0
	}
	req := preflight.Request{
		Stack:    tag,
		Location: cfg.Location,
		Sizes: []preflight.SizeNeed{
			{Key: qualify(keyNodeVMSize), Size: cfg.NodeVMSize, Count: cfg.NodeCount, Min: cfg.NodeCount},
			{Key: qualify(keyInstanceSize), Size: cfg.InstanceSize, Count: cfg.NodeCount * perPod, Min: podVMsAtOnce(cfg), PodVMs: true},
		},
		ImageKey:             qualify(keyPodVMImageID),
		ImageID:              cfg.Release.PodVMImageID,
		KubernetesVersionKey: qualify(keyKubernetesVersion),
		KubernetesVersion:    cfg.KubernetesVersion,
	}
	if cfg.ResourceGroupName != "" {
		req.NodeResourceGroupKey, req.NodeResourceGroup = qualify(keyResourceGroupName), azname.NodeResourceGroupName(cfg.ResourceGroupName)
	}
	for _, s := range cfg.InstanceSizes {
		// Alternatives a pod may pick: they must exist; their quota is shared.
		req.Sizes = append(req.Sizes, preflight.SizeNeed{Key: qualify(keyInstanceSizes), Size: s, PodVMs: true})
	}
	subscription := "/subscriptions/" + subscriptionID
	// A right the stack needs on the subscription is no setting's fault:
	// such findings name the rights, not a key the user never set.
	subscriptionKey := SubscriptionRights
	// The pod VM group is always new, so creating it and granting CAA its
	// roles there are checked where they land: the subscription.
	req.Permissions = append(req.Permissions,
		preflight.PermissionNeed{Key: subscriptionKey, Scope: subscription,
			Action: preflight.WriteResourceGroup, Why: "the pod VM resource group needs"},
		preflight.PermissionNeed{Key: subscriptionKey, Scope: subscription,
			Action: preflight.WriteRoleAssignment, Why: "the CAA identity's role assignments on the pod VM group need"})
	// The subnet join role is defined in the VNet's group and granted on
	// its subnets: the user's group, or ours (which preflight cannot see
	// before it exists, so the subscription).
	vnetKey, vnetScope := subscriptionKey, subscription
	if cfg.ResourceGroupName != "" {
		vnetKey, vnetScope = qualify(keyResourceGroupName), subscription+"/resourceGroups/"+cfg.ResourceGroupName
	}
	if cfg.VNetSubnet != nil {
		vnetKey, vnetScope = qualify(keyVNetSubnetID), subscription+"/resourceGroups/"+cfg.VNetSubnet.ResourceGroup
		req.Permissions = append(req.Permissions, preflight.PermissionNeed{Key: vnetKey, Scope: cfg.VNetSubnet.String(),
			Action: preflight.WriteRoleAssignment, Why: "granting the cluster identity subnet join on the subnet needs"})
	}
	req.Permissions = append(req.Permissions, preflight.PermissionNeed{Key: vnetKey, Scope: vnetScope,
		Action: preflight.WriteRoleDefinition, Why: "the subnet join role (only subnets/join/action and subnets/read) needs"})
	// A user's image: CAA's read role is defined in the image's group and
	// granted on the image (the replication check is ImageID's).
	if img := cfg.PodVMImage; len(img.ReadActions()) > 0 {
		req.Permissions = append(req.Permissions,
			preflight.PermissionNeed{Key: qualify(keyPodVMImageID), Scope: img.ResourceGroupScope(), Action: preflight.WriteRoleDefinition,
				Why: "CAA's read role on the pod VM image (only " + strings.Join(img.ReadActions(), " and ") + ") needs"},
			preflight.PermissionNeed{Key: qualify(keyPodVMImageID), Scope: img.ID, Action: preflight.WriteRoleAssignment,
				Why: "granting CAA read on the pod VM image needs (without it CAA cannot create a VM from the image)"})
	}
	if cfg.GrantVMSizeRead {
		req.Permissions = append(req.Permissions, preflight.PermissionNeed{Key: qualify(keyGrantVMSizeRead), Scope: subscription,
			Action: preflight.WriteRoleDefinition, Why: "the VM size reader role needs (or set grantVmSizeRead false)"})
	}
	return req
}

// runPreflight runs the checks and turns the findings into warnings and,
// in error mode, one ConfigError. It never registers anything.
func runPreflight(ctx *pulumi.Context, r *resolved, settings azauth.Lookup, open PreflightFactory) error {
	cfg, subscriptionID := r.cfg, r.subscriptionID
	if cfg.Preflight == PreflightOff || open == nil {
		return nil
	}
	// The checks find what the stack already runs by its tag, which
	// carries the suffix.
	if err := r.identity.register(); err != nil {
		return err
	}
	tag := stackTag(r.identity)
	start := time.Now()
	cloud, err := open(ctx.Context(), subscriptionID, azauth.Read(settings))
	if err != nil {
		msg := fmt.Sprintf("preflight checks skipped: %v. Nothing about sizes, quota, the pod VM image or permissions was checked; "+
			"log in with `az login` to run them, or set caa-azure:preflight off to silence this", err)
		if !errors.Is(err, preflight.ErrNoCredentials) {
			msg = fmt.Sprintf("preflight checks could not start (%v); nothing was checked. Check the credentials the "+
				"azure-native provider uses (`az account show`, or the ARM_* variables), or set caa-azure:preflight off to silence this", err)
		}
		r.log.warn(msg)
		return nil
	}
	findings := preflight.Run(ctx.Context(), cloud, preflightRequest(cfg, subscriptionID, tag), preflightTimeout)
	var errs []string
	for _, f := range findings {
		if f.Severity == preflight.Error && cfg.Preflight == PreflightError {
			errs = append(errs, f.Key+": "+f.Message)
			continue
		}
		r.log.warn("preflight: " + f.Key + ": " + f.Message)
	}
	_ = ctx.Log.Info(fmt.Sprintf("preflight checks took %v", time.Since(start).Round(time.Millisecond)), nil)
	if len(errs) > 0 {
		// Worded for what is there: after a first successful up the
		// cluster exists, and the error says its resources are untouched.
		deployed := false
		if tag.Key != "" {
			fp, ferr := cloud.Footprint(ctx.Context(), tag)
			deployed = ferr == nil && fp.Cluster != ""
		}
		return &ConfigError{Problems: errs, Deployed: deployed, FromAzure: true}
	}
	return nil
}
