package caa

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

var (
	ourPCR8   = strings.Repeat("8a", 32)
	otherPCR8 = strings.Repeat("07", 32)
)

func TestResourcePolicyText(t *testing.T) {
	bound, err := ResourcePolicy(TEEClaimKeys("snp"), ourPCR8)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"package policy\n", "import rego.v1\n", "default allow := false\n", `"az-snp-vtpm", "azsnpvtpm"`,
		`submod["ear.veraison.annotated-evidence"][tee].tpm.pcr08 == "` + ourPCR8 + `"`} {
		if !strings.Contains(bound, want) {
			t.Errorf("the bound policy lacks %s:\n%s", want, bound)
		}
	}
	for _, tc := range []struct {
		keys []string
		pcr8 string
	}{{nil, ourPCR8}, {TEEClaimKeys("snp"), ""}, {TEEClaimKeys("none"), ourPCR8}} {
		p, err := ResourcePolicy(tc.keys, tc.pcr8)
		if err != nil || strings.Contains(p, "allow if") {
			t.Errorf("keys %v, PCR 8 %q: the policy must allow nothing: %v\n%s", tc.keys, tc.pcr8, err, p)
		}
	}
	if _, err := ResourcePolicy(TEEClaimKeys("snp"), "8A"); err == nil {
		t.Error("a PCR 8 that is not 64 hex digits must be refused")
	}
}

// envOPA names an `opa` binary (Open Policy Agent's CLI). The KBS evaluates
// its policy with regorus, which cannot run here; OPA evaluates the same
// Rego, so it shows what the rules decide, not that regorus agrees.
const envOPA = "OPA_BIN"

func opaAllow(t *testing.T, policy string, input any) bool {
	t.Helper()
	bin := os.Getenv(envOPA)
	if bin == "" {
		t.Skipf("set %s to an opa binary to evaluate the policy (see CONTRIBUTING.md); skipped", envOPA)
	}
	dir := t.TempDir()
	in, _ := json.Marshal(input)
	for name, b := range map[string][]byte{"policy.rego": []byte(policy), "input.json": in} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "eval", "--format", "raw", "--data", filepath.Join(dir, "policy.rego"), "--input", filepath.Join(dir, "input.json"),
		"data.policy.allow")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("opa eval: %v\n%s", err, out.String())
	}
	return strings.TrimSpace(out.String()) == "true"
}

// earClaims is the KBS policy input: an EAR token's claims with one
// submodule whose annotated evidence holds one verifier's claims, as
// trustee's ear broker writes them (the tee's claims under its name, PCRs
// under tpm, the initdata claim moved to the top).
func earClaims(submod, tee, pcr8 string) map[string]any {
	evidence := map[string]any{"init_data": pcr8, "report_data": "00"}
	if tee == "sample" {
		evidence[tee] = map[string]any{"svn": "1"}
	} else {
		evidence[tee] = map[string]any{"tpm": map[string]any{"pcr07": otherPCR8, "pcr08": pcr8}}
	}
	return map[string]any{"submods": map[string]any{submod: map[string]any{
		"ear.status": "affirming", "ear.veraison.annotated-evidence": evidence}}}
}

// TestResourcePolicyDecides evaluates the bound policy on the claims of
// each pinned trustee family: the stack's PCR 8 from its TEE's verifier is
// allowed, under either submodule and claim name; another PCR 8, another
// TEE, and the sample attester (which echoes any init_data) are not.
func TestResourcePolicyDecides(t *testing.T) {
	snp, err := ResourcePolicy(TEEClaimKeys("snp"), ourPCR8)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		input any
		want  bool
	}{
		"trustee v0.11.0 to v0.13.0 (cpu, azsnpvtpm)":   {earClaims("cpu", "azsnpvtpm", ourPCR8), true},
		"trustee v0.14.0, v0.15.0 (cpu0, azsnpvtpm)":    {earClaims("cpu0", "azsnpvtpm", ourPCR8), true},
		"trustee v0.20.0 on (cpu0, az-snp-vtpm)":        {earClaims("cpu0", "az-snp-vtpm", ourPCR8), true},
		"another initdata":                              {earClaims("cpu0", "az-snp-vtpm", otherPCR8), false},
		"a TDX pod VM on an SNP stack":                  {earClaims("cpu0", "az-tdx-vtpm", ourPCR8), false},
		"the sample attester claiming our initdata":     {earClaims("cpu0", "sample", ourPCR8), false},
		"no submodules":                                 {map[string]any{}, false},
		"the older flattened token (no EAR submodules)": {map[string]any{"tee": "azsnpvtpm", "tcb-status": map[string]any{"azsnpvtpm.tpm.pcr08": ourPCR8}}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := opaAllow(t, snp, tc.input); got != tc.want {
				t.Errorf("allow = %v, want %v", got, tc.want)
			}
		})
	}
	none, _ := ResourcePolicy(nil, "")
	if opaAllow(t, none, earClaims("cpu0", "az-snp-vtpm", ourPCR8)) {
		t.Error("without a PCR 8 the policy must allow nothing")
	}
}

func renderWithPolicy(t *testing.T, dir string) (*TrusteeManifests, Object, map[string]any) {
	t.Helper()
	opts := trusteeOpts
	opts.BindResourcePolicy = true
	m, err := RenderTrustee(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	dep := find(t, m.Objects, "Deployment", TrusteeNamespace+"/"+KBSName)
	var kbs map[string]any
	for _, c := range Containers(dep) {
		if c["name"] == KBSName {
			kbs = c
		}
	}
	return m, dep, kbs
}

// TestRenderTrusteeInstallsResourcePolicy: the policy is ours, where each
// storage shape's KBS reads it, and the tree's copy of its own is gone.
func TestRenderTrusteeInstallsResourcePolicy(t *testing.T) {
	for dir, want := range map[string]map[string]any{
		repositoryFixture: {"mountPath": "/etc/kbs-resource-policy", "readOnly": true},
		kvFixture:         {"mountPath": "/opt/confidential-containers/kbs/kbs/resource-policy.rego", "subPath": "policy.rego", "readOnly": true},
	} {
		m, dep, kbs := renderWithPolicy(t, dir)
		cm := find(t, m.Objects, "ConfigMap", TrusteeNamespace+"/"+ResourcePolicyConfigMap)
		if _, ok := mapAt(cm, "data")["policy.rego"]; !ok || m.ResourcePolicy != ResourcePolicyConfigMap {
			t.Errorf("%s: the policy ConfigMap %v is not named for the component to fill (%q)", dir, cm, m.ResourcePolicy)
		}
		var mount map[string]any
		for _, v := range asList(kbs["volumeMounts"]) {
			if v["name"] == ResourcePolicyConfigMap {
				mount = v
			}
		}
		for k, v := range want {
			if mount[k] != v {
				t.Errorf("%s: the policy mount's %s is %v, want %v (%v)", dir, k, mount[k], v, mount)
			}
		}
		if ResourcePolicyPath(m.Storage) != want["mountPath"] && ResourcePolicyPath(m.Storage) != want["mountPath"].(string)+"/policy.rego" {
			t.Errorf("%s: ResourcePolicyPath(%s) = %s", dir, m.Storage, ResourcePolicyPath(m.Storage))
		}
		for _, o := range m.Objects {
			if kindOf(o) == "ConfigMap" && strings.HasPrefix(nameOf(o), policyConfigMapName) {
				t.Errorf("%s: the tree's policy ConfigMap %s is still deployed; nothing reads it", dir, nameOf(o))
			}
			if kindOf(o) == "ConfigMap" && strings.HasPrefix(nameOf(o), kbsConfigMapName) {
				var cfg struct {
					PolicyEngine struct {
						PolicyPath string `toml:"policy_path"`
					} `toml:"policy_engine"`
				}
				if _, err := toml.Decode(mapAt(o, "data")[kbsConfigFile].(string), &cfg); err != nil {
					t.Fatal(err)
				}
				wantPath := ""
				if m.Storage == StorageRepository {
					wantPath = ResourcePolicyPath(m.Storage)
				}
				if cfg.PolicyEngine.PolicyPath != wantPath {
					t.Errorf("%s: [policy_engine] policy_path = %q, want %q", dir, cfg.PolicyEngine.PolicyPath, wantPath)
				}
			}
		}
		podSpec := mapAt(dep, "spec", "template", "spec")
		if podSpec["initContainers"] != nil {
			t.Errorf("%s: the init container copying the tree's policy is still there", dir)
		}
		for _, v := range asList(podSpec["volumes"]) {
			if v["name"] == "config-volume" {
				t.Errorf("%s: the tree's policy volume is still there", dir)
			}
		}
	}
	// Without a policy of ours, the tree's stays.
	kept := false
	for _, o := range renderTrusteeFixture(t, repositoryFixture).Objects {
		kept = kept || (kindOf(o) == "ConfigMap" && strings.HasPrefix(nameOf(o), policyConfigMapName))
	}
	if !kept {
		t.Error("without a policy of ours the tree's policy ConfigMap must stay")
	}
}

func TestRenderTrusteeRefusesAPolicyPathOfItsOwn(t *testing.T) {
	dir := copyTree(t, repositoryFixture)
	cfg := filepath.Join(dir, "kbs/config/kubernetes/base/kbs-config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, []byte("\n[policy_engine]\npolicy_path = \"/x.rego\"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := trusteeOpts
	opts.BindResourcePolicy = true
	if _, err := RenderTrustee(dir, opts); err == nil || !strings.Contains(err.Error(), "[policy_engine]") {
		t.Errorf("a tree that sets the policy path itself must be refused: %v", err)
	}
}
