package charttest

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"caa-azure/caa/initdata"
	"caa-azure/caa/upstream"
)

// allowAllExceptExec is upstream's agent policy that refuses only exec.
const allowAllExceptExec = "src/cloud-api-adaptor/podvm/files/etc/kata-opa/allow-all-except-exec-process.rego"

var regoDefault = regexp.MustCompile(`(?m)^default (\w+) := (true|false)$`)

// TestRealAgentPolicy: at every known CAA tag, the program's global agent
// policy decides exactly the requests upstream's
// allow-all-except-exec-process.rego does, the same way.
func TestRealAgentPolicy(t *testing.T) {
	repo := os.Getenv(envCAARepo)
	if repo == "" {
		t.Skipf("set %s to a cloud-api-adaptor git repository to compare the agent policy with upstream's (see CONTRIBUTING.md); skipped", envCAARepo)
	}
	ours := map[string]string{}
	for _, m := range regoDefault.FindAllStringSubmatch(initdata.Policy(), -1) {
		ours[m[1]] = m[2]
	}
	for _, version := range upstream.KnownVersions() {
		t.Run(version, func(t *testing.T) {
			out, err := exec.Command("git", "--git-dir", gitDir(repo), "show", "v"+version+":"+allowAllExceptExec).Output()
			if err != nil {
				t.Fatalf("git show v%s:%s: %v", version, allowAllExceptExec, err)
			}
			theirs := map[string]string{}
			for _, m := range regoDefault.FindAllStringSubmatch(string(out), -1) {
				theirs[m[1]] = m[2]
			}
			if len(theirs) != len(ours) {
				t.Errorf("upstream decides %d requests, the program %d", len(theirs), len(ours))
			}
			for r, v := range theirs {
				if ours[r] != v {
					t.Errorf("%s: upstream %s, the program %q", r, v, ours[r])
				}
			}
		})
	}
}
