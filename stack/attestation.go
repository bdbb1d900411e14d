package stack

import (
	"context"
	"fmt"
	"net/netip"

	"caa-azure/caa"
	"caa-azure/caa/initdata"
	"caa-azure/caa/upstream"
	"caa-azure/infra/cidr"
	"caa-azure/workload"
)

// attestationPlan is everything the attestation add-on needs that can be
// known before anything is registered: the KBS's address, its objects, and
// the initdata pointing pod VMs at it.
type attestationPlan struct {
	// URL is the KBS as pod VMs reach it.
	URL string
	// Trustee are the rendered KBS objects.
	Trustee *caa.TrusteeManifests
	// Encoded is the initdata every pod VM without its own boots with (the
	// global INITDATA), as the release takes it.
	Encoded string
	// SampleEncoded is the attested sample's annotation: the same clients,
	// an agent policy that pins the sample's image and command.
	SampleEncoded string
	// PCR8 is what the sample's pod VM's PCR 8 holds after boot, the only
	// measurement the KBS releases resources to, or "" when the release's
	// image does not measure initdata or the pod VM has no vTPM.
	PCR8 string
	// ResourcePolicy is the KBS's, or "" where the tree's stays (releases
	// that do not measure initdata).
	ResourcePolicy string
}

// planAttestation places the KBS at a fixed address of the node subnet,
// renders trustee's tree and builds the initdata. The address is fixed, not
// read back from the Service, so the initdata (and PCR 8) is known at
// preview and stays the same on every run.
func planAttestation(ctx context.Context, cfg *Config, nodeSubnet netip.Prefix, cache *caa.SourceCache) (*attestationPlan, error) {
	addr := cfg.KBSAddress
	if !addr.IsValid() {
		last, err := cidr.LastAssignable(nodeSubnet)
		if err != nil {
			return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: the node subnet gives no address for the KBS (%v); set %s to a free address of it",
				qualify(keyAttestation), err, qualify(keyKBSAddress))}}
		}
		addr = last
	} else if err := cidr.CheckAssignable(nodeSubnet, addr); err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v; the KBS's internal load balancer takes its address from the node subnet "+
			"(leave it empty for %s's last assignable address)", qualify(keyKBSAddress), err, nodeSubnet)}}
	}
	root := cfg.TrusteeSourceDir
	if root == "" {
		if cache == nil {
			return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: no source cache is available to clone trustee; set %s to a checkout of %s at %s",
				qualify(keyAttestation), qualify(keyTrusteeSourceDir), upstream.TrusteeRepository, cfg.Release.Trustee.Ref)}}
		}
		cloneCtx, cancel := context.WithTimeout(ctx, cloneTimeout)
		defer cancel()
		dir, err := cache.Checkout(cloneCtx, upstream.TrusteeRepository, cfg.Release.Trustee.Ref)
		if err != nil {
			return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %s is empty, so the program fetches trustee at %s, but %v; clone it yourself "+
				"(`git clone %s && git -C trustee checkout %s`) and set %s to the checkout",
				qualify(keyAttestation), qualify(keyTrusteeSourceDir), cfg.Release.Trustee.Ref, err, upstream.TrusteeRepository, cfg.Release.Trustee.Ref, qualify(keyTrusteeSourceDir))}}
		}
		root = dir
	}
	url := fmt.Sprintf("http://%s:%d", addr, caa.KBSPort)
	doc, err := initdata.Build(url)
	if err != nil {
		return nil, err
	}
	samplePolicy, err := initdata.SamplePolicy(initdata.Pinned{ImageDigest: upstream.SampleImageDigest, Args: workload.AttestedCommand()})
	if err != nil {
		return nil, err
	}
	sampleDoc, err := initdata.BuildWithPolicy(url, samplePolicy)
	if err != nil {
		return nil, err
	}
	format := cfg.Release.InitdataFormat()
	plan := &attestationPlan{URL: url}
	if plan.Encoded, err = initdata.Encode(doc, format.Encoding); err != nil {
		return nil, err
	}
	if plan.SampleEncoded, err = initdata.Encode(sampleDoc, format.Encoding); err != nil {
		return nil, err
	}
	if cfg.Release.MeasuresInitdata() {
		// Without a vTPM (disableCvm) there is no PCR 8 to bind to: the
		// policy then allows nothing.
		var teeKeys []string
		if !cfg.DisableCVM {
			plan.PCR8 = initdata.PCR8(sampleDoc)
			teeKeys = caa.TEEClaimKeys(string(cfg.TEE))
		}
		if plan.ResourcePolicy, err = caa.ResourcePolicy(teeKeys, plan.PCR8); err != nil {
			return nil, err
		}
	}
	opts := caa.TrusteeOptions{KBSImage: cfg.Release.Trustee.Image, HelperImage: upstream.DefaultHelperImage,
		Address: addr.String(), ResourcePolicy: plan.ResourcePolicy}
	if cfg.TEE == TEETDX {
		// The KBS verifies TDX quotes with collateral from a PCCS; where
		// the pinned tree says its KBS needs one, Azure's, as CAA's e2e did.
		opts.PCCSURL = upstream.AzurePCCS
	}
	trustee, err := caa.RenderTrustee(root, opts)
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: trustee's KBS tree cannot be used: %v", qualify(keyTrusteeSourceDir), err)}}
	}
	plan.Trustee = trustee
	return plan, nil
}
