package stack

import (
	"fmt"
	"net/netip"

	"caa-azure/caa/upstream"
)

// Keys of the attestation add-on.
const (
	keyAttestation      = "attestation"
	keyTrusteeSourceDir = "trusteeSourceDir"
	keyKBSAddress       = "kbsAddress"
)

// parseAttestation reads the attestation keys: on, where trustee's tree
// comes from, and the KBS's address in the node subnet.
func parseAttestation(c *Config, r *reader) (warnings []string) {
	c.Attestation = r.boolean(keyAttestation, false,
		"true deploys trustee's key broker (KBS) and a sample that gets its secret only from an attested pod VM")
	c.TrusteeSourceDir = r.str(keyTrusteeSourceDir)
	if raw := r.str(keyKBSAddress); raw != "" {
		addr, err := netip.ParseAddr(raw)
		if err != nil || !addr.Is4() {
			r.fail(keyKBSAddress, "%q is not an IPv4 address; use a free address of the node subnet such as 10.224.255.254, "+
				"or leave it empty for the subnet's last assignable address", raw)
		}
		c.KBSAddress = addr
	}
	if !c.Attestation {
		// Values nothing would read are mistakes, not preferences.
		for _, key := range []string{keyTrusteeSourceDir, keyKBSAddress} {
			if r.str(key) != "" {
				r.fail(key, "is set but attestation is false, so nothing reads it; set attestation true or remove it (`pulumi config rm %s`)", qualify(key))
			}
		}
		return nil
	}
	if c.TrusteeSourceDir != "" {
		if err := upstream.CheckTrusteeDir(c.TrusteeSourceDir); err != nil {
			r.fail(keyTrusteeSourceDir, "%v", err)
		}
	}
	if c.Release.CAAVersion == "" {
		return nil // caaVersion is already reported
	}
	if c.Release.Trustee.Ref == "" {
		r.fail(keyAttestation, "is true but caaVersion %s has no trustee pin this program knows; use one of %v",
			c.Release.CAAVersion, upstream.KnownVersions())
		return nil
	}
	if !c.DisableCVM && !c.Release.MeasuresInitdata() {
		warnings = append(warnings, fmt.Sprintf("attestation: caaVersion %s's pod VM image does not extend PCR 8 with the initdata "+
			"digest (CAA added that in v0.12.0), so the stack exports no initdataPcr8 and nothing binds the secret to this stack's "+
			"initdata: the KBS keeps trustee's "+
			"resource policy and releases the secret to any pod VM that attests as a TEE, whatever it runs; use caaVersion 0.12.0 "+
			"or later to bind it", c.Release.CAAVersion))
	}
	return warnings
}
