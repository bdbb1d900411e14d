package upstream

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestEveryClonedReleaseIsPinned: each release the operator path clones has
// a commit for its CAA tag and its operator tag, so none is cloned by a
// name that could move.
func TestEveryClonedReleaseIsPinned(t *testing.T) {
	for _, v := range KnownVersions() {
		r, problems := ResolveRelease(v, ReleaseOverrides{PodVMImageID: "/subscriptions/s/x"})
		if problems != nil || r.InstallMethod != InstallOperator {
			continue
		}
		for repo, tag := range map[string]string{CAARepository: "v" + r.CAAVersion, OperatorRepository: "v" + r.OperatorVersion} {
			if c, ok := PinnedCommit(repo, tag); !ok || !IsCommitID(c) {
				t.Errorf("%s %s has no pinned commit (%q)", repo, tag, c)
			}
		}
	}
}

// Environment for TestPinnedCommitsMatchUpstream: git repositories (clones
// or bare mirrors) of cloud-api-adaptor and the operator with their tags.
const (
	envCAARepo      = "CAA_REPO"
	envOperatorRepo = "OPERATOR_REPO"
)

// TestPinnedCommitsMatchUpstream reads every pinned tag in real upstream
// repositories and compares the commit with the table's.
func TestPinnedCommitsMatchUpstream(t *testing.T) {
	repos := map[string]string{CAARepository: os.Getenv(envCAARepo), OperatorRepository: os.Getenv(envOperatorRepo)}
	if repos[CAARepository] == "" || repos[OperatorRepository] == "" {
		t.Skipf("set %s and %s to git repositories of cloud-api-adaptor and the operator to check the pinned commits; skipped",
			envCAARepo, envOperatorRepo)
	}
	for repo, tags := range PinnedTags() {
		for _, tag := range tags {
			cmd := exec.Command("git", "rev-parse", "--verify", "--quiet", tag+"^{commit}")
			cmd.Dir = repos[repo]
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("%s: tag %s not found in %s: %v", repo, tag, repos[repo], err)
				continue
			}
			want, _ := PinnedCommit(repo, tag)
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("%s %s is %s upstream, the table pins %s", repo, tag, got, want)
			}
		}
	}
}
