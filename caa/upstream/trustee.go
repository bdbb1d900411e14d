package upstream

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// TrusteeRepository holds the key broker service (KBS) and its kustomize tree.
const TrusteeRepository = "https://github.com/confidential-containers/trustee"

// TrusteeKubernetesDir is the KBS kustomize tree CAA's e2e renders
// (test/provisioner/trustee_kbs.go), relative to a trustee checkout.
const TrusteeKubernetesDir = "kbs/config/kubernetes"

// Trustee is the KBS that CAA's versions.yaml pins for a release: the git
// reference (git.kbs.reference) and the image its e2e deploys.
type Trustee struct {
	// Ref is a tag or a full commit id of TrusteeRepository.
	Ref string
	// Image is the KBS image with its tag.
	Image string
}

// stagedKBS is where trustee publishes a KBS image for every commit; CAA's
// test/utils/checkout_kbs.sh sets kbs-container-image to it with the full
// commit id from v0.11.0 ("trustee only updates their staging image
// reliably with sha tags").
const stagedKBS = "ghcr.io/confidential-containers/staged-images/kbs:"

// trusteeCommits is versions.yaml's git.kbs.reference at each CAA tag (from
// 0.11.0 a commit; the trustee tag it carries, where one does, is noted).
var trusteeCommits = map[string]string{
	"0.11.0": "f287fcd60b0b3ddbef5546d646669813b9e68f8d", // v0.10.1-19-gf287fcd6, untagged
	"0.12.0": "68e2a8d25dbfa012b422ff464f31d18f3afa6677", // v0.11.0
	"0.13.0": "bc26ac5acd8314ba34fe837d6886beb1ce384106", // v0.12.0
	"0.14.0": "d9eb5e0cb0aca97abe35b58908e061850ff60a51", // v0.13.0
	"0.15.0": "beb4ce9346bc7f9a7ff0f686eb868472767ad8fb", // v0.14.0
	"0.16.0": "ea56c1bfa7e912f39e270ffe738b19ac8113af3d", // v0.15.0
	"0.17.0": "6d1dcfbadad2c67c0972d242156b4d5701a3e4ff", // v0.16.0
	"0.18.0": "f342a12115c67ea3af769fcd57e450f569ff7377", // v0.17.0
	"0.19.0": "f5cb8fc1b51b652fc24e2d6b8742cf417805352e", // v0.18.0
	"0.20.0": "22788122660d6e9be3e4bf52704282de5fcc0a2a", // v0.19.0
	"0.21.0": "d4e317620c4039c89779b725f74974d8f005da66", // v0.20.0
	"0.21.1": "d4e317620c4039c89779b725f74974d8f005da66", // v0.20.0
	"0.22.0": "258ea4acb7b9bd865fce5c63a539f2120dba8298", // v0.21.0
}

// TrusteeOf returns the KBS pinned for a CAA release, and false for a
// version the program does not know.
func TrusteeOf(caaVersion string) (Trustee, bool) {
	if caaVersion == "0.10.0" {
		// versions.yaml names the tag and the image (oci.kbs) directly.
		return Trustee{Ref: "v0.10.1", Image: "ghcr.io/confidential-containers/key-broker-service:built-in-as-v0.10.1"}, true
	}
	commit, ok := trusteeCommits[caaVersion]
	if !ok {
		return Trustee{}, false
	}
	return Trustee{Ref: commit, Image: stagedKBS + commit}, true
}

var commitID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// IsCommitID reports whether a git reference is a full commit id rather
// than a tag or branch.
func IsCommitID(ref string) bool { return commitID.MatchString(ref) }

// CheckTrusteeDir reports whether dir looks like the root of a trustee checkout.
func CheckTrusteeDir(dir string) error {
	return needFile(dir, filepath.Join(TrusteeKubernetesDir, "base", "kustomization.yaml"), "the root of a trustee checkout")
}

// TrusteeOverlayDir is the KBS overlay that stores the released key: at
// v0.10.1 it has one directory per architecture, later ones a single one.
func TrusteeOverlayDir(root string) (string, error) {
	for _, rel := range []string{"overlays/x86_64", "overlays"} {
		dir := filepath.Join(root, TrusteeKubernetesDir, rel)
		if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%q has no %s/overlays/kustomization.yaml (nor overlays/x86_64/); it must be the root of a trustee checkout",
		root, TrusteeKubernetesDir)
}

// Initdata encodings: how a release's kata runtime and CAA read initdata.
const (
	// InitdataBase64 is base64 of the TOML (CAA v0.10.0 to v0.13.0:
	// pkg/adaptor/cloud/cloud.go base64-decodes the annotation and -initdata).
	InitdataBase64 = "base64"
	// InitdataGzipBase64 is base64 of the gzipped TOML (pkg/initdata from
	// v0.14.0, commit cf743652; a bad global value stops CAA at start).
	InitdataGzipBase64 = "gzip+base64"
)

// InitdataFormat is the pod annotation carrying initdata and its encoding.
type InitdataFormat struct {
	Annotation string
	Encoding   string
}

// InitdataFormat returns how the release takes initdata: the annotation
// was io.katacontainers.config.runtime.cc_init_data until v0.16.0 renamed
// it (CAA commit 3fac0ef2, pkg/util/cloud.go).
func (r Release) InitdataFormat() InitdataFormat {
	f := InitdataFormat{Annotation: "io.katacontainers.config.runtime.cc_init_data", Encoding: InitdataBase64}
	if semverAtLeast(r.CAAVersion, "0.14.0") {
		f.Encoding = InitdataGzipBase64
	}
	if semverAtLeast(r.CAAVersion, "0.16.0") {
		f.Annotation = "io.katacontainers.config.hypervisor.cc_init_data"
	}
	return f
}

// MeasuresInitdata reports whether the release's pod VM image extends PCR 8
// with the initdata digest (a tpm2_pcrextend drop-in CAA's podvm files gained
// in v0.12.0); before that, nothing in the pod VM measures initdata.
func (r Release) MeasuresInitdata() bool { return semverAtLeast(r.CAAVersion, "0.12.0") }

// DefaultHelperImage replaces the init container image trustee's tree
// leaves at quay.io/prometheus/busybox:latest (up to v0.18.0; it copies the
// resource policy into place), so every image the stack runs is pinned; the
// attested sample runs it too (its wget and sha256sum). It is the busybox
// Kubernetes' own e2e tests use, at a fixed version; registry.k8s.io serves
// promoted images, whose tags are never overwritten.
const DefaultHelperImage = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"

// SampleImageDigest is the manifest list digest registry.k8s.io serves for
// DefaultHelperImage; SampleImage names the attested sample's image by it,
// so the sample's agent policy can pin what its pod VM runs. Taken from
// public pins of the same tag (no registry is reachable here): a wrong
// digest fails the sample's pull, it cannot loosen the policy.
const (
	SampleImageDigest = "sha256:a9155b13325b2abef48e71de77bb8ac015412a566829f621d06bfae5c699b1b9"
	SampleImage       = DefaultHelperImage + "@" + SampleImageDigest
)

// AzurePCCS is Azure's caching service for Intel's TDX collateral, the
// CUSTOM_PCCS_URL CAA's Azure e2e gave its KBS up to v0.18.0
// (.github/workflows/azure-e2e-test.yml); IntelCollateral is the collateral
// service CAA's e2e pairs with it (test/provisioner/trustee_kbs.go).
const (
	AzurePCCS       = "https://global.acccache.azure.net/sgx/certification/v4"
	IntelCollateral = "https://api.trustedservices.intel.com/sgx/certification/v4/"
)

// TrusteePCCSPatch is trustee's custom_pccs overlay patch (v0.10.1 to
// v0.17.0): its volume mount says where that KBS's quote library reads
// sgx_default_qcnl.conf. Later trees have no such overlay.
const TrusteePCCSPatch = TrusteeKubernetesDir + "/custom_pccs/set_custom_pccs.yaml"
