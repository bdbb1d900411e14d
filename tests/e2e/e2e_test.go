//go:build e2e

// Package e2e deploys a real stack to Azure. It is compiled only with the
// e2e build tag and runs only with CAA_AZURE_E2E=1; CI compiles it (go vet
// -tags e2e) but never runs it. It needs an `az login` session (or the
// ARM_* / AZURE_* variables of a service principal), the Pulumi CLI, kubectl,
// and CAA_AZURE_E2E_SSH_KEY set to an RSA public key:
//
//	CAA_AZURE_E2E=1 CAA_AZURE_E2E_SSH_KEY="$(cat ~/.ssh/id_rsa.pub)" \
//	  go test -tags e2e ./tests/e2e -timeout 120m -v
//
// CAA_AZURE_E2E_STACK picks the stack file (default nonconf, the cheapest).
package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"caa-azure/infra/podvms"
	"caa-azure/stack"
)

func TestE2EDeployVerifyDestroy(t *testing.T) {
	if os.Getenv("CAA_AZURE_E2E") != "1" {
		t.Skip("set CAA_AZURE_E2E=1 (and see the package comment) to deploy to real Azure")
	}
	key := os.Getenv("CAA_AZURE_E2E_SSH_KEY")
	if key == "" {
		t.Fatal("CAA_AZURE_E2E_SSH_KEY must hold an RSA public key")
	}
	stackName := os.Getenv("CAA_AZURE_E2E_STACK")
	if stackName == "" {
		stackName = "nonconf"
	}
	ctx := context.Background()
	// Pulumi.yaml runs the prebuilt binary.
	if out, err := exec.Command("make", "-C", "../..", "build").CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	st, err := auto.UpsertStackLocalSource(ctx, stackName, "../..", auto.EnvVars(map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + t.TempDir(),
		"PULUMI_CONFIG_PASSPHRASE": "e2e-only",
	}))
	if err != nil {
		t.Fatal(err)
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if _, err := st.Destroy(ctx, optdestroy.RunProgram(true), optdestroy.ProgressStreams(os.Stdout)); err != nil {
				t.Errorf("cleanup destroy failed; check Azure for leftovers: %v", err)
			}
		}
	})
	if err := st.SetConfig(ctx, "caa-azure:sshPublicKey", auto.ConfigValue{Value: key}); err != nil {
		t.Fatal(err)
	}

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
		cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
		b, err := cmd.CombinedOutput()
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

	subscription := strings.Split(out("peerpodSubnetId"), "/")[2]
	group := out("resourceGroupName")
	tag := "caa-azure/" + stackName
	cloud, err := podvms.NewAzureCloud(subscription)
	if err != nil {
		t.Fatal(err)
	}
	if n := countTagged(t, cloud, group, tag); n == 0 {
		t.Error("no pod VM carries this stack's tag")
	}

	if _, err := st.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
		t.Errorf("a second preview wants changes: %v", err)
	}

	if _, err := st.Destroy(ctx, optdestroy.RunProgram(true), optdestroy.ProgressStreams(os.Stdout)); err != nil {
		t.Fatal(err)
	}
	destroyed = true
	// A created group is gone (a listing finds nothing); an existing one
	// survives destroy, and nothing of ours may remain in it.
	if n := countTagged(t, cloud, group, tag); n != 0 {
		t.Errorf("%d pod VMs with our tag remain after destroy", n)
	}
	if !strings.HasPrefix(group, "caa-rg-") {
		disks := countTaggedDisks(t, subscription, group, tag)
		if disks != 0 {
			t.Errorf("%d disks with our tag remain after destroy", disks)
		}
	}
}

func countTagged(t *testing.T, cloud *podvms.AzureCloud, group, tag string) int {
	vms, err := cloud.ListVMs(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, vm := range vms {
		if vm.Tags[stack.StackTag] == tag {
			n++
		}
	}
	return n
}

func countTaggedDisks(t *testing.T, subscription, group, tag string) int {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	disks, err := armcompute.NewDisksClient(subscription, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	pager := disks.NewListByResourceGroupPager(group, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Value {
			if v := d.Tags[stack.StackTag]; v != nil && *v == tag {
				n++
			}
		}
	}
	return n
}
