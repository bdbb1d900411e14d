package infra

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Kubelogin login modes the exec kubeconfig can use.
const (
	KubeloginAzureCLI         = "azurecli"
	KubeloginWorkloadIdentity = "workloadidentity"
)

// KubeloginMode picks how kubelogin gets tokens: workload identity where
// a federated token file is present (CI), the Azure CLI login otherwise.
func KubeloginMode(getenv func(string) string) string {
	if getenv("AZURE_FEDERATED_TOKEN_FILE") != "" {
		return KubeloginWorkloadIdentity
	}
	return KubeloginAzureCLI
}

// ExecKubeconfigHeader opens the exec kubeconfig so a reader knows it is
// safe to share.
const ExecKubeconfigHeader = "# This kubeconfig holds no credential: kubelogin fetches an Entra ID token on each use.\n"

// ExecKubeconfig sets the kubelogin login mode in every exec user of an
// Entra ID kubeconfig (AKS returns `--login devicecode`, which cannot run
// unattended) and marks the result as holding no secret.
func ExecKubeconfig(raw, loginMode string) (string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
		return "", fmt.Errorf("the kubeconfig AKS returned is not YAML: %w", err)
	}
	users, _ := doc["users"].([]any)
	found := 0
	for _, u := range users {
		user, _ := u.(map[string]any)
		inner, _ := user["user"].(map[string]any)
		exec, _ := inner["exec"].(map[string]any)
		if exec == nil {
			continue
		}
		found++
		args, _ := exec["args"].([]any)
		replaced := false
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--login" || args[i] == "-l" {
				args[i+1] = loginMode
				replaced = true
			}
		}
		if !replaced {
			args = append(args, "--login", loginMode)
		}
		exec["args"] = args
	}
	if found == 0 {
		return "", fmt.Errorf("the kubeconfig AKS returned has no exec user; is Entra ID integration enabled?")
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	return ExecKubeconfigHeader + string(out), nil
}
