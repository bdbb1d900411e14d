package charttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"caa-azure/caa"
	"caa-azure/caa/upstream"
)

// sourceFacts are what the bound resource policy relies on in trustee's
// source at a pinned reference: path (or paths, the first that exists)
// and patterns that must all match in it.
type sourceFact struct {
	paths    []string
	patterns []string
	why      string
}

var claimFacts = []sourceFact{
	{[]string{"deps/verifier/src/az_snp_vtpm/mod.rs"}, []string{`format!\("pcr\{:02\}", i\), Value::String\(hex::encode\(`,
		`map\.insert\("tpm"\.to_string\(\), Value::Object\(tpm_values\)\)`},
		"the az-snp-vtpm verifier writes each sha256 PCR as tpm.pcrNN, in hex"},
	{[]string{"deps/verifier/src/az_tdx_vtpm/mod.rs"}, []string{`extend_claim\(&mut claim, &`},
		"the az-tdx-vtpm verifier extends its claims the same way"},
	{[]string{"attestation-service/src/token/ear_broker.rs", "attestation-service/src/ear_token/broker.rs"},
		[]string{`output_claims\.insert\(to_variant_name\(&tee\)\?\.to_string\(\), transformed_claims\)`, `annotated_evidence = tcb_claims`},
		"the EAR token carries the verifier's claims under the tee's name in the annotated evidence"},
	{[]string{"kbs/src/policy_engine/opa/default_policy.rego", "kbs/sample_policies/default.rego"},
		[]string{`input\["submods"\]\["cpu0?"\]\["ear\.veraison\.annotated-evidence"\]`},
		"the KBS's own policy reads the EAR submodules' annotated evidence: the input is the token's claims"},
}

var fileStoreFacts = []sourceFact{
	{[]string{"kbs/src/config.rs"}, []string{`pub policy_engine: PolicyEngineConfig`}, "the KBS configuration has [policy_engine]"},
	{[]string{"kbs/src/policy_engine/mod.rs"}, []string{`pub policy_path: (PathBuf|Option<PathBuf>)`}, "with policy_path"},
	{[]string{"kbs/src/policy_engine/opa/mod.rs"}, []string{`if !policy_path\.as_path\(\)\.exists\(\)`, `data\.policy\.allow`},
		"the KBS writes its default only where no policy is, and asks data.policy.allow"},
}

var kvStoreFacts = []sourceFact{
	{[]string{"kbs/src/api_server.rs"}, []string{`KBS_STORAGE_NAMESPACE: &str = "kbs"`, `KBS_POLICY_ID: &str = "resource-policy"`,
		`KBS_POLICY_RULE: &str = "data\.policy\.allow"`, `set_policy\(\s*KBS_POLICY_ID,\s*include_str!\("\.\./sample_policies/default\.rego"\),\s*false,`},
		"the KBS stores its built-in policy as resource-policy in the kbs namespace, without overwriting one that is there"},
	{[]string{"deps/policy-engine/src/policy/rego.rs"}, []string{`fn policy_suffix\(\) -> &'static str \{\s*"\.rego"`}, "with the suffix .rego"},
	{[]string{"deps/key-value-storage/src/local_fs/mod.rs"}, []string{`\.join\(namespace\)`, `parameters\.overwrite \|\| !file_path\.exists\(\)|!parameters\.overwrite && file_path\.exists\(\)`},
		"LocalFs keeps a namespace in <dir_path>/<namespace> and keeps an existing key unless told to overwrite"},
}

// TestRealTrusteeResourcePolicy: at every trustee reference a release that
// measures initdata pins, the bound resource policy renders into the tree
// where that KBS reads it, and trustee's source still says what the policy
// relies on: the claim path of PCR 8, the input shape, and how the KBS
// loads its policy (a configured path up to v0.18.0, the storage
// namespace from v0.19.0).
func TestRealTrusteeResourcePolicy(t *testing.T) {
	repo := os.Getenv(envTrusteeRepo)
	if repo == "" {
		t.Skipf("set %s to a trustee git repository to check the resource policy against trustee's source (see CONTRIBUTING.md); skipped", envTrusteeRepo)
	}
	for _, version := range upstream.KnownVersions() {
		rel, problems := upstream.ResolveRelease(version, upstream.ReleaseOverrides{PodVMImageID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/podvm"})
		if problems != nil || !rel.MeasuresInitdata() {
			continue
		}
		t.Run(version, func(t *testing.T) {
			m, tr := renderAtPin(t, repo, version, caa.TrusteeOptions{BindResourcePolicy: true})
			facts := append(append([]sourceFact{}, claimFacts...), fileStoreFacts...)
			if m.Storage == caa.StorageKV {
				facts = append(append([]sourceFact{}, claimFacts...), kvStoreFacts...)
			}
			for _, f := range facts {
				text, path := showFirst(t, repo, tr.Ref, f.paths)
				for _, p := range f.patterns {
					if !regexp.MustCompile(p).MatchString(text) {
						t.Errorf("%s at %s no longer matches %s: %s", path, tr.Ref, p, f.why)
					}
				}
			}
			checkPolicyReachesKBS(t, repo, tr.Ref, m)
			lock, _ := showFirst(t, repo, tr.Ref, []string{"Cargo.lock"})
			kbsTypes := regexp.MustCompile(`name = "kbs-types"\nversion = "([^"]+)"`).FindStringSubmatch(lock)
			t.Logf("trustee %s: %s storage, policy at %s, kbs-types %v", tr.Ref, m.Storage, caa.ResourcePolicyPath(m.Storage), kbsTypes[1:])
		})
	}
}

// showFirst returns the first of paths that exists at ref, and its path.
func showFirst(t *testing.T, repo, ref string, paths []string) (string, string) {
	t.Helper()
	for _, p := range paths {
		if out, err := exec.Command("git", "--git-dir", gitDir(repo), "show", ref+":"+p).Output(); err == nil {
			return string(out), p
		}
	}
	t.Fatalf("none of %v at %s", paths, ref)
	return "", ""
}

// checkPolicyReachesKBS: the rendered KBS mounts the policy at the path
// that release reads, computed from its source for the flat store
// (<local_fs dir_path>/<KBS_STORAGE_NAMESPACE>/<KBS_POLICY_ID><suffix>) and
// from the rendered configuration for the file store.
func checkPolicyReachesKBS(t *testing.T, repo, ref string, m *caa.TrusteeManifests) {
	t.Helper()
	want := caa.ResourcePolicyPath(m.Storage)
	var config string
	mounted := false
	for _, o := range m.Objects {
		if o["kind"] == "ConfigMap" {
			for _, v := range o["data"].(map[string]any) {
				config += v.(string)
			}
		}
		for _, c := range caa.Containers(o) {
			mounts, _ := c["volumeMounts"].([]any)
			for _, v := range mounts {
				mm := v.(map[string]any)
				if mm["name"] == caa.ResourcePolicyConfigMap && (mm["mountPath"] == want || mm["mountPath"] == filepath.Dir(want)) {
					mounted = true
				}
			}
		}
	}
	if !mounted {
		t.Errorf("the KBS does not mount the policy at %s", want)
	}
	if m.Storage != caa.StorageKV {
		if !strings.Contains(config, `policy_path = "`+want+`"`) {
			t.Errorf("the KBS configuration does not point policy_path at %s", want)
		}
		return
	}
	api, _ := showFirst(t, repo, ref, []string{"kbs/src/api_server.rs"})
	rego, _ := showFirst(t, repo, ref, []string{"deps/policy-engine/src/policy/rego.rs"})
	ns := regexp.MustCompile(`KBS_STORAGE_NAMESPACE: &str = "([^"]+)"`).FindStringSubmatch(api)
	id := regexp.MustCompile(`KBS_POLICY_ID: &str = "([^"]+)"`).FindStringSubmatch(api)
	suffix := regexp.MustCompile(`fn policy_suffix\(\) -> &'static str \{\s*"([^"]+)"`).FindStringSubmatch(rego)
	if ns == nil || id == nil || suffix == nil {
		t.Fatalf("trustee %s: no storage namespace, policy id or suffix in the source", ref)
	}
	if got := "/opt/confidential-containers/kbs/" + ns[1] + "/" + id[1] + suffix[1]; got != want {
		t.Errorf("trustee %s keeps its resource policy at %s; the program mounts it at %s", ref, got, want)
	}
}
