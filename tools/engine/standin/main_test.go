package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

const clusterURN = "urn:pulumi:snp::caa-azure::caa-azure:infra:Cluster$azure-native:containerservice:ManagedCluster::cluster-aks"

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The second run must see the same computed outputs as the first, or every
// dependent shows a diff; another resource must get other ids.
func TestOutputsAreStablePerURN(t *testing.T) {
	in := mustStruct(t, map[string]any{"resourceName": "caa-x1", "resourceGroupName": "caa-rg-x1"})
	id1, out1 := outputs("azure-native:containerservice:ManagedCluster", clusterURN, "cluster-aks", in)
	id2, out2 := outputs("azure-native:containerservice:ManagedCluster", clusterURN, "cluster-aks", in)
	if id1 != id2 || !proto.Equal(out1, out2) {
		t.Fatalf("two runs differ: %s %v / %s %v", id1, out1, id2, out2)
	}
	want := "/subscriptions/" + subscriptionID + "/resourceGroups/caa-rg-x1/providers/Microsoft.ContainerService/managedClusters/caa-x1"
	if id1 != want {
		t.Errorf("id = %s, want %s", id1, want)
	}
	if got := out1.Fields["name"].GetStringValue(); got != "caa-x1" {
		t.Errorf("name = %q, want the resourceName input", got)
	}
	issuer := out1.Fields["oidcIssuerProfile"].GetStructValue().GetFields()["issuerURL"].GetStringValue()
	if !strings.HasPrefix(issuer, "https://") {
		t.Errorf("issuerURL = %q", issuer)
	}
	_, other := outputs("azure-native:containerservice:ManagedCluster", clusterURN+"2", "cluster-aks", in)
	if other.Fields["oidcIssuerProfile"].GetStructValue().GetFields()["issuerURL"].GetStringValue() == issuer {
		t.Error("two clusters share an OIDC issuer")
	}
}

func TestRandomStringHonoursLength(t *testing.T) {
	_, out := outputs("random:index/randomString:RandomString", "urn:x", "name-suffix", mustStruct(t, map[string]any{"length": 6}))
	r := out.Fields["result"].GetStringValue()
	if len(r) != 6 || strings.Trim(r, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Errorf("result = %q, want 6 lower-case letters and digits", r)
	}
}

func TestDiffReportsChangedKeys(t *testing.T) {
	s := &standin{}
	old := mustStruct(t, map[string]any{"a": "1", "b": "2"})
	res, err := s.Diff(context.Background(), &pulumirpc.DiffRequest{OldInputs: old, News: old})
	if err != nil || res.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("same inputs: %v %v", res, err)
	}
	res, err = s.Diff(context.Background(), &pulumirpc.DiffRequest{OldInputs: old, News: mustStruct(t, map[string]any{"a": "1", "b": "3"})})
	if err != nil || res.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(res.Diffs) != 1 || res.Diffs[0] != "b" || len(res.Replaces) != 0 {
		t.Fatalf("changed b: %v %v", res, err)
	}
}

func TestKubeconfigComesFromTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAA_STANDIN_KUBECONFIG", path)
	ret, err := invoke("azure-native:containerservice:listManagedClusterUserCredentials", mustStruct(t, map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	b64 := ret["kubeconfigs"].([]any)[0].(map[string]any)["value"].(string)
	if raw, _ := base64.StdEncoding.DecodeString(b64); string(raw) != "apiVersion: v1\nkind: Config\n" {
		t.Errorf("kubeconfig = %q", raw)
	}
}

func TestRecordAppendsInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	t.Setenv("CAA_STANDIN_LOG", path)
	for _, op := range []string{"create", "update", "delete"} {
		if err := record(op, "azure-native:resources:ResourceGroup", "cluster-rg"); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	want := "create azure-native:resources:ResourceGroup cluster-rg\nupdate azure-native:resources:ResourceGroup cluster-rg\ndelete azure-native:resources:ResourceGroup cluster-rg\n"
	if string(b) != want {
		t.Errorf("log = %q, want %q", b, want)
	}
}
