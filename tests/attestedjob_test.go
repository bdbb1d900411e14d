package tests

import "testing"

// TestAttestedJobRunsInAPeerPod: the attested sample proves something only
// when its pod runs in a pod VM (without kata-remote it would run on the
// node, where no TEE evidence exists), on both install paths and without a
// TEE too; and a failed Job is replaced on the next run instead of being
// waited on again.
func TestAttestedJobRunsInAPeerPod(t *testing.T) {
	for name, tc := range map[string]struct {
		stack string
		set   []map[string]string
	}{
		"snp operator path": {"snp", []map[string]string{attestationOn(repositoryTrustee)}},
		"snp chart path":    {"snp", []map[string]string{chartRelease, attestationOn(kvTrustee)}},
		"nonconf":           {"nonconf", []map[string]string{attestationOn(repositoryTrustee)}},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := attestedStack(t, tc.stack, tc.set...)
			job := m.one(t, tJob, "attested-sample")
			expect(t, "attested Job runtime class", str(t, job, "spec", "template", "spec", "runtimeClassName"), "kata-remote")
			expect(t, "attested Job replaceUnready", str(t, job, "metadata", "annotations", "pulumi.com/replaceUnready"), "true")
		})
	}
}
