package infra

import (
	"strings"
	"testing"
)

const aksExecKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://c.hcp.eastus.azmk8s.io:443"}
users:
- name: clusterUser
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
`

func TestExecKubeconfig(t *testing.T) {
	got, err := ExecKubeconfig(aksExecKubeconfig, KubeloginWorkloadIdentity)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, ExecKubeconfigHeader) || !strings.Contains(got, "- workloadidentity") || strings.Contains(got, "devicecode") {
		t.Errorf("login mode not set:\n%s", got)
	}
	if !strings.Contains(got, "6dae42f8-4368-4678-94ff-3960e28e3630") || !strings.Contains(got, "command: kubelogin") {
		t.Errorf("other exec settings lost:\n%s", got)
	}
	noMode := strings.Replace(aksExecKubeconfig, "--login, devicecode, ", "", 1)
	got, err = ExecKubeconfig(noMode, KubeloginAzureCLI)
	if err != nil || !strings.Contains(got, "- --login\n") || !strings.Contains(got, "- azurecli") {
		t.Errorf("missing --login must be added: %v\n%s", err, got)
	}
	if _, err := ExecKubeconfig("apiVersion: v1\nusers:\n- name: u\n  user: {token: x}\n", KubeloginAzureCLI); err == nil {
		t.Error("a token kubeconfig is not an exec kubeconfig")
	}
	if _, err := ExecKubeconfig(":\n\t-", KubeloginAzureCLI); err == nil {
		t.Error("garbage must fail")
	}
}

func TestKubeloginMode(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if KubeloginMode(get) != KubeloginAzureCLI {
		t.Error("locally the Azure CLI login is used")
	}
	env["AZURE_FEDERATED_TOKEN_FILE"] = "/var/run/secrets/token"
	if KubeloginMode(get) != KubeloginWorkloadIdentity {
		t.Error("with a federated token file, workload identity is used")
	}
}
