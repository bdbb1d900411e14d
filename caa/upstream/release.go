// Package upstream is what this program knows of the upstream projects: the
// CAA releases and their values, and the layout of the repositories it
// renders. It needs no SDK, so the configuration that uses it can be fuzzed
// cheaply.
package upstream

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PeerPodsLimit is CAA's own PEERPODS_LIMIT_PER_NODE default.
const PeerPodsLimit = 10

// DefaultVersion is the CAA release the upstream Azure guide installs.
const DefaultVersion = "0.10.0"

// DefaultImage is CAA's container image repository.
const DefaultImage = "quay.io/confidential-containers/cloud-api-adaptor"

// DefaultRBACProxyImage replaces the operator's kube-rbac-proxy sidecar,
// gcr.io/kubebuilder/kube-rbac-proxy, which gcr.io no longer serves;
// upstream moved to registry.k8s.io (CAA PRs #2906 and #2921) and this is
// the image CAA's own peerpod-ctrl chart uses.
const DefaultRBACProxyImage = "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.14.0"

// Install methods: the CoCo operator with CAA's kustomize overlay (the
// v0.10.0 guide), or CAA's peerpods Helm chart (v0.18.0 on; the overlays
// were removed in v0.19.0 and the operator is archived).
const (
	InstallOperator = "operator+kustomize"
	InstallChart    = "helm-chart"
)

// ChartRepository is where CAA publishes the peerpods chart.
const ChartRepository = "oci://ghcr.io/confidential-containers/cloud-api-adaptor/charts/peerpods"

// Release is everything derived from one CAA version.
type Release struct {
	CAAVersion      string
	OperatorVersion string
	Image           string
	Tag             string
	PodVMImageID    string
	// InstallMethod is InstallOperator or InstallChart.
	InstallMethod string
	// ChartVersion is the peerpods chart of the release (chart installs).
	ChartVersion string
	// SubchartTag, when set, pins the peerpod-ctrl and webhook subchart
	// images, which the release's chart leaves at latest, to the commit its
	// CAA image was built from; the chart's kube-rbac-proxy sidecars are
	// replaced too. CAA's publish_images_on_push workflow tags peerpod-ctrl
	// and peer-pods-webhook with every main commit's SHA (at v0.18.0), and
	// from v0.20.0 the chart pins them to that same SHA itself.
	SubchartTag string
	// Unverified says which values could not be checked at the tag; every
	// run of the release shows it as a warning.
	Unverified string
	// Trustee is the key broker CAA's versions.yaml pins (git.kbs.reference)
	// and its image; zero for a version the table lacks.
	Trustee Trustee
}

const (
	fedoraImage = "/CommunityGalleries/cococommunity-42d8482d-92cd-415b-b332-7648bd978eff/Images/peerpod-podvm-fedora/Versions/"
	// The nightly gallery, where CAA#2550 found the 0.15.0 image.
	nightlyImage = "/CommunityGalleries/cocopodvm-d0e4f35f-5530-4b9c-8596-112487cdea85/Images/podvm_image0/Versions/"

	// chartImageNote is why the chart releases' images are not verified.
	chartImageNote = "pod VM image: no published guide names it; CAA's azure-podvm-release workflow publishes " +
		"peerpod-podvm-fedora/<version> when run by hand and may not have run for this release (its first run after " +
		"v0.18.0 failed, CAA PR #2881); preflight checks that it exists in your region, or set podVmImageId"
)

// releases lists the versions this program knows. Sources, per release:
// the CAA image tag is the newTag of src/cloud-api-adaptor/install/overlays/
// azure/kustomization.yaml at the tag (operator path; v0.10.0 uses the
// guide's v0.10.0-amd64) or image.tag of install/charts/peerpods/values.yaml
// (chart path); the chart version is the chart's Chart.yaml.
//
// The default pod VM image, per release (no tag ships one: the overlay and
// the chart leave AZURE_IMAGE_ID empty):
//   - 0.10.0: peerpod-podvm-ubuntu2204-cvm-snp/0.10.0, the v0.10.0 guide;
//   - 0.11.0, 0.12.0, 0.14.0, 0.16.0, 0.17.0: peerpod-podvm-fedora/<version>,
//     the website's azure-simple guide of that release (confidentialcontainers.org
//     commits 3102193, 3124946, 47daf18, da48295, e4d825b); CAA#2550 saw 0.14.0 there;
//   - 0.13.0: the same name, but no guide of 0.13.0 exists (unverified);
//   - 0.15.0: CAA#2550 found it only in the nightly gallery, podvm_image0/0.15.0;
//   - 0.18.0 to 0.21.1: the release workflow's name, unverified (chartImageNote);
//   - 0.22.0: none. v0.22.0 removed the fedora build (CAA commit 470f8eac) and
//     every Azure workflow (ac8fdb88); its only pod VM artifact is a generic
//     image without TEE support, so podVmImageId is required (NoPodVMImage).
var releases = map[string]Release{
	"0.10.0": {CAAVersion: "0.10.0", OperatorVersion: "0.10.0", Image: DefaultImage, Tag: "v0.10.0-amd64",
		PodVMImageID:  "/CommunityGalleries/cococommunity-42d8482d-92cd-415b-b332-7648bd978eff/Images/peerpod-podvm-ubuntu2204-cvm-snp/Versions/0.10.0",
		InstallMethod: InstallOperator},
	"0.11.0": operatorRelease("0.11.0", "711a54235193da7092daa5e540f7822b76cb5b24", ""),
	"0.12.0": operatorRelease("0.12.0", "a7dc1190e98c1d2377b9d235f1e3d91736ce7d60", ""),
	"0.13.0": operatorRelease("0.13.0", "1265e4914a7b5c19cb48ed6ed9d9e138edde4121",
		"pod VM image: no published guide of 0.13.0 names peerpod-podvm-fedora/0.13.0; preflight checks that it exists, or set podVmImageId"),
	"0.14.0": operatorRelease("0.14.0", "2ec84f2ff9f748debaf0c9eaffd9630c6f4b011b", ""),
	"0.15.0": withPodVMImage(operatorRelease("0.15.0", "fdbda359caa2c391f20db77c7a74e8defd21460b",
		"pod VM image: CAA#2550 found 0.15.0 only in the nightly gallery (cocopodvm podvm_image0), not under peerpod-podvm-fedora; that one is used"),
		nightlyImage+"0.15.0"),
	"0.16.0": operatorRelease("0.16.0", "10da097228accf7e558f6077869de8df0ea252ef", ""),
	"0.17.0": operatorRelease("0.17.0", "e205a788d6d3ad619bd8b0896c6a847b05c0f745", ""),
	"0.18.0": pinSubcharts(chartRelease("0.18.0", "a5f492482236b9fc4a77088efe6b4c2159ae6a03", "0.1.1")),
	"0.19.0": pinSubcharts(chartRelease("0.19.0", "2274f17ad298088eeefa20fe4b3a58a350ceab4e", "0.1.3")),
	"0.20.0": chartRelease("0.20.0", "2d2e7c2c0736ec41c889cd98442a598b8b93bc0b", "0.2.0"),
	"0.21.0": chartRelease("0.21.0", "f5dd0b2657a76482c6acabe0285cc87eb5d49473", "0.3.0"),
	"0.21.1": chartRelease("0.21.1", "f5dd0b2657a76482c6acabe0285cc87eb5d49473", "0.3.1"),
	"0.22.0": withoutPodVMImage(chartRelease("0.22.0", "61b1aba91df646a663e60ab6b55c6a7dc93cd167", "0.4.0")),
}

// NoPodVMImage is why a release without a published Azure pod VM image
// needs podVmImageId, and how to make one.
const NoPodVMImage = "CAA publishes no Azure pod VM image for this release (v0.22.0 removed its Azure image builds); " +
	"build one with TEE_PLATFORM=az-cvm-vtpm (src/cloud-api-adaptor/podvm at the release tag, as the project's Azure guide's " +
	"\"build your own image\" steps describe), copy it into a gallery of yours with az-copy-image " +
	"(src/cloud-api-adaptor/cmd/az-copy-image), and set podVmImageId to its id (/subscriptions/.../galleries/.../images/.../versions/...)"

func withPodVMImage(r Release, id string) Release {
	r.PodVMImageID = id
	return r
}

func withoutPodVMImage(r Release) Release {
	r.PodVMImageID, r.Unverified = "", ""
	return r
}

func operatorRelease(version, tag, unverified string) Release {
	return Release{CAAVersion: version, OperatorVersion: version, Image: DefaultImage, Tag: tag,
		PodVMImageID: fedoraImage + version, InstallMethod: InstallOperator, Unverified: unverified}
}

// pinSubcharts is for chart releases whose subcharts pull latest
// (src/peerpod-ctrl/chart and src/webhook/chart values.yaml at v0.18.0 and
// v0.19.0) and, at v0.18.0, gcr.io's vanished kube-rbac-proxy.
func pinSubcharts(r Release) Release {
	r.SubchartTag = r.Tag
	return r
}

func chartRelease(version, tag, chart string) Release {
	return Release{CAAVersion: version, Image: DefaultImage, Tag: tag, PodVMImageID: fedoraImage + version,
		InstallMethod: InstallChart, ChartVersion: chart, Unverified: chartImageNote}
}

// ChartSupportsWorkloadIdentity reports whether the chart can annotate
// CAA's and peerpod-ctrl's service accounts (daemonset.serviceAccount and
// resourceCtrl.podLabels/serviceAccount appear in chart 0.3.0, CAA v0.21.0).
func (r Release) ChartSupportsWorkloadIdentity() bool {
	return r.InstallMethod == InstallChart && semverAtLeast(r.CAAVersion, "0.21.0")
}

// KnownVersions lists the CAA versions in the release table.
func KnownVersions() []string {
	out := make([]string, 0, len(releases))
	for v := range releases {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// ReleaseOverrides are the user's explicit values; empty means "derive".
type ReleaseOverrides struct {
	OperatorVersion string
	ChartVersion    string
	Image           string
	Tag             string
	PodVMImageID    string
}

// ResolveRelease derives every value of a CAA version, letting explicit
// overrides win. An unknown version is accepted only when nothing needs
// deriving: the error lists what is missing and the known versions.
func ResolveRelease(version string, o ReleaseOverrides) (Release, []string) {
	version = strings.TrimPrefix(version, "v")
	r, known := releases[version]
	if !known {
		r = Release{CAAVersion: version, Image: DefaultImage, InstallMethod: InstallOperator}
		if semverAtLeast(version, "0.18.0") {
			r.InstallMethod = InstallChart
		}
		var missing []string
		if r.InstallMethod == InstallOperator {
			r.OperatorVersion = version
		}
		if r.InstallMethod == InstallChart && o.ChartVersion == "" {
			missing = append(missing, "chartVersion")
		}
		if own := SplitImage(o.Image); o.Tag == "" && own.Tag == "" && own.Digest == "" {
			missing = append(missing, "caaTag (or caaImage with a tag)")
		}
		if o.PodVMImageID == "" {
			missing = append(missing, "podVmImageId")
		}
		if len(missing) > 0 {
			return Release{}, []string{fmt.Sprintf("%q is not a CAA version this program knows (%s); use one of them, "+
				"or set %s explicitly", version, strings.Join(KnownVersions(), ", "), strings.Join(missing, " and "))}
		}
	}
	if known {
		r.Trustee, _ = TrusteeOf(version)
	}
	if o.OperatorVersion != "" {
		r.OperatorVersion = strings.TrimPrefix(o.OperatorVersion, "v")
	}
	if o.Image != "" {
		r.Image = o.Image
		if own := SplitImage(o.Image); own.Tag != "" || own.Digest != "" {
			// The image's own tag or digest wins over the release's.
			r.Tag = ""
		}
	}
	if o.Tag != "" {
		r.Tag = o.Tag
	}
	if o.PodVMImageID != "" {
		r.PodVMImageID = o.PodVMImageID
		if strings.HasPrefix(r.Unverified, "pod VM image:") {
			r.Unverified = "" // the user's own image
		}
	}
	if o.ChartVersion != "" {
		r.ChartVersion = o.ChartVersion
	}
	return r, nil
}

// ImageRef is the CAA image of the release, with the user's overrides.
func (r Release) ImageRef() ImageRef {
	return SplitImage(r.Image).WithTag(r.Tag)
}

// semverAtLeast compares two x.y.z versions; each part is read up to its
// first non-digit ("1-rc1" is 1).
func semverAtLeast(v, min string) bool {
	parse := func(s string) []int {
		out := make([]int, 3)
		for i, p := range strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3) {
			out[i], _ = strconv.Atoi(p[:len(p)-len(strings.TrimLeft(p, "0123456789"))])
		}
		return out
	}
	return slices.Compare(parse(v), parse(min)) >= 0
}
