//go:build e2e

// Package e2e deploys a real stack to Azure. It is compiled only with the
// e2e build tag and runs only with CAA_AZURE_E2E=1; CI compiles it (go vet
// -tags e2e) but never runs it. It needs an `az login` session, the Pulumi
// CLI, kubectl, az, and CAA_AZURE_E2E_SSH_KEY set to an RSA public key:
//
//	CAA_AZURE_E2E=1 CAA_AZURE_E2E_SSH_KEY="$(cat ~/.ssh/id_rsa.pub)" \
//	  go test -tags e2e ./tests/e2e -timeout 150m -v
//
// CAA_AZURE_E2E_STACK picks the stack file (default nonconf, the cheapest);
// the attestation tests use snp (the secret released) and nonconf (refused).
// Each run deploys a stack of its own name (e2e-<stack>-<pid>) from a copy
// of the project, so no tracked stack file is edited, and keeps its state
// in a directory it prints and never deletes: after a failure, destroy
// from there by hand.
package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"caa-azure/stack"
)

// TestE2EDeployVerifyDestroy: a default stack deploys, runs nginx in a pod
// VM, previews no change, and plain `pulumi destroy` leaves nothing.
func TestE2EDeployVerifyDestroy(t *testing.T) {
	runE2E(t, e2eOptions{})
}

// TestE2EExistingGroupLeavesNothing: in a resource group the user owns, a
// VM left in the pod VM group (as CAA leaves one when it dies mid-create)
// goes with the group on destroy, and the user's group stays.
func TestE2EExistingGroupLeavesNothing(t *testing.T) {
	runE2E(t, e2eOptions{existingGroup: fmt.Sprintf("caa-e2e-%d", os.Getpid())})
}

// TestE2EAttestation: with attestation on snp, the KBS is available, the
// attested sample is given the seeded secret, and the PCR 8 its pod VM
// reports equals the exported initdataPcr8.
func TestE2EAttestation(t *testing.T) {
	runE2E(t, e2eOptions{stack: "snp", attestation: true})
}

// TestE2EAttestationRefused: without a TEE (nonconf, disableCvm) the KBS
// refuses the secret and the sample says so.
func TestE2EAttestationRefused(t *testing.T) {
	runE2E(t, e2eOptions{stack: "nonconf", attestation: true})
}

type e2eOptions struct {
	// stack overrides CAA_AZURE_E2E_STACK.
	stack string
	// existingGroup is a resource group the test creates for the stack.
	existingGroup string
	attestation   bool
}

func runE2E(t *testing.T, o e2eOptions) {
	existingGroup := o.existingGroup
	if os.Getenv("CAA_AZURE_E2E") != "1" {
		t.Skip("set CAA_AZURE_E2E=1 (and see the package comment) to deploy to real Azure")
	}
	key := os.Getenv("CAA_AZURE_E2E_SSH_KEY")
	if key == "" {
		t.Fatal("CAA_AZURE_E2E_SSH_KEY must hold an RSA public key")
	}
	base := os.Getenv("CAA_AZURE_E2E_STACK")
	if base == "" {
		base = "nonconf"
	}
	if o.stack != "" {
		base = o.stack
	}
	ctx := context.Background()
	stackName := fmt.Sprintf("e2e-%s-%d", base, os.Getpid())
	if existingGroup != "" {
		stackName += "-rg"
	}
	if o.attestation {
		stackName += "-att"
	}
	// The stack tag carries the stack's random suffix: known once up has run.
	tag := "caa-azure/" + stackName + "/<suffix>"
	project, state := projectCopy(t, base, stackName)
	t.Logf("state of stack %s: %s (kept; destroy by hand from %s if this test fails)", stackName, state, project)

	st, err := auto.UpsertStackLocalSource(ctx, stackName, project, auto.EnvVars(map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + state,
		"PULUMI_CONFIG_PASSPHRASE": "e2e-only",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetConfig(ctx, "caa-azure:sshPublicKey", auto.ConfigValue{Value: key}); err != nil {
		t.Fatal(err)
	}
	if existingGroup != "" {
		location, err := st.GetConfig(ctx, "azure-native:location")
		if err != nil {
			t.Fatal(err)
		}
		az(t, "group", "create", "-n", existingGroup, "-l", location.Value)
		t.Cleanup(func() { az(t, "group", "delete", "-n", existingGroup, "--yes", "--no-wait") })
		if err := st.SetConfig(ctx, "caa-azure:resourceGroupName", auto.ConfigValue{Value: existingGroup}); err != nil {
			t.Fatal(err)
		}
	}
	if o.attestation {
		if err := st.SetConfig(ctx, "caa-azure:attestation", auto.ConfigValue{Value: "true"}); err != nil {
			t.Fatal(err)
		}
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if _, err := st.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout)); err != nil {
				t.Errorf("cleanup destroy failed; check Azure for resources tagged %s=%s: %v", stack.StackTag, tag, err)
			}
		}
	})

	up, err := st.Up(ctx, optup.ProgressStreams(os.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	out := func(k string) string { s, _ := up.Outputs[k].Value.(string); return s }
	tag = out("stackTag")
	if !up.Outputs["kubeconfig"].Secret {
		t.Error("the kubeconfig output is not secret")
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(out("kubeconfig")), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) string {
		t.Helper()
		b, err := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	kubectl("get", "runtimeclass", "kata-remote")
	var pods struct {
		Items []struct {
			Spec   struct{ RuntimeClassName string } `json:"spec"`
			Status struct{ Phase string }            `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(kubectl("get", "pods", "-n", "default", "-l", "app=nginx", "-o", "json")), &pods); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 || pods.Items[0].Status.Phase != "Running" || pods.Items[0].Spec.RuntimeClassName != "kata-remote" {
		t.Fatalf("nginx is not Running in kata-remote: %+v", pods.Items)
	}

	if o.attestation {
		checkAttestation(t, kubectl, out, base == "nonconf")
	}

	podVMGroup := out("podVmResourceGroupName")
	var vms []struct{ Name string }
	azJSON(t, &vms, "vm", "list", "-g", podVMGroup, "--query", fmt.Sprintf("[?tags.\"%s\"=='%s']", stack.StackTag, tag))
	if len(vms) == 0 {
		t.Errorf("no pod VM with the stack tag in the pod VM group %s", podVMGroup)
	}
	if existingGroup != "" {
		// What CAA leaves when it dies between creating a VM and recording it.
		az(t, "vm", "create", "-g", podVMGroup, "-n", "leftover", "--image", "Ubuntu2204", "--size", "Standard_B1s",
			"--subnet", out("peerpodSubnetId"), "--public-ip-address", "", "--nsg", "", "--generate-ssh-keys",
			"--tags", stack.StackTag+"="+tag)
	}

	if _, err := st.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
		t.Errorf("a second preview wants changes: %v", err)
	}
	if _, err := st.Up(ctx, optup.ExpectNoChanges(), optup.ProgressStreams(os.Stdout)); err != nil {
		t.Errorf("a second up with nothing changed fails or changes something: %v", err)
	}

	// Plain destroy: no --run-program, no hooks.
	if _, err := st.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout)); err != nil {
		t.Fatal(err)
	}
	destroyed = true

	var left []struct{ ID string }
	azJSON(t, &left, "resource", "list", "--tag", stack.StackTag+"="+tag)
	for _, r := range left {
		t.Errorf("left after destroy: %s", r.ID)
	}
	created := []string{podVMGroup, out("nodeResourceGroup")}
	if existingGroup == "" {
		created = append(created, out("resourceGroupName"))
	}
	for _, g := range created {
		if exists := strings.TrimSpace(az(t, "group", "exists", "-n", g)); exists != "false" {
			t.Errorf("resource group %s still exists after destroy", g)
		}
	}
	if existingGroup != "" && strings.TrimSpace(az(t, "group", "exists", "-n", existingGroup)) != "true" {
		t.Errorf("destroy deleted the user's resource group %s", existingGroup)
	}
}

// checkAttestation: the KBS is available at the exported address; the
// attested sample's Job succeeded (Pulumi waited for it) and its log says
// why; where PCR 8 is exported, the pod VM's evidence reports it.
func checkAttestation(t *testing.T, kubectl func(...string) string, out func(string) string, refused bool) {
	t.Helper()
	if got := kubectl("-n", "coco-tenant", "get", "deployment", "kbs", "-o", "jsonpath={.status.availableReplicas}"); got != "1" {
		t.Errorf("KBS available replicas %q, want 1", got)
	}
	ip := kubectl("-n", "coco-tenant", "get", "service", "kbs", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	if want := "https://" + ip + ":8080"; want != out("kbsUrl") {
		t.Errorf("KBS load balancer answers at %s, the stack exports %s", want, out("kbsUrl"))
	}
	served, err := base64.StdEncoding.DecodeString(kubectl("-n", "coco-tenant", "get", "secret", "kbs-https", "-o", `jsonpath={.data.https-cert\.pem}`))
	if err != nil || string(served) != out("kbsCertificate") {
		t.Errorf("the KBS serves a certificate other than the exported kbsCertificate (%v)", err)
	}
	if got := kubectl("get", "job", "attested-sample", "-o", "jsonpath={.status.succeeded}"); got != "1" {
		t.Fatalf("the attested sample did not succeed (%q)", got)
	}
	logs := kubectl("logs", "job/attested-sample")
	t.Logf("attested sample:\n%s", logs)
	want := "the KBS released the secret to this attested pod VM"
	if refused {
		want = "the KBS refused the secret, as it must without a TEE"
	}
	if !strings.Contains(logs, want) {
		t.Errorf("the sample's log lacks %q", want)
	}
	expected := out("initdataPcr8")
	if refused || expected == "" {
		return
	}
	checkPCR8(t, logs, expected)
	checkOtherInitdataRefused(t, kubectl)
}

// checkPCR8: the PCR 8 the sample's pod VM reports equals the export.
func checkPCR8(t *testing.T, logs, expected string) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		evidence, ok := strings.CutPrefix(line, "evidence: ")
		if !ok {
			continue
		}
		// The az-snp-vtpm and az-tdx-vtpm attesters report the vTPM
		// quote's sha256 PCRs (CAA's TestInitDataMeasurement reads
		// (.quote // .tpm_quote).pcrs[8]).
		var e struct {
			Quote *struct {
				PCRs []json.RawMessage `json:"pcrs"`
			} `json:"quote"`
			TPMQuote *struct {
				PCRs []json.RawMessage `json:"pcrs"`
			} `json:"tpm_quote"`
		}
		if err := json.Unmarshal([]byte(evidence), &e); err != nil {
			t.Fatalf("evidence is not JSON: %v", err)
		}
		q := e.Quote
		if q == nil {
			q = e.TPMQuote
		}
		if q == nil || len(q.PCRs) <= 8 {
			t.Fatalf("evidence has no PCR 8: %s", evidence)
		}
		if got := pcrHex(q.PCRs[8]); !strings.EqualFold(got, expected) {
			t.Errorf("PCR 8 in the pod VM is %s, the stack exports %s", got, expected)
		}
		return
	}
	t.Error("the sample printed no evidence")
}

// pcrHex reads a PCR as the attester prints it: a hex string, or (before
// CAA 0.22.0, per the research notes) an array of byte values.
func pcrHex(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b []byte
	var ints []int
	if json.Unmarshal(raw, &ints) == nil {
		for _, i := range ints {
			b = append(b, byte(i))
		}
	}
	return fmt.Sprintf("%x", b)
}

// checkOtherInitdataRefused runs the sample's own image and command in a
// pod VM without the sample's initdata (it boots with the global one): the
// KBS must attest it, then refuse the secret, which is bound to the
// sample's PCR 8.
func checkOtherInitdataRefused(t *testing.T, kubectl func(...string) string) {
	t.Helper()
	var sample struct {
		Spec struct {
			Template struct {
				Spec map[string]any `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(kubectl("get", "job", "attested-sample", "-o", "json")), &sample); err != nil {
		t.Fatal(err)
	}
	pod := sample.Spec.Template.Spec
	for _, c := range pod["containers"].([]any) {
		container := c.(map[string]any)
		env := container["env"].([]any)
		for i, e := range env {
			if e.(map[string]any)["name"] == "EXPECT" {
				env[i] = map[string]any{"name": "EXPECT", "value": "refused"}
			}
		}
	}
	const name = "other-initdata"
	job := map[string]any{"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{"backoffLimit": 0, "activeDeadlineSeconds": 900,
			"template": map[string]any{"spec": pod}}}
	manifest := filepath.Join(t.TempDir(), name+".json")
	b, _ := json.Marshal(job)
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl("apply", "-f", manifest)
	defer kubectl("delete", "job", name, "--cascade=foreground", "--ignore-not-found")
	for deadline := time.Now().Add(20 * time.Minute); time.Now().Before(deadline); time.Sleep(15 * time.Second) {
		succeeded := kubectl("get", "job", name, "-o", "jsonpath={.status.succeeded}")
		failed := kubectl("get", "job", name, "-o", "jsonpath={.status.failed}")
		if succeeded == "1" || (failed != "" && failed != "0") {
			logs := kubectl("logs", "job/"+name)
			t.Logf("the sample without its initdata:\n%s", logs)
			if succeeded != "1" || !strings.Contains(logs, "the KBS refused the secret") {
				t.Errorf("a pod VM with other initdata was not refused the secret after attesting")
			}
			return
		}
	}
	t.Errorf("the Job %s did not finish in 20 minutes", name)
}

// projectCopy lays out the project for one test stack in a directory of
// its own: Pulumi.yaml running the freshly built binary, and the base stack
// file under the test stack's name. It returns that directory and a state
// directory, neither deleted by the test.
func projectCopy(t *testing.T, base, stackName string) (project, state string) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "caa-azure-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	// Built with go build, not make: the copy holds no sources, so the
	// Makefile's stale-binary check would stop a binary it built.
	binary := filepath.Join(dir, "caa-azure")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	proj, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	proj = []byte(strings.Replace(string(proj), "binary: bin/caa-azure", "binary: "+binary, 1))
	stackFile, err := os.ReadFile(filepath.Join(root, "Pulumi."+base+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"Pulumi.yaml": proj, "Pulumi." + stackName + ".yaml": stackFile} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state = filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, state
}

func az(t *testing.T, args ...string) string {
	t.Helper()
	b, err := exec.Command("az", append(args, "--only-show-errors")...).Output()
	if err != nil {
		t.Fatalf("az %v: %v", args, err)
	}
	return string(b)
}

func azJSON(t *testing.T, into any, args ...string) {
	t.Helper()
	if err := json.Unmarshal([]byte(az(t, append(args, "-o", "json")...)), into); err != nil {
		t.Fatalf("az %v: %v", args, err)
	}
}
