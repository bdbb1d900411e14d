package caa

import (
	"fmt"
	"sort"
	"strings"
)

// DefaultVersion is the CAA release the upstream Azure guide installs.
const DefaultVersion = "0.10.0"

// DefaultImage is CAA's container image repository.
const DefaultImage = "quay.io/confidential-containers/cloud-api-adaptor"

// DefaultRBACProxyImage replaces the operator's kube-rbac-proxy sidecar,
// gcr.io/kubebuilder/kube-rbac-proxy, which gcr.io no longer serves;
// upstream moved to registry.k8s.io (CAA PRs #2906 and #2921) and this is
// the image CAA's own peerpod-ctrl chart uses.
const DefaultRBACProxyImage = "registry.k8s.io/kubebuilder/kube-rbac-proxy:v0.14.0"

// Release is everything derived from one CAA version.
type Release struct {
	CAAVersion      string
	OperatorVersion string
	Image           string
	Tag             string
	PodVMImageID    string
}

// releases lists the versions this program knows: the values the upstream
// guide of each release uses.
var releases = map[string]Release{
	"0.10.0": {
		CAAVersion:      "0.10.0",
		OperatorVersion: "0.10.0",
		Image:           DefaultImage,
		Tag:             "v0.10.0-amd64",
		PodVMImageID:    "/CommunityGalleries/cococommunity-42d8482d-92cd-415b-b332-7648bd978eff/Images/peerpod-podvm-ubuntu2204-cvm-snp/Versions/0.10.0",
	},
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
		r = Release{CAAVersion: version, Image: DefaultImage}
		var missing []string
		r.OperatorVersion = version
		if o.Tag == "" && !hasTagOrDigest(o.Image) {
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
	if o.OperatorVersion != "" {
		r.OperatorVersion = strings.TrimPrefix(o.OperatorVersion, "v")
	}
	if o.Image != "" {
		r.Image = o.Image
		if hasTagOrDigest(o.Image) && o.Tag == "" {
			r.Tag = ""
		}
	}
	if o.Tag != "" {
		r.Tag = o.Tag
	}
	if o.PodVMImageID != "" {
		r.PodVMImageID = o.PodVMImageID
	}
	return r, nil
}

// ImageRef is the CAA image with its tag (or digest, for a tag
// "sha256:..."); an image that already names a tag or digest is used as is.
func (r Release) ImageRef() string {
	switch {
	case hasTagOrDigest(r.Image) || r.Tag == "":
		return r.Image
	case strings.HasPrefix(r.Tag, "sha256:"):
		return r.Image + "@" + r.Tag
	}
	return r.Image + ":" + r.Tag
}

// hasTagOrDigest reports whether an image reference already pins a version:
// a digest, or a tag after the last path segment (a registry port is not one).
func hasTagOrDigest(image string) bool {
	if strings.Contains(image, "@") {
		return true
	}
	last := image[strings.LastIndex(image, "/")+1:]
	return strings.Contains(last, ":")
}
