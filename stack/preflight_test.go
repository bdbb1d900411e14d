package stack

import (
	"testing"

	"caa-azure/infra/preflight"
)

// TestPodVMsAtOnce: preflight's minimum pod VM count is what the deploy
// waits on together, so a quota short of it stops the run before anything
// is created instead of timing out after 20 minutes.
func TestPodVMsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		sample, attestation bool
		replicas, want      int
	}{
		{true, false, 1, 1},
		{true, false, 3, 3},
		{true, true, 1, 2},
		{false, true, 1, 1},
		{false, false, 5, 1},
	} {
		cfg := &Config{Sample: tc.sample, Attestation: tc.attestation, SampleReplicas: tc.replicas, NodeCount: 1, PeerPodsLimitPerNode: 10}
		if got := podVMsAtOnce(cfg); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc, got, tc.want)
		}
		req := preflightRequest(cfg, "sub", preflight.Tag{})
		if req.Sizes[1].Key != qualify(keyInstanceSize) || req.Sizes[1].Min != tc.want {
			t.Errorf("%+v: the instance size's minimum is %+v", tc, req.Sizes[1])
		}
	}
}
