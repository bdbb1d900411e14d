//go:build e2e

// Package e2e deploys a real stack to Azure. It is compiled only with the
// e2e build tag and runs only with CAA_AZURE_E2E=1; CI compiles it (go vet
// -tags e2e) but never runs it. It needs an `az login` session, the Pulumi
// CLI, kubectl, az, and CAA_AZURE_E2E_SSH_KEY set to an RSA public key:
//
//	CAA_AZURE_E2E=1 CAA_AZURE_E2E_SSH_KEY="$(cat ~/.ssh/id_rsa.pub)" \
//	  go test -tags e2e ./tests/e2e -timeout 150m -v
//
// CAA_AZURE_E2E_STACK picks the stack file (default nonconf, the cheapest).
// Each run deploys a stack of its own name (e2e-<stack>-<pid>) from a copy
// of the project, so no tracked stack file is edited, and keeps its state
// in a directory it prints and never deletes: after a failure, destroy
// from there by hand.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"caa-azure/stack"
)

// TestE2EDeployVerifyDestroy: a default stack deploys, runs nginx in a pod
// VM, previews no change, and plain `pulumi destroy` leaves nothing.
func TestE2EDeployVerifyDestroy(t *testing.T) {
	runE2E(t, "")
}

// TestE2EExistingGroupLeavesNothing: in a resource group the user owns, a
// VM left in the pod VM group (as CAA leaves one when it dies mid-create)
// goes with the group on destroy, and the user's group stays.
func TestE2EExistingGroupLeavesNothing(t *testing.T) {
	runE2E(t, fmt.Sprintf("caa-e2e-%d", os.Getpid()))
}

func runE2E(t *testing.T, existingGroup string) {
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
	ctx := context.Background()
	stackName := fmt.Sprintf("e2e-%s-%d", base, os.Getpid())
	if existingGroup != "" {
		stackName += "-rg"
	}
	tag := "caa-azure/" + stackName
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
