package infra

import "testing"

func TestRoleDefinitionID(t *testing.T) {
	got := RoleDefinitionID("sub", RoleReader)
	if got != "/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7" {
		t.Errorf("got %s", got)
	}
}

func TestDecodeKubeconfig(t *testing.T) {
	if got, err := DecodeKubeconfig("YXBpVmVyc2lvbjogdjE="); err != nil || got != "apiVersion: v1" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := DecodeKubeconfig("not base64!"); err == nil {
		t.Error("invalid base64 must be an error")
	}
	if _, err := DecodeKubeconfig(""); err == nil {
		t.Error("an empty kubeconfig must be an error")
	}
}
