package stack

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa"
	"caa-azure/caa/initdata"
	"caa-azure/caa/kbscert"
	"caa-azure/caa/upstream"
	"caa-azure/infra/cidr"
	"caa-azure/workload"
)

// attestationPlan is everything the attestation add-on needs that can be
// known before anything is registered: the KBS's address, its objects, and
// how initdata is built once the KBS's certificate is known.
type attestationPlan struct {
	// URL is the KBS as pod VMs reach it.
	URL string
	// Address is the KBS's fixed address, which its certificate names.
	Address string
	// Trustee are the rendered KBS objects.
	Trustee *caa.TrusteeManifests
	// encoding is how the release reads initdata.
	encoding string
	// samplePolicy is the attested sample's kata agent policy.
	samplePolicy string
	// teeKeys are the claim names the resource policy matches; nil when no
	// PCR 8 can be bound (no vTPM, or an image that does not measure).
	teeKeys []string
	// measured says the release's pod VM image measures initdata.
	measured bool
}

// boundAttestation is what depends on the KBS's certificate, which initdata
// pins and which comes from a seed in state: the initdata documents, their
// PCR 8 and the resource policy naming it.
type boundAttestation struct {
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

// bind builds everything that pins the KBS certificate certPEM.
func (p *attestationPlan) bind(certPEM string) (boundAttestation, error) {
	var b boundAttestation
	doc, err := initdata.Build(p.URL, certPEM)
	if err != nil {
		return b, err
	}
	sampleDoc, err := initdata.BuildWithPolicy(p.URL, certPEM, p.samplePolicy)
	if err != nil {
		return b, err
	}
	if b.Encoded, err = initdata.Encode(doc, p.encoding); err != nil {
		return b, err
	}
	if b.SampleEncoded, err = initdata.Encode(sampleDoc, p.encoding); err != nil {
		return b, err
	}
	if !p.measured {
		return b, nil
	}
	if p.teeKeys != nil {
		b.PCR8 = initdata.PCR8(sampleDoc)
	}
	// Without a vTPM (disableCvm) there is no PCR 8 to bind to: the
	// policy then allows nothing.
	b.ResourcePolicy, err = caa.ResourcePolicy(p.teeKeys, b.PCR8)
	return b, err
}

// boundOutput is one field of what bind gives for the KBS's certificate.
func (p *attestationPlan) boundOutput(certificate pulumi.StringOutput, field func(boundAttestation) string) pulumi.StringOutput {
	return certificate.ApplyT(func(cert string) (string, error) {
		b, err := p.bind(cert)
		return field(b), err
	}).(pulumi.StringOutput)
}

// bindsPCR8 says the stack exports a PCR 8 (initdataPcr8).
func (p *attestationPlan) bindsPCR8() bool { return p.measured && p.teeKeys != nil }

// planAttestation places the KBS at a fixed address of the node subnet,
// renders trustee's tree and plans the initdata. The address is fixed, not
// read back from the Service, and the certificate comes from a seed in
// state, so the initdata (and PCR 8) stays the same on every run; only a
// stack's first preview shows them unknown.
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
	samplePolicy, err := initdata.SamplePolicy(initdata.Pinned{ImageDigest: upstream.SampleImageDigest, Args: workload.AttestedCommand()})
	if err != nil {
		return nil, err
	}
	plan := &attestationPlan{
		URL:          fmt.Sprintf("https://%s:%d", addr, caa.KBSPort),
		Address:      addr.String(),
		encoding:     cfg.Release.InitdataFormat().Encoding,
		samplePolicy: samplePolicy,
		measured:     cfg.Release.MeasuresInitdata(),
	}
	if !cfg.DisableCVM {
		plan.teeKeys = caa.TEEClaimKeys(string(cfg.TEE))
	}
	// What bind would refuse (initdata too large for Azure's userData) is
	// refused now, before anything is registered, with a certificate of the
	// real one's shape.
	shape, err := kbscert.Derive(make([]byte, kbscert.SeedSize), addr, netip.MustParseAddr(caa.KBSLoopback))
	if err != nil {
		return nil, err
	}
	if _, err := plan.bind(shape.Certificate); err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v", qualify(keyAttestation), err)}}
	}
	opts := caa.TrusteeOptions{KBSImage: cfg.Release.Trustee.Image, HelperImage: upstream.DefaultHelperImage,
		Address: addr.String(), BindResourcePolicy: plan.measured}
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
