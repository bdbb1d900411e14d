package preflight

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunReportsErrorsFirstByKey: what stops the deploy comes first, and
// findings of one severity are in key order, so the same subscription gives
// the same report on every run whatever order the checks finish in.
func TestRunReportsErrorsFirstByKey(t *testing.T) {
	cloud := healthy()
	cloud.allowed = map[string]bool{}                                // Error: caa-azure:resourceGroupName
	cloud.versionsErr = errors.New("503")                            // Warning: caa-azure:kubernetesVersion
	cloud.usages[0] = Usage{Name: "standardDCASv5Family", Limit: 10} // Warning: caa-azure:instanceSize, 10 of 20 vCPUs
	req := request()
	req.Location = "northeurope" // Error: caa-azure:podVmImageId
	req.KubernetesVersionKey, req.KubernetesVersion = "caa-azure:kubernetesVersion", "1.33"
	want := []struct {
		severity Severity
		key      string
	}{
		{Error, "caa-azure:podVmImageId"},
		{Error, "caa-azure:resourceGroupName"},
		{Warning, "caa-azure:instanceSize"},
		{Warning, "caa-azure:kubernetesVersion"},
	}
	for i := 0; i < 20; i++ {
		got := Run(context.Background(), cloud, req, time.Second)
		if len(got) != len(want) {
			t.Fatalf("want %d findings, got %+v", len(want), got)
		}
		for j, w := range want {
			if got[j].Severity != w.severity || got[j].Key != w.key {
				t.Fatalf("finding %d is %v %s, want %v %s (all: %+v)", j, got[j].Severity, got[j].Key, w.severity, w.key, got)
			}
		}
	}
}
