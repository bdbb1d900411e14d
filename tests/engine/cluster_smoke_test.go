//go:build engine

package engine

import (
	"testing"
	"time"
)

// TestLocalCluster checks the harness's own cluster: a Deployment becomes
// ready on the kwok node, RBAC keeps the read-only user to reading, and the
// API server comes back after a stop with its objects.
func TestLocalCluster(t *testing.T) {
	c := startCluster(t, engineBin(t, clusterBinaries))
	deploy := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "smoke", "namespace": "default"},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "smoke"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "smoke"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}},
			},
		},
	}
	const path = "/apis/apps/v1/namespaces/default/deployments"
	c.admin.create(t, path, deploy)
	waitReady := func() {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if n, _ := field(c.admin.get(t, path+"/smoke"), "status", "readyReplicas").(float64); n == 1 {
				return
			}
			time.Sleep(time.Second)
		}
		t.Fatalf("Deployment not ready after 90s: %v", field(c.admin.get(t, path+"/smoke"), "status"))
	}
	waitReady()

	reader := c.reader
	if code, _, err := reader.do("GET", path+"/smoke", nil, ""); err != nil || code != 200 {
		t.Errorf("the read-only user cannot read a Deployment: %d %v", code, err)
	}
	if code, _, err := reader.do("GET", "/api/v1/namespaces/default/secrets", nil, ""); err != nil || code != 403 {
		t.Errorf("the read-only user lists secrets: %d %v; it must hold only the view role", code, err)
	}
	if code, _, err := reader.do("DELETE", path+"/smoke", nil, ""); err != nil || code != 403 {
		t.Errorf("the read-only user deletes: %d %v", code, err)
	}

	c.StopAPIServer()
	if _, _, err := c.admin.do("GET", "/readyz", nil, ""); err == nil {
		t.Error("the API server still answers after StopAPIServer")
	}
	c.StartAPIServer()
	waitReady()
}
