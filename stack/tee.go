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
)

// checkVMSize reports whether size is a syntactically valid Azure VM size.
func checkVMSize(size string) error {
	if !vmSizePattern.MatchString(size) {
		return fmt.Errorf("%q is not an Azure VM size such as Standard_DC2as_v5 (see `az vm list-sizes --location <region> -o table`)", size)
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
