package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azauth"
	"caa-azure/infra/preflight"
	"caa-azure/stack"
)

// deployerMachine makes this process look like a deployer's shell: the
// provider's ARM_* variables, a workload identity's AZURE_* ones, and an
// `az` on PATH that leaves a marker file when anything runs it. It returns
// the marker's path.
func deployerMachine(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "az-was-run")
	script := "#!/bin/sh\necho \"$@\" >> '" + marker + "'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for k, v := range map[string]string{
		"ARM_SUBSCRIPTION_ID":        "99999999-9999-9999-9999-999999999999",
		"ARM_TENANT_ID":              "99999999-0000-0000-0000-000000000000",
		"ARM_CLIENT_ID":              "deployer-client",
		"ARM_USE_OIDC":               "true",
		"AZURE_CLIENT_ID":            "deployer-client",
		"AZURE_TENANT_ID":            "99999999-0000-0000-0000-000000000000",
		"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
	} {
		t.Setenv(k, v)
	}
	return marker
}

// TestTestsIgnoreTheMachine: the tests deploy into the world they pass in,
// so a deployer's environment and an `az` on PATH change nothing: the
// preflight sees the mocks' subscription and no settings, the Entra
// kubeconfig keeps the Azure CLI login (not the workload identity the
// environment suggests), and nothing runs az.
func TestTestsIgnoreTheMachine(t *testing.T) {
	marker := deployerMachine(t)
	cfg := merge(stackConfig(t, "snp"), map[string]string{"caa-azure:clusterAuth": "entra"})
	var sawSubscription string
	var sawSettings azauth.Settings
	opts := hermetic(t)
	opts.LookPath = func(string) (string, error) { return "/usr/local/bin/kubelogin", nil }
	opts.Preflight = func(_ context.Context, subscription string, s azauth.Settings) (preflight.Cloud, error) {
		sawSubscription, sawSettings = subscription, s
		return nil, preflight.ErrNoCredentials
	}
	m := newMocks()
	out := outputs{}
	err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
		if _, err := stack.DeployWith(ctx, opts); err != nil {
			return err
		}
		return awaitExports(ctx, out)
	})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "subscription the preflight checks", sawSubscription, subscriptionID)
	if sawSettings != (azauth.Settings{}) {
		t.Errorf("the preflight read credentials from the process environment: %+v", sawSettings)
	}
	if kc, _ := out["kubeconfig"].Value.(string); !strings.Contains(kc, "- azurecli") {
		t.Errorf("the kubeconfig's login mode came from the process environment:\n%s", kc)
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("the test ran az: %s", b)
	}
}

// TestEnvironmentIsPassedIn: the environment a caller passes reaches the
// provider settings, so production's os.LookupEnv is what Deploy reads.
func TestEnvironmentIsPassedIn(t *testing.T) {
	env := map[string]string{"ARM_SUBSCRIPTION_ID": "99999999-9999-9999-9999-999999999999", "ARM_CLIENT_ID": "ci-client"}
	var sawSubscription string
	var sawSettings azauth.Settings
	opts := hermetic(t)
	opts.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	opts.Preflight = func(_ context.Context, subscription string, s azauth.Settings) (preflight.Cloud, error) {
		sawSubscription, sawSettings = subscription, s
		return nil, preflight.ErrNoCredentials
	}
	err := run(t, "snp", stackConfig(t, "snp"), newMocks(), func(ctx *pulumi.Context) error {
		_, err := stack.DeployWith(ctx, opts)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "subscription from ARM_SUBSCRIPTION_ID", sawSubscription, env["ARM_SUBSCRIPTION_ID"])
	expect(t, "client id from ARM_CLIENT_ID", sawSettings.ClientID, "ci-client")
}
