package caa

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// TEEClaimKeys are the names under which trustee's attestation service
// puts an az vTPM verifier's claims in the EAR token's annotated evidence
// (the tee's serde name, attestation-service ear_token transform_claims).
// kbs-types up to 0.12.0 (trustee v0.11.0 to v0.15.0) spells them in lower
// case, azsnpvtpm; trustee v0.20.0 on matches az-snp-vtpm in its own
// default policy (commit e7735be2, trustee#1323). The resource policy
// accepts both: only those verifiers write a tpm object under them.
func TEEClaimKeys(tee string) []string {
	switch tee {
	case "snp":
		return []string{"az-snp-vtpm", "azsnpvtpm"}
	case "tdx":
		return []string{"az-tdx-vtpm", "aztdxvtpm"}
	}
	return nil
}

var pcrHex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ResourcePolicy is the KBS resource policy that binds every resource to
// one pod VM measurement: the request is allowed only when the attestation
// token's annotated evidence, under one of teeKeys, reports PCR 8 as pcr8
// (the az-snp-vtpm and az-tdx-vtpm verifiers write each sha256 PCR as
// tpm.pcrNN in hex, at every trustee the program pins from v0.11.0). The
// submodule is matched by any name: trustee names it cpu up to v0.13.0 and
// cpu0 from v0.14.0. With no keys or no pcr8 (a pod VM without a vTPM) it
// allows nothing. `import rego.v1` parses with the regorus of every pinned
// KBS (0.2.8, where the import turns v1 on, to 0.10.x, v1 by default).
func ResourcePolicy(teeKeys []string, pcr8 string) (string, error) {
	var b strings.Builder
	b.WriteString("# caa-azure: resources go only to a pod VM measured with this stack's initdata.\n")
	b.WriteString("package policy\n\nimport rego.v1\n\ndefault allow := false\n")
	if len(teeKeys) == 0 || pcr8 == "" {
		return b.String(), nil
	}
	if !pcrHex.MatchString(pcr8) {
		return "", fmt.Errorf("PCR 8 %q is not 64 lower-case hex digits", pcr8)
	}
	quoted := make([]string, len(teeKeys))
	for i, k := range teeKeys {
		quoted[i] = fmt.Sprintf("%q", k)
	}
	fmt.Fprintf(&b, `
allow if {
	some submod in input.submods
	some tee in [%s]
	submod["ear.veraison.annotated-evidence"][tee].tpm.pcr08 == %q
}
`, strings.Join(quoted, ", "), pcr8)
	return b.String(), nil
}

// Where the pinned KBS reads its resource policy, and where the program
// puts it.
const (
	// ResourcePolicyConfigMap holds the policy (key ResourcePolicyFile).
	ResourcePolicyConfigMap = "kbs-resource-policy"
	ResourcePolicyFile      = "policy.rego"
	// resourcePolicyDir is the file store's policy directory: up to
	// trustee v0.18.0 the KBS reads [policy_engine] policy_path, which
	// the program sets (at v0.11.0 the tree copies its policy to /opa/...
	// while the KBS reads /opt/... by default).
	resourcePolicyDir = "/etc/kbs-resource-policy"
	// kvResourcePolicy is the flat store's policy from trustee v0.19.0: the
	// KBS keeps it in the storage namespace "kbs" under the key
	// "resource-policy" with the regorus suffix ".rego" (kbs/src/api_server.rs
	// KBS_STORAGE_NAMESPACE and KBS_POLICY_ID, deps/policy-engine), and at
	// start writes its built-in default only when no policy is there
	// (overwrite false). Mounting ours there first makes it the policy.
	kvResourcePolicy = kvStorageDir + "/kbs/resource-policy.rego"
	// ResourcePolicyAnnotation on the KBS pod template carries the
	// policy's sha256, so a changed policy restarts the KBS (a subPath
	// mount never sees a ConfigMap update).
	ResourcePolicyAnnotation = "caa-azure.io/resource-policy-sha256"
)

// ResourcePolicyPath is where the KBS of a storage shape reads the policy
// the program installs.
func ResourcePolicyPath(storage string) string {
	if storage == StorageKV {
		return kvResourcePolicy
	}
	return resourcePolicyDir + "/" + ResourcePolicyFile
}

// installResourcePolicy makes a ConfigMap of ours the KBS's resource policy,
// mounted where that release reads it, and removes the tree's policy
// ConfigMap and the init container that copies it (nothing would read
// them). The component fills the ConfigMap and puts the policy's digest on
// the pod template.
func installResourcePolicy(objs []Object, m *TrusteeManifests, dep, kbsConfig Object) ([]Object, error) {
	var kbs map[string]any
	for _, c := range Containers(dep) {
		if c["name"] == KBSName {
			kbs = c
		}
	}
	podSpec := mapAt(dep, "spec", "template", "spec")
	// The tree's policy: its ConfigMap, the volume of it, the init
	// containers mounting that volume.
	var out []Object
	treeVolumes := map[string]bool{}
	for _, o := range objs {
		if kindOf(o) == "ConfigMap" && strings.HasPrefix(nameOf(o), policyConfigMapName) {
			for _, v := range asList(podSpec["volumes"]) {
				if cm, _ := v["configMap"].(map[string]any); cm != nil && cm["name"] == nameOf(o) {
					treeVolumes[fmt.Sprint(v["name"])] = true
				}
			}
			continue
		}
		out = append(out, o)
	}
	var inits []any
	for _, c := range asList(podSpec["initContainers"]) {
		if !mountsAny(c, treeVolumes) {
			inits = append(inits, c)
		}
	}
	if len(inits) == 0 {
		delete(podSpec, "initContainers")
	} else {
		podSpec["initContainers"] = inits
	}
	volumes := []any{}
	for _, v := range asList(podSpec["volumes"]) {
		if !treeVolumes[fmt.Sprint(v["name"])] {
			volumes = append(volumes, v)
		}
	}
	volumes = append(volumes, map[string]any{"name": ResourcePolicyConfigMap, "configMap": map[string]any{"name": ResourcePolicyConfigMap}})
	podSpec["volumes"] = volumes

	mount := map[string]any{"name": ResourcePolicyConfigMap, "mountPath": resourcePolicyDir, "readOnly": true}
	if m.Storage == StorageKV {
		mount = map[string]any{"name": ResourcePolicyConfigMap, "mountPath": kvResourcePolicy, "subPath": ResourcePolicyFile, "readOnly": true}
	} else if err := setPolicyPath(kbsConfig); err != nil {
		return nil, err
	}
	kbs["volumeMounts"] = append(asAnyList(kbs["volumeMounts"]), mount)
	m.ResourcePolicy = ResourcePolicyConfigMap
	out = append(out, Object{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": ResourcePolicyConfigMap, "namespace": TrusteeNamespace},
		"data":       map[string]any{ResourcePolicyFile: placeholder},
	})
	return out, nil
}

// setPolicyPath points the file store's KBS at resourcePolicyDir
// ([policy_engine] policy_path, read by trustee v0.10.1 to v0.18.0).
func setPolicyPath(cm Object) error {
	data := mapAt(cm, "data")
	text, _ := data[kbsConfigFile].(string)
	var probe struct {
		PolicyEngine map[string]any `toml:"policy_engine"`
	}
	if _, err := toml.Decode(text, &probe); err != nil {
		return fmt.Errorf("the KBS configuration %s is not TOML: %w", kbsConfigFile, err)
	}
	if probe.PolicyEngine != nil {
		return fmt.Errorf("the KBS configuration %s already sets [policy_engine] %v; the program sets the resource policy's path itself",
			kbsConfigFile, probe.PolicyEngine)
	}
	data[kbsConfigFile] = strings.TrimRight(text, "\n") + "\n\n# caa-azure: the resource policy binding resources to this stack's initdata.\n" +
		"[policy_engine]\npolicy_path = \"" + path.Join(resourcePolicyDir, ResourcePolicyFile) + "\"\n"
	return nil
}

func asAnyList(v any) []any { l, _ := v.([]any); return l }

func asList(v any) []map[string]any {
	var out []map[string]any
	for _, e := range asAnyList(v) {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func mountsAny(c map[string]any, volumes map[string]bool) bool {
	for _, v := range asList(c["volumeMounts"]) {
		if volumes[fmt.Sprint(v["name"])] {
			return true
		}
	}
	return false
}
