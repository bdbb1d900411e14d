package caa

import (
	"strings"
	"testing"
)

func TestResolveKnownRelease(t *testing.T) {
	r, problems := ResolveRelease("0.10.0", ReleaseOverrides{})
	if problems != nil {
		t.Fatal(problems)
	}
	if r.OperatorVersion != "0.10.0" || r.ImageRef() != "quay.io/confidential-containers/cloud-api-adaptor:v0.10.0-amd64" ||
		!strings.HasSuffix(r.PodVMImageID, "/Images/peerpod-podvm-ubuntu2204-cvm-snp/Versions/0.10.0") {
		t.Errorf("derived values: %+v", r)
	}
	r, _ = ResolveRelease("v0.10.0", ReleaseOverrides{Tag: "dev", Image: "example.com/caa", OperatorVersion: "v0.11.0", PodVMImageID: "/subscriptions/s/x"})
	if r.ImageRef() != "example.com/caa:dev" || r.OperatorVersion != "0.11.0" || r.PodVMImageID != "/subscriptions/s/x" {
		t.Errorf("overrides not applied: %+v", r)
	}
	r, _ = ResolveRelease("0.10.0", ReleaseOverrides{Image: "localhost:5000/caa:mine"})
	if r.ImageRef() != "localhost:5000/caa:mine" {
		t.Errorf("an image with its own tag must be used as is: %s", r.ImageRef())
	}
	r, _ = ResolveRelease("0.10.0", ReleaseOverrides{Tag: "sha256:" + strings.Repeat("a", 64)})
	if r.ImageRef() != DefaultImage+"@sha256:"+strings.Repeat("a", 64) {
		t.Errorf("digest tag: %s", r.ImageRef())
	}
}

func TestResolveUnknownRelease(t *testing.T) {
	_, problems := ResolveRelease("0.99.0", ReleaseOverrides{})
	if len(problems) != 1 || !strings.Contains(problems[0], "0.10.0") || !strings.Contains(problems[0], "caaTag") ||
		!strings.Contains(problems[0], "podVmImageId") {
		t.Fatalf("want one problem listing the known versions and the missing keys, got %v", problems)
	}
	r, problems := ResolveRelease("0.99.0", ReleaseOverrides{Tag: "v0.99.0-amd64", PodVMImageID: "/CommunityGalleries/g/Images/i/Versions/0.99.0"})
	if problems != nil || r.OperatorVersion != "0.99.0" || r.ImageRef() != DefaultImage+":v0.99.0-amd64" {
		t.Fatalf("explicit values make an unknown version usable: %+v %v", r, problems)
	}
	if _, problems := ResolveRelease("0.99.0", ReleaseOverrides{Image: "example.com/caa:x", PodVMImageID: "/subscriptions/s"}); problems != nil {
		t.Errorf("an image with a tag replaces caaTag: %v", problems)
	}
}

func TestPeerPodsOptionalSettings(t *testing.T) {
	s := PeerPodsSettings{Tags: map[string]string{"caa-azure-stack": "caa-azure/snp", "team": "a"}}
	if got := s.optional(); len(got) != 1 || got["TAGS"] != "caa-azure-stack=caa-azure/snp,team=a" {
		t.Errorf("defaults write only TAGS: %v", got)
	}
	s.PeerPodsLimitPerNode = UpstreamPeerPodsLimit
	if _, ok := s.optional()["PEERPODS_LIMIT_PER_NODE"]; ok {
		t.Error("the upstream default limit need not be written")
	}
	s.PeerPodsLimitPerNode, s.InstanceSizes, s.EnableSecureBoot = 4, []string{"Standard_DC2as_v5", "Standard_DC4as_v5"}, true
	got := s.optional()
	if got["PEERPODS_LIMIT_PER_NODE"] != "4" || got["AZURE_INSTANCE_SIZES"] != "Standard_DC2as_v5,Standard_DC4as_v5" || got["ENABLE_SECURE_BOOT"] != "true" {
		t.Errorf("optional settings: %v", got)
	}
}
