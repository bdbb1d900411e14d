package upstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitdataFormatPerRelease(t *testing.T) {
	const runtime, hypervisor = "io.katacontainers.config.runtime.cc_init_data", "io.katacontainers.config.hypervisor.cc_init_data"
	for version, want := range map[string]InitdataFormat{
		"0.10.0": {runtime, InitdataBase64},
		"0.13.0": {runtime, InitdataBase64},
		"0.14.0": {runtime, InitdataGzipBase64},
		"0.15.0": {runtime, InitdataGzipBase64},
		"0.16.0": {hypervisor, InitdataGzipBase64},
		"0.22.0": {hypervisor, InitdataGzipBase64},
	} {
		if got := (Release{CAAVersion: version}).InitdataFormat(); got != want {
			t.Errorf("%s: %+v, want %+v", version, got, want)
		}
	}
	if (Release{CAAVersion: "0.11.0"}).MeasuresInitdata() || !(Release{CAAVersion: "0.12.0"}).MeasuresInitdata() {
		t.Error("PCR 8 is extended from v0.12.0's pod VM image on")
	}
}

// TestTrusteeForEveryRelease: each known CAA release has its pinned KBS, the
// image names the exact commit (never a moving tag) and the ref is cloneable.
func TestTrusteeForEveryRelease(t *testing.T) {
	for _, v := range KnownVersions() {
		tr, ok := TrusteeOf(v)
		if !ok {
			t.Errorf("%s: no trustee pin", v)
			continue
		}
		ref := SplitImage(tr.Image)
		if ref.Tag == "" || ref.Tag == "latest" {
			t.Errorf("%s: KBS image %q is not pinned", v, tr.Image)
		}
		if IsCommitID(tr.Ref) && ref.Tag != tr.Ref {
			t.Errorf("%s: staged KBS image tag %q must be the pinned commit %s", v, ref.Tag, tr.Ref)
		}
		if !IsCommitID(tr.Ref) && !strings.HasPrefix(tr.Ref, "v") {
			t.Errorf("%s: ref %q is neither a commit nor a tag", v, tr.Ref)
		}
	}
	if _, ok := TrusteeOf("0.99.0"); ok {
		t.Error("an unknown release has no pin")
	}
	r, _ := ResolveRelease("0.22.0", ReleaseOverrides{PodVMImageID: "/subscriptions/s/x"})
	if r.Trustee.Ref != "258ea4acb7b9bd865fce5c63a539f2120dba8298" {
		t.Errorf("the release table carries the trustee pin: %+v", r.Trustee)
	}
	if r, _ := ResolveRelease("0.99.0", ReleaseOverrides{Tag: "x", PodVMImageID: "/subscriptions/s/x", ChartVersion: "0.9.0"}); r.Trustee.Ref != "" {
		t.Errorf("an unknown release has no trustee: %+v", r.Trustee)
	}
}

func TestTrusteeOverlayDir(t *testing.T) {
	root := t.TempDir()
	if _, err := TrusteeOverlayDir(root); err == nil || !strings.Contains(err.Error(), "trustee checkout") {
		t.Errorf("an empty directory must be refused: %v", err)
	}
	for _, rel := range []string{"overlays", "overlays/x86_64"} {
		dir := filepath.Join(root, TrusteeKubernetesDir, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := TrusteeOverlayDir(root)
		if err != nil || got != dir {
			t.Errorf("with %s: %q %v", rel, got, err)
		}
	}
}
