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

// TestPreflightImageGrant: for a user's image, preflight checks that the
// deployer may define CAA's read role in the image's group and grant it on
// the image; a community image needs neither.
func TestPreflightImageGrant(t *testing.T) {
	const group = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/img"
	version := group + "/providers/Microsoft.Compute/galleries/g/images/podvm/versions/1.0.0"
	cfg := goodConfig(t)
	cfg["caa-azure:podVmImageId"] = version
	c, _, err := parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range preflightRequest(c, "sub", preflight.Tag{}).Permissions {
		if p.Key == qualify(keyPodVMImageID) {
			got = append(got, p.Action+" @ "+p.Scope)
		}
	}
	want := []string{"Microsoft.Authorization/roleDefinitions/write @ " + group,
		"Microsoft.Authorization/roleAssignments/write @ " + version}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("image permission checks %v, want %v", got, want)
	}

	delete(cfg, "caa-azure:podVmImageId") // the release's community image
	if c, _, err = parse(cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range preflightRequest(c, "sub", preflight.Tag{}).Permissions {
		if p.Key == qualify(keyPodVMImageID) {
			t.Errorf("a community image needs no grant, but preflight checks %s on %s", p.Action, p.Scope)
		}
	}
}
