package stack

import (
	"fmt"
	"regexp"
)

// TEE is the trusted execution environment the pod VMs run in: the
// guide's per-TEE tabs.
type TEE string

// The TEEs the guide covers.
const (
	TEESNP  TEE = "snp"
	TEETDX  TEE = "tdx"
	TEENone TEE = "none"
)

var (
	vmSizePattern = regexp.MustCompile(`^Standard_[A-Za-z0-9_]+$`)
	// AMD SEV-SNP confidential VMs: DCasv5/DCadsv5/DCasv6/DCadsv6 and the
	// memory-optimised EC variants.
	snpSizePattern = regexp.MustCompile(`^Standard_(DC|EC)[0-9]+a(d)?s_v[56]$`)
	// Intel TDX confidential VMs: DCesv5/DCedsv5 (retired preview) and
	// DCesv6/DCedsv6 with the EC variants.
	tdxSizePattern = regexp.MustCompile(`^Standard_(DC|EC)[0-9]+e(d)?s_v[56]$`)
	// The TDX v5 sizes were a preview that Azure retired; upstream CAA
	// switched its docs and CI to DCesv6 (confidential-containers/cloud-api-adaptor PR #2559).
	retiredTDXSizePattern = regexp.MustCompile(`^Standard_((DC|EC)[0-9]+e(d)?s)_v5$`)
	// Arm64 sizes (Ampere Altra, Cobalt 100) carry 'p' among the lower-case
	// feature letters after the vCPU count ("Azure virtual machine sizes
	// naming conventions", Microsoft Learn): Standard_D2ps_v5,
	// Standard_E4pds_v6, Standard_B2pls_v2. The groups rebuild the name
	// without the 'p', the x86-64 size of the same shape.
	armSizePattern = regexp.MustCompile(`^(Standard_[A-Z]+[0-9]+(?:-[0-9]+)?[a-z]*)p([a-z]*)(_v[0-9]+)$`)
)

// checkVMSize reports whether size is a syntactically valid Azure VM size
// that runs amd64 code.
func checkVMSize(size string) error {
	if !vmSizePattern.MatchString(size) {
		return fmt.Errorf("%q is not an Azure VM size such as Standard_DC2as_v5 (see `az vm list-sizes --location <region> -o table`)", size)
	}
	if m := armSizePattern.FindStringSubmatch(size); m != nil {
		return fmt.Errorf("%q is an Arm64 size (the 'p' in its name), but CAA's images and pod VM images for Azure are amd64; "+
			"use an x86-64 size such as %s", size, m[1]+m[2]+m[3])
	}
	return nil
}

// checkInstanceSizeForTEE reports whether a pod VM size can host the TEE,
// and a warning when the size is known to be retired.
func checkInstanceSizeForTEE(tee TEE, size string) (warning string, err error) {
	if err := checkVMSize(size); err != nil {
		return "", err
	}
	switch tee {
	case TEESNP:
		if !snpSizePattern.MatchString(size) {
			return "", fmt.Errorf("%q is not an AMD SEV-SNP confidential size; tee snp needs a DC*as_v5/v6-style size such as Standard_DC2as_v5", size)
		}
	case TEETDX:
		if !tdxSizePattern.MatchString(size) {
			return "", fmt.Errorf("%q is not an Intel TDX confidential size; tee tdx needs a DC*es_v6-style size such as Standard_DC2es_v6", size)
		}
		if m := retiredTDXSizePattern.FindStringSubmatch(size); m != nil {
			return fmt.Sprintf("instanceSize %q is a retired preview TDX size (the *es_v5 family, see CAA PR #2559); Azure no longer offers it: use %s instead",
				size, "Standard_"+m[1]+"_v6"), nil
		}
	case TEENone:
		if snpSizePattern.MatchString(size) || tdxSizePattern.MatchString(size) {
			return fmt.Sprintf("instanceSize %q is a confidential size but tee is none: pod VMs will run without a TEE on a confidential-priced size; "+
				"a general-purpose size such as Standard_D2as_v5 costs less", size), nil
		}
	}
	return "", nil
}
