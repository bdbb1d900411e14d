//go:build e2e

package tests

// Real-Azure end-to-end test. It is compiled only with the e2e build tag
// and never runs in CI. It needs the Pulumi CLI, an `az login` session and
// CAA_AZURE_E2E_SSH_KEY (an RSA public key); CAA_AZURE_E2E_STACK picks the
// stack file (default nonconf, the cheapest). It deploys into a temporary
// local backend, checks the outputs, requires an empty second preview and
// destroys everything:
//
//	CAA_AZURE_E2E_SSH_KEY="$(cat ~/.ssh/id_rsa.pub)" go test -tags e2e ./tests -run E2E -timeout 90m -v

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestE2EDeployPreviewDestroy(t *testing.T) {
	key := os.Getenv("CAA_AZURE_E2E_SSH_KEY")
	if key == "" {
		t.Fatal("set CAA_AZURE_E2E_SSH_KEY to an RSA public key (see the comment at the top of this file)")
	}
	stackName := os.Getenv("CAA_AZURE_E2E_STACK")
	if stackName == "" {
		stackName = "nonconf"
	}
	env := append(os.Environ(),
		"PULUMI_BACKEND_URL=file://"+t.TempDir(),
		"PULUMI_CONFIG_PASSPHRASE=e2e-only",
	)
	pulumi := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("pulumi", append(args, "--stack", stackName, "--non-interactive")...)
		cmd.Dir = ".."
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	init := exec.Command("pulumi", "stack", "init", stackName, "--non-interactive")
	init.Dir, init.Env = "..", env
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("pulumi stack init: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		cmd := exec.Command("pulumi", "destroy", "--yes", "--stack", stackName, "--non-interactive")
		cmd.Dir, cmd.Env = "..", env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("destroy failed; resources may be left in Azure:\n%s", out)
		}
	})
	pulumi("config", "set", "caa-azure:sshPublicKey", key)
	pulumi("up", "--yes", "--skip-preview")

	var outputs map[string]any
	if err := json.Unmarshal([]byte(pulumi("stack", "output", "--json", "--show-secrets")), &outputs); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"resourceGroupName", "clusterName", "oidcIssuerUrl", "identityClientId", "peerpodSubnetId", "kubeconfig"} {
		if s, _ := outputs[k].(string); s == "" {
			t.Errorf("output %s is empty", k)
		}
	}
	pulumi("preview", "--expect-no-changes")
}
