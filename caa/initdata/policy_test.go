package initdata

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var defaultRule = regexp.MustCompile(`(?m)^default (\w+) := (true|false)$`)

// defaults reads the `default X := v` lines of an agent policy.
func defaults(policy string) map[string]string {
	out := map[string]string{}
	for _, m := range defaultRule.FindAllStringSubmatch(policy, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestPolicyIsAllowAllExceptExec(t *testing.T) {
	d := defaults(Policy())
	if len(d) != 36 || len(AgentRequests) != 36 {
		t.Fatalf("the policy decides %d requests, the list has %d; upstream's allow-all-except-exec-process.rego has 36", len(d), len(AgentRequests))
	}
	for r, v := range d {
		if want := map[bool]string{true: "false", false: "true"}[r == "ExecProcessRequest"]; v != want {
			t.Errorf("%s := %s, want %s", r, v, want)
		}
	}
}

var pinned = Pinned{ImageDigest: "sha256:" + strings.Repeat("ab", 32), Args: []string{"/bin/sh", "-c", "echo \"hi\" 2>/dev/null"}}

// TestSamplePolicyPins: everything Policy allows, but exec and SetPolicy
// refused and CreateContainerRequest decided by the two rules.
func TestSamplePolicyPins(t *testing.T) {
	p, err := SamplePolicy(pinned)
	if err != nil {
		t.Fatal(err)
	}
	d := defaults(p)
	for _, r := range AgentRequests {
		want := "true"
		if r == "ExecProcessRequest" || r == "SetPolicyRequest" || r == "CreateContainerRequest" {
			want = "false"
		}
		if d[r] != want {
			t.Errorf("default %s := %s, want %s", r, d[r], want)
		}
	}
	for _, want := range []string{`input.OCI.Process.Args == ["/bin/sh","-c","echo \"hi\" 2>/dev/null"]`, `endswith(source, "@` + pinned.ImageDigest + `")`,
		`s.driver == "image_guest_pull"`, `count(pulled) > 0`} {
		if !strings.Contains(p, want) {
			t.Errorf("the sample policy lacks %s:\n%s", want, p)
		}
	}
	for _, bad := range []Pinned{{ImageDigest: "latest", Args: pinned.Args}, {ImageDigest: pinned.ImageDigest}} {
		if _, err := SamplePolicy(bad); err == nil {
			t.Errorf("%+v must be refused", bad)
		}
	}
}

// envOPA names an `opa` binary (Open Policy Agent's CLI). The kata agent
// evaluates its policy with regorus, which cannot run here; OPA evaluates
// the same Rego, so it shows what the rules decide, not that regorus agrees.
const envOPA = "OPA_BIN"

// opaEval evaluates query against policy and input with the opa binary.
func opaEval(t *testing.T, policy, query string, input any) bool {
	t.Helper()
	bin := os.Getenv(envOPA)
	if bin == "" {
		t.Skipf("set %s to an opa binary to evaluate the policy (see CONTRIBUTING.md); skipped", envOPA)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(input)
	if err := os.WriteFile(filepath.Join(dir, "input.json"), in, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "eval", "--format", "raw", "--data", filepath.Join(dir, "policy.rego"), "--input", filepath.Join(dir, "input.json"), query)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("opa eval %s: %v\n%s", query, err, out.String())
	}
	return strings.TrimSpace(out.String()) == "true"
}

// createRequest is a CreateContainerRequest as the agent hands it to its
// policy (the fields kata's genpolicy rules read).
func createRequest(containerType string, args []string, sources ...string) map[string]any {
	var storages []any
	for _, s := range sources {
		storages = append(storages, map[string]any{"driver": "image_guest_pull", "source": s})
	}
	storages = append(storages, map[string]any{"driver": "local", "source": "local"})
	return map[string]any{
		"container_id": "c1",
		"OCI": map[string]any{
			"Annotations": map[string]any{"io.kubernetes.cri.container-type": containerType},
			"Process":     map[string]any{"Args": args},
		},
		"storages": storages,
	}
}

// TestSamplePolicyRefusesOtherContainers evaluates the sample policy: the
// pinned container and the sandbox are created; another image, another
// command, or a container whose image is not pulled in the guest are not.
func TestSamplePolicyRefusesOtherContainers(t *testing.T) {
	p, err := SamplePolicy(pinned)
	if err != nil {
		t.Fatal(err)
	}
	image := "registry.k8s.io/e2e-test-images/busybox:1.36.1-1@" + pinned.ImageDigest
	other := "docker.io/library/busybox@sha256:" + strings.Repeat("cd", 32)
	for name, tc := range map[string]struct {
		input any
		want  bool
	}{
		"the pinned container":         {createRequest("container", pinned.Args, image), true},
		"the sandbox":                  {createRequest("sandbox", []string{"/pause"}, "registry.k8s.io/pause:3.10"), true},
		"another image":                {createRequest("container", pinned.Args, other), false},
		"another image beside ours":    {createRequest("container", pinned.Args, image, other), false},
		"the image by tag":             {createRequest("container", pinned.Args, "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"), false},
		"another command":              {createRequest("container", []string{"/bin/sh", "-c", "cat /secret"}, image), false},
		"no image pulled in the guest": {createRequest("container", pinned.Args), false},
		"a sandbox running a shell":    {createRequest("sandbox", []string{"/bin/sh"}, image), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := opaEval(t, p, "data.agent_policy.CreateContainerRequest", tc.input); got != tc.want {
				t.Errorf("CreateContainerRequest = %v, want %v", got, tc.want)
			}
		})
	}
	if opaEval(t, p, "data.agent_policy.ExecProcessRequest", map[string]any{}) || opaEval(t, p, "data.agent_policy.SetPolicyRequest", map[string]any{}) {
		t.Error("exec and SetPolicy must be refused")
	}
	if !opaEval(t, Policy(), "data.agent_policy.CreateContainerRequest", createRequest("container", []string{"/anything"}, other)) {
		t.Error("the global policy creates any container")
	}
}
