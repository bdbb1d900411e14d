package caa

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"caa-azure/caa/upstream"
)

// countingCloner writes a marker instead of cloning and fails if asked for
// the same repository and tag twice.
type countingCloner struct {
	mu    sync.Mutex
	calls map[string]int
	fail  error
	// head, when set, is the commit the clone ends at instead of the one asked for.
	head string
}

func (c *countingCloner) Clone(_ context.Context, url, tag, dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[url+"@"+tag]++
	if c.calls[url+"@"+tag] > 1 {
		return errors.New("cloned twice: the cache did not hold the checkout")
	}
	if c.fail != nil {
		return c.fail
	}
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		return err
	}
	head := tag
	if c.head != "" {
		head = c.head
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte(head+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "marker"), []byte(url+"@"+tag), 0o644)
}

func TestSourceCacheClonesOnce(t *testing.T) {
	cloner := &countingCloner{calls: map[string]int{}}
	cache := &SourceCache{Dir: t.TempDir(), Cloner: cloner}
	first, err := cache.Checkout(context.Background(), upstream.CAARepository, "v0.10.0")
	if err != nil {
		t.Fatal(err)
	}
	second, err := cache.Checkout(context.Background(), upstream.CAARepository, "v0.10.0")
	if err != nil || second != first {
		t.Fatalf("second checkout: %s, %v (first %s)", second, err, first)
	}
	pinned, _ := upstream.PinnedCommit(upstream.CAARepository, "v0.10.0")
	if b, err := os.ReadFile(filepath.Join(first, "marker")); err != nil || string(b) != upstream.CAARepository+"@"+pinned {
		t.Errorf("a pinned tag is cloned by its commit; checkout content: %q %v", b, err)
	}
	other, err := cache.Checkout(context.Background(), upstream.OperatorRepository, "v0.10.0")
	if err != nil || other == first {
		t.Fatalf("another repository needs its own checkout: %s %v", other, err)
	}
	if len(cloner.calls) != 2 {
		t.Errorf("clones: %v", cloner.calls)
	}
}

func TestSourceCacheFailedCloneLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	cache := &SourceCache{Dir: dir, Cloner: &countingCloner{calls: map[string]int{}, fail: errors.New("could not resolve host")}}
	_, err := cache.Checkout(context.Background(), upstream.OperatorRepository, "v0.10.0")
	if err == nil || !strings.Contains(err.Error(), upstream.OperatorRepository) || !strings.Contains(err.Error(), "v0.10.0") ||
		!strings.Contains(err.Error(), "could not resolve host") {
		t.Fatalf("error must name the URL, the tag and the cause: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("a failed clone left %d entries in the cache", len(entries))
	}
}

// TestGitCloner clones a tag of a local repository: the real cloner,
// without the network.
func TestGitCloner(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to test the git cloner (CI installs it with the machine)")
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "--quiet")
	write(t, filepath.Join(repo, "file"), "v1")
	git("add", "file")
	git("commit", "--quiet", "-m", "one")
	git("tag", "v1.0.0")
	write(t, filepath.Join(repo, "file"), "v2")
	git("commit", "--quiet", "-am", "two")

	cache := &SourceCache{Dir: t.TempDir(), Cloner: GitCloner{}}
	dir, err := cache.Checkout(context.Background(), "file://"+repo, "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "file")); string(b) != "v1" {
		t.Errorf("checked out %q, want the tagged content", b)
	}
	if _, err := cache.Checkout(context.Background(), "file://"+repo, "v9.9.9"); err == nil || !strings.Contains(err.Error(), "v9.9.9") {
		t.Errorf("a missing tag must fail naming it: %v", err)
	}

	// A pinned commit (trustee's refs): the first commit, not the tip.
	cmd := exec.Command("git", "rev-parse", "v1.0.0^{commit}")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(out))
	dir, err = cache.Checkout(context.Background(), "file://"+repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "file")); string(b) != "v1" {
		t.Errorf("checked out %q at the commit, want its content", b)
	}
}

// TestSourceCacheRefusesAnotherCommit: a checkout of a pinned tag whose
// HEAD is not the pinned commit is refused, cached or freshly cloned, with
// what to do; a fresh one leaves nothing in the cache.
func TestSourceCacheRefusesAnotherCommit(t *testing.T) {
	pinned, _ := upstream.PinnedCommit(upstream.OperatorRepository, "v0.10.0")
	moved := strings.Repeat("b", 40)

	dir := t.TempDir()
	cache := &SourceCache{Dir: dir, Cloner: &countingCloner{calls: map[string]int{}, head: moved}}
	_, err := cache.Checkout(context.Background(), upstream.OperatorRepository, "v0.10.0")
	if err == nil || !strings.Contains(err.Error(), "v0.10.0 (commit "+pinned+") gave another checkout (HEAD \""+moved) {
		t.Fatalf("a clone at another commit must be refused naming both: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused clone left %d entries in the cache", len(entries))
	}

	// A cached checkout that someone moved.
	cache = &SourceCache{Dir: dir, Cloner: &countingCloner{calls: map[string]int{}}}
	first, err := cache.Checkout(context.Background(), upstream.OperatorRepository, "v0.10.0")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(first, ".git", "HEAD"), moved+"\n")
	_, err = cache.Checkout(context.Background(), upstream.OperatorRepository, "v0.10.0")
	if err == nil || !strings.Contains(err.Error(), "at commit "+moved) || !strings.Contains(err.Error(), "v0.10.0 must be commit "+pinned) ||
		!strings.Contains(err.Error(), "delete "+first) {
		t.Fatalf("a cached checkout at another commit must be refused, saying what to delete: %v", err)
	}
	// A branch HEAD resolves through a packed ref.
	write(t, filepath.Join(first, ".git", "HEAD"), "ref: refs/heads/main\n")
	write(t, filepath.Join(first, ".git", "packed-refs"), "# pack-refs with: peeled\n"+pinned+" refs/heads/main\n")
	if _, err := cache.Checkout(context.Background(), upstream.OperatorRepository, "v0.10.0"); err != nil {
		t.Errorf("a branch at the pinned commit is the pinned commit: %v", err)
	}
	// An unpinned tag (a release the table lacks) is not checked.
	if _, err := cache.Checkout(context.Background(), upstream.OperatorRepository, "v9.9.9"); err != nil {
		t.Errorf("an unpinned tag: %v", err)
	}
}
