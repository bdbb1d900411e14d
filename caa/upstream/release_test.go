package upstream

import (
	"strings"
	"testing"
)

func TestResolveKnownRelease(t *testing.T) {
	r, problems := ResolveRelease("0.10.0", ReleaseOverrides{})
	if problems != nil {
		t.Fatal(problems)
	}
	if r.OperatorVersion != "0.10.0" || r.ImageRef().String() != "quay.io/confidential-containers/cloud-api-adaptor:v0.10.0-amd64" ||
		!strings.HasSuffix(r.PodVMImageID, "/Images/peerpod-podvm-ubuntu2204-cvm-snp/Versions/0.10.0") {
		t.Errorf("derived values: %+v", r)
	}
	r, _ = ResolveRelease("v0.10.0", ReleaseOverrides{Tag: "dev", Image: "example.com/caa", OperatorVersion: "v0.11.0", PodVMImageID: "/subscriptions/s/x"})
	if r.ImageRef().String() != "example.com/caa:dev" || r.OperatorVersion != "0.11.0" || r.PodVMImageID != "/subscriptions/s/x" {
		t.Errorf("overrides not applied: %+v", r)
	}
	r, _ = ResolveRelease("0.10.0", ReleaseOverrides{Image: "localhost:5000/caa:mine"})
	if r.ImageRef().String() != "localhost:5000/caa:mine" {
		t.Errorf("an image with its own tag must be used as is: %s", r.ImageRef().String())
	}
	// An image pinned by digest alone gets no tag of the release's.
	r, _ = ResolveRelease("0.10.0", ReleaseOverrides{Image: "example.com/caa@sha256:" + strings.Repeat("c", 64)})
	if r.ImageRef().String() != "example.com/caa@sha256:"+strings.Repeat("c", 64) {
		t.Errorf("an image with its own digest must be used as is: %s", r.ImageRef().String())
	}
	r, _ = ResolveRelease("0.10.0", ReleaseOverrides{Tag: "sha256:" + strings.Repeat("a", 64)})
	if r.ImageRef().String() != DefaultImage+"@sha256:"+strings.Repeat("a", 64) {
		t.Errorf("digest tag: %s", r.ImageRef().String())
	}
}

func TestResolveUnknownRelease(t *testing.T) {
	_, problems := ResolveRelease("0.99.0", ReleaseOverrides{})
	if len(problems) != 1 || !strings.Contains(problems[0], "0.10.0") || !strings.Contains(problems[0], "caaTag") ||
		!strings.Contains(problems[0], "podVmImageId") {
		t.Fatalf("want one problem listing the known versions and the missing keys, got %v", problems)
	}
	r, problems := ResolveRelease("0.99.0", ReleaseOverrides{Tag: "v0.99.0-amd64", PodVMImageID: "/CommunityGalleries/g/Images/i/Versions/0.99.0", ChartVersion: "0.9.0"})
	if problems != nil || r.InstallMethod != InstallChart || r.ChartVersion != "0.9.0" || r.ImageRef().String() != DefaultImage+":v0.99.0-amd64" {
		t.Fatalf("explicit values make an unknown version usable: %+v %v", r, problems)
	}
	if _, problems := ResolveRelease("0.99.0", ReleaseOverrides{Image: "example.com/caa:x", PodVMImageID: "/subscriptions/s"}); len(problems) != 1 ||
		!strings.Contains(problems[0], "chartVersion") {
		t.Errorf("an unknown chart release needs its chart version: %v", problems)
	}
	r, problems = ResolveRelease("0.17.5", ReleaseOverrides{Image: "example.com/caa:x", PodVMImageID: "/subscriptions/s"})
	if problems != nil || r.InstallMethod != InstallOperator || r.OperatorVersion != "0.17.5" {
		t.Errorf("an unknown pre-0.18 release uses the operator: %+v %v", r, problems)
	}
}

// TestReleaseTable checks every entry for the facts the install depends on.
func TestReleaseTable(t *testing.T) {
	versions := KnownVersions()
	if len(versions) != 14 || versions[0] != "0.10.0" || versions[len(versions)-1] != "0.22.0" {
		t.Fatalf("the table should hold every release from 0.10.0 to 0.22.0: %v", versions)
	}
	for _, v := range versions {
		r, problems := ResolveRelease(v, ReleaseOverrides{})
		if problems != nil {
			t.Errorf("%s: %v", v, problems)
			continue
		}
		chart := semverAtLeast(v, "0.18.0")
		switch {
		case chart && (r.InstallMethod != InstallChart || r.ChartVersion == "" || r.OperatorVersion != ""):
			t.Errorf("%s: releases from 0.18.0 install with the chart: %+v", v, r)
		case !chart && (r.InstallMethod != InstallOperator || r.OperatorVersion != v || r.ChartVersion != ""):
			t.Errorf("%s: releases before 0.18.0 install with the operator of the same version: %+v", v, r)
		}
		// Every release has a published image of its own version, except
		// 0.22.0, which publishes none and so requires podVmImageId.
		noImage := v == "0.22.0"
		if r.Tag == "" || (noImage != (r.PodVMImageID == "")) || (!noImage && (!strings.HasPrefix(r.PodVMImageID, "/CommunityGalleries/") ||
			!strings.HasSuffix(r.PodVMImageID, "/Versions/"+v))) {
			t.Errorf("%s: incomplete entry %+v", v, r)
		}
		// Subcharts that pull latest (charts before 0.2.0) are pinned.
		if pinned := r.SubchartTag == r.Tag && r.Tag != ""; chart && pinned != !semverAtLeast(v, "0.20.0") {
			t.Errorf("%s: subchart pin %q, want the release's tag exactly for 0.18.0 and 0.19.0", v, r.SubchartTag)
		}
		if r.ChartSupportsWorkloadIdentity() != semverAtLeast(v, "0.21.0") {
			t.Errorf("%s: chart workload-identity support misjudged", v)
		}
	}
	for _, c := range []struct {
		v, min string
		want   bool
	}{
		{"0.21.1", "0.21.0", true}, {"0.21.0", "0.21.0", true}, {"0.20.9", "0.21.0", false},
		{"0.9.9", "0.10.0", false}, {"v1.0.0", "0.22.0", true}, {"0.18.0-rc1", "0.18.0", true}, {"0.17.99", "0.18.0", false},
	} {
		if got := semverAtLeast(c.v, c.min); got != c.want {
			t.Errorf("semverAtLeast(%q, %q) = %v, want %v", c.v, c.min, got, c.want)
		}
	}
}

// TestImageRefs: one function gives both install paths their image, and
// the chart's form is refused where the chart cannot render it.
func TestImageRefs(t *testing.T) {
	digest := "sha256:" + strings.Repeat("b", 64)
	cases := []struct {
		image, tag                          string
		full, chartName, chartTag, chartErr string
	}{
		{"quay.io/c/caa", "v1", "quay.io/c/caa:v1", "quay.io/c/caa", "v1", ""},
		{"example.azurecr.io/caa:v9", "", "example.azurecr.io/caa:v9", "example.azurecr.io/caa", "v9", ""},
		{"localhost:5000/caa:mine", "", "localhost:5000/caa:mine", "localhost:5000/caa", "mine", ""},
		{"quay.io/c/caa", "v1@" + digest, "quay.io/c/caa:v1@" + digest, "quay.io/c/caa", "v1@" + digest, ""},
		{"quay.io/c/caa:v1@" + digest, "", "quay.io/c/caa:v1@" + digest, "quay.io/c/caa", "v1@" + digest, ""},
		{"quay.io/c/caa", digest, "quay.io/c/caa@" + digest, "", "", "without a tag"},
		{"quay.io/c/caa@" + digest, "", "quay.io/c/caa@" + digest, "", "", "without a tag"},
		{"localhost:5000/caa", "", "localhost:5000/caa", "", "", "has no tag"},
		{"example.azurecr.io/caa:v9", "v10", "example.azurecr.io/caa:v10", "example.azurecr.io/caa", "v10", ""},
		{"cloud-api-adaptor", "", "cloud-api-adaptor", "", "", "has no tag"},
		{"gcr.io/kubebuilder/kube-rbac-proxy:v0.13.1", "", "gcr.io/kubebuilder/kube-rbac-proxy:v0.13.1", "gcr.io/kubebuilder/kube-rbac-proxy", "v0.13.1", ""},
	}
	for _, c := range cases {
		ref := SplitImage(c.image).WithTag(c.tag)
		if ref.String() != c.full {
			t.Errorf("%s + %q = %s, want %s", c.image, c.tag, ref, c.full)
		}
		name, tag, err := ref.ChartNameTag()
		if c.chartErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.chartErr) {
				t.Errorf("%s + %q: chart form %s:%s, want an error with %q (got %v)", c.image, c.tag, name, tag, c.chartErr, err)
			}
			continue
		}
		if err != nil || name != c.chartName || tag != c.chartTag {
			t.Errorf("%s + %q: chart form %q %q %v, want %q %q", c.image, c.tag, name, tag, err, c.chartName, c.chartTag)
		}
	}
}
