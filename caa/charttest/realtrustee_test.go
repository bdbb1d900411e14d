package charttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"caa-azure/caa"
	"caa-azure/caa/upstream"
)

// envTrusteeRepo is a git repository of confidential-containers/trustee (a
// clone or a bare mirror) holding every commit CAA's versions.yaml pins.
const envTrusteeRepo = "TRUSTEE_REPO"

// TestRealTrusteeTree renders trustee's KBS tree at the reference each known
// CAA release pins, as the program does, and checks what it relies on: the
// overlay exists, the key goes where that KBS reads it, the images are the
// pinned ones, and the resource policy (where the tree ships one) still
// refuses the sample attester.
func TestRealTrusteeTree(t *testing.T) {
	repo := os.Getenv(envTrusteeRepo)
	if repo == "" {
		t.Skipf("set %s to a trustee git repository to render the real KBS trees (see CONTRIBUTING.md); skipped", envTrusteeRepo)
	}
	for _, version := range upstream.KnownVersions() {
		t.Run(version, func(t *testing.T) {
			m, tr := renderAtPin(t, repo, version, caa.TrusteeOptions{PCCSURL: upstream.AzurePCCS})
			// The flat store arrived with trustee v0.19.0, pinned by CAA 0.20.0.
			wantKV := version >= "0.20.0"
			if (m.Storage == caa.StorageKV) != wantKV {
				t.Errorf("storage %s; want the flat store: %v", m.Storage, wantKV)
			}
			// Up to trustee v0.17.0 (CAA 0.18.0) the tree's custom_pccs
			// overlay shows the KBS reading a PCCS configuration; a TDX
			// stack gets Azure's there.
			wantPCCS, pccs := version <= "0.18.0", false
			var kinds []string
			for _, o := range m.Objects {
				kind, _ := o["kind"].(string)
				kinds = append(kinds, kind)
				if md, _ := o["metadata"].(map[string]any); kind == "ConfigMap" && md["name"] == caa.PCCSConfigMap {
					pccs = true
				}
				for _, c := range caa.Containers(o) {
					if image := c["image"].(string); image != tr.Image && image != upstream.DefaultHelperImage {
						t.Errorf("container %v runs %s", c["name"], image)
					}
				}
			}
			if pccs != wantPCCS {
				t.Errorf("PCCS configuration rendered: %v, want %v", pccs, wantPCCS)
			}
			t.Logf("trustee %s: %s storage, objects %s", tr.Ref, m.Storage, strings.Join(kinds, ","))
		})
	}
}

// renderAtPin renders trustee's KBS tree at the reference CAA version pins,
// from repo, as the program does with opts (the pinned images and a fixed
// address filled in).
func renderAtPin(t *testing.T, repo, version string, opts caa.TrusteeOptions) (*caa.TrusteeManifests, upstream.Trustee) {
	t.Helper()
	tr, _ := upstream.TrusteeOf(version)
	root := t.TempDir()
	extract(t, repo, tr.Ref, upstream.TrusteeKubernetesDir, filepath.Join(root, upstream.TrusteeKubernetesDir))
	opts.KBSImage, opts.HelperImage, opts.Address = tr.Image, upstream.DefaultHelperImage, "10.0.255.254"
	m, err := caa.RenderTrustee(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, tr
}
