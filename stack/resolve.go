package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa"
	"caa-azure/caa/upstream"
	"caa-azure/infra"
	"caa-azure/infra/azauth"
	"caa-azure/infra/azname"
)

// resolved is everything the build needs that had to be looked up or
// fetched. All of it is known before anything is registered, so a problem
// found here leaves nothing behind.
type resolved struct {
	cfg *Config
	log *userLog
	// subscriptionID is the one the provider deploys to; tenantID its tenant.
	subscriptionID, tenantID string
	// existingGroup and existingSubnet are the user's, or nil.
	existingGroup  *infra.ExistingResourceGroup
	existingSubnet *infra.ExistingSubnet
	// peerPodCIDR is the peer-pod range, placed in the user's VNet if need be.
	peerPodCIDR netip.Prefix
	// manifests are the operator path's rendered objects; nil on the chart path.
	manifests *caa.Manifests
	// entra is who administers an Entra ID-only cluster, or nil.
	entra *infra.EntraAccess
	// nodeSubnetCIDR is the node subnet's range (the user's, when given).
	nodeSubnetCIDR netip.Prefix
	// attestation is the KBS and the initdata that points at it, or nil.
	attestation *attestationPlan
	// identity is the stack's random suffix, registered where needed.
	identity *stackIdentity
}

// resolve looks up the subscription, the user's group and VNet, renders
// the upstream sources, resolves Entra ID and runs the preflight checks.
func resolve(ctx *pulumi.Context, cfg *Config, opts Options, log *userLog) (*resolved, error) {
	client, err := authorization.GetClientConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the Azure subscription of the deploying identity (run `az login`): %w", err)
	}
	r := &resolved{cfg: cfg, log: log, tenantID: client.TenantId, peerPodCIDR: cfg.PeerPodSubnetCIDR, nodeSubnetCIDR: cfg.ClusterSubnetCIDR,
		identity: &stackIdentity{ctx: ctx, cfg: cfg}}
	// The program's own Azure calls (preflight) use the provider's subscription.
	r.subscriptionID, _ = azauth.Subscription(providerSetting(ctx, opts.Env), client.SubscriptionId)

	if cfg.ResourceGroupName != "" {
		if r.existingGroup, err = infra.LookupResourceGroup(ctx, cfg.ResourceGroupName); err != nil {
			return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: resource group %q could not be read (%v); create it first "+
				"(`az group create -n %s -l <region>`) or leave resourceGroupName empty to let the stack create one",
				qualify(keyResourceGroupName), cfg.ResourceGroupName, err, cfg.ResourceGroupName)}}
		}
	}
	if cfg.VNetSubnet != nil {
		if err := r.placeInUserVNet(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Release.InstallMethod == upstream.InstallOperator {
		if r.manifests, err = renderManifests(ctx.Context(), cfg, opts.Sources); err != nil {
			return nil, err
		}
	}
	if cfg.Attestation {
		if r.attestation, err = planAttestation(ctx.Context(), cfg, r.nodeSubnetCIDR, opts.Sources); err != nil {
			return nil, err
		}
	}
	if r.entra, err = entraAccess(ctx, cfg, opts.LookPath, opts.Env); err != nil {
		return nil, err
	}
	if err := runPreflight(ctx, r, providerSetting(ctx, opts.Env), opts.Preflight); err != nil {
		return nil, err
	}
	return r, nil
}

// placeInUserVNet reads the VNet of the user's node subnet and places the
// peer-pod subnet in it.
func (r *resolved) placeInUserVNet(ctx *pulumi.Context) error {
	id := *r.cfg.VNetSubnet
	vnet, err := infra.LookupVNet(ctx, id)
	if err != nil {
		return &ConfigError{Problems: []string{fmt.Sprintf("%s: virtual network %q in resource group %q could not be read (%v); "+
			"check the id with `az network vnet subnet show --ids <id>`", qualify(keyVNetSubnetID), id.VirtualNetworkName, id.ResourceGroup, err)}}
	}
	var identityErr error
	peer, problems := infra.PlacePeerPodSubnet(infra.Placement{
		SubscriptionID: r.subscriptionID, Location: r.cfg.Location, Node: id, VNet: vnet,
		Requested: r.cfg.PeerPodSubnetCIDR, PodCIDR: r.cfg.PodCIDR,
		IsOwn: func(name string) bool {
			own, err := r.identity.isOwnSubnet(name)
			identityErr = errors.Join(identityErr, err)
			return own
		},
		FormerOwnName: azname.PeerPodSubnetName(r.cfg.Stack), FormerOwnKey: qualify(keyPeerPodSubnetName),
	})
	if identityErr != nil {
		return identityErr
	}
	if len(problems) > 0 {
		keys := map[string]string{infra.AboutNodeSubnet: keyVNetSubnetID, infra.AboutPeerPodSubnet: keyPeerPodSubnetCIDR, infra.AboutPodCIDR: keyPodCIDR}
		var out []string
		for _, p := range problems {
			out = append(out, qualify(keys[p.About])+": "+p.Message)
		}
		return &ConfigError{Problems: out}
	}
	r.peerPodCIDR = peer
	r.existingSubnet = &infra.ExistingSubnet{ID: id}
	for _, p := range vnet.Subnets[id.SubnetName] {
		if p.Addr().Is4() {
			r.nodeSubnetCIDR = p
			break
		}
	}
	capacity := &reader{}
	checkCapacity(r.cfg, r.nodeSubnetCIDR, peer, keyVNetSubnetID, capacity.fail)
	return capacity.err()
}

// providerSetting reads the azure-native provider's settings as the
// provider does: its config keys, then the environment.
func providerSetting(ctx *pulumi.Context, env func(string) (string, bool)) azauth.Lookup {
	return func(name string) (string, bool) {
		if strings.HasPrefix(name, "azure-native:") {
			return ctx.GetConfig(name)
		}
		return env(name)
	}
}
