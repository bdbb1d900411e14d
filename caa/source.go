package caa

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"caa-azure/caa/upstream"
)

// Cloner fetches one tag, or one commit, of a git repository into dir.
type Cloner interface {
	Clone(ctx context.Context, url, ref, dir string) error
}

// GitCloner clones with the git command, as kustomize does for remote bases.
type GitCloner struct{}

// Clone runs a shallow, single-tag clone, or, for a full commit id (what
// CAA's versions.yaml pins trustee to), a shallow fetch of that commit.
func (GitCloner) Clone(ctx context.Context, url, ref, dir string) error {
	if _, err := exec.LookPath("git"); err != nil {
		return errors.New("git is not installed")
	}
	if !upstream.IsCommitID(ref) {
		return runGit(ctx, "", "clone", "--quiet", "--depth", "1", "--branch", ref, "--single-branch", url, dir)
	}
	if err := runGit(ctx, "", "init", "--quiet", dir); err != nil {
		return err
	}
	if err := runGit(ctx, dir, "fetch", "--quiet", "--depth", "1", url, ref); err != nil {
		return err
	}
	return runGit(ctx, dir, "checkout", "--quiet", "FETCH_HEAD")
}

func runGit(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SourceCache keeps one checkout per repository and tag, so only the first
// preview of a version needs the network.
type SourceCache struct {
	// Dir holds the checkouts; DefaultCacheDir gives the usual place.
	Dir    string
	Cloner Cloner
}

// DefaultCacheDir is <user cache dir>/caa-azure/sources.
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache directory: %w", err)
	}
	return filepath.Join(base, "caa-azure", "sources"), nil
}

var unsafePathChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Checkout returns a directory holding repository url at tag, cloning it
// only when the cache lacks it. A failed clone leaves nothing behind. A tag
// the release table pins (upstream.PinnedCommit) is cloned by its commit,
// and a checkout, cached or new, whose HEAD is another commit is refused:
// a moved tag or an edited cache must not change what is deployed.
func (c *SourceCache) Checkout(ctx context.Context, url, tag string) (string, error) {
	name := unsafePathChars.ReplaceAllString(strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://"), "_")
	dir := filepath.Join(c.Dir, name+"@"+unsafePathChars.ReplaceAllString(tag, "_"))
	ref, what := tag, "tag "+tag
	if commit, pinned := upstream.PinnedCommit(url, tag); pinned {
		ref, what = commit, fmt.Sprintf("tag %s (commit %s)", tag, commit)
	}
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		return dir, checkHead(dir, url, tag, ref)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the source cache %s: %w", c.Dir, err)
	}
	tmp, err := os.MkdirTemp(c.Dir, ".clone-*")
	if err != nil {
		return "", fmt.Errorf("creating a clone directory in %s: %w", c.Dir, err)
	}
	defer os.RemoveAll(tmp)
	target := filepath.Join(tmp, "repo")
	if err := c.Cloner.Clone(ctx, url, ref, target); err != nil {
		return "", fmt.Errorf("cloning %s at %s failed (%v)", url, what, err)
	}
	if head, err := gitHead(target); upstream.IsCommitID(ref) && (err != nil || !strings.EqualFold(head, ref)) {
		return "", fmt.Errorf("cloning %s at %s gave another checkout (HEAD %q, %v); nothing was cached", url, what, head, err)
	}
	// Rename is atomic, so a concurrent run sees either no checkout or a whole one.
	if err := os.Rename(target, dir); err != nil {
		if info, statErr := os.Stat(dir); statErr == nil && info.IsDir() {
			return dir, checkHead(dir, url, tag, ref)
		}
		return "", fmt.Errorf("storing the checkout of %s@%s: %w", url, tag, err)
	}
	return dir, nil
}

// checkHead refuses a checkout of url whose HEAD is not ref, when ref is a
// commit; a plain tag (a release the table does not pin) is not checked.
func checkHead(dir, url, tag, ref string) error {
	if !upstream.IsCommitID(ref) {
		return nil
	}
	head, err := gitHead(dir)
	if err == nil && strings.EqualFold(head, ref) {
		return nil
	}
	found := "whose HEAD cannot be read (" + fmt.Sprint(err) + ")"
	if err == nil {
		found = "at commit " + head
	}
	return fmt.Errorf("the checkout %s of %s is %s, but %s must be commit %s (the tag moved upstream, or the checkout was "+
		"changed); delete %s so that the next run clones the pinned commit", dir, url, found, tag, ref, dir)
}

// gitHead reads the commit a checkout's HEAD names, without git: a
// detached HEAD (what a clone of a tag or a commit leaves) holds the
// commit itself, a branch HEAD names a loose or packed ref.
func gitHead(dir string) (string, error) {
	gitDir := filepath.Join(dir, ".git")
	b, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", err
	}
	head := strings.TrimSpace(string(b))
	ref, isRef := strings.CutPrefix(head, "ref: ")
	if !isRef {
		return head, nil
	}
	if b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref))); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	packed, err := os.ReadFile(filepath.Join(gitDir, "packed-refs"))
	if err != nil {
		return "", fmt.Errorf("HEAD names %s, which is neither a loose nor a packed ref", ref)
	}
	for _, line := range strings.Split(string(packed), "\n") {
		if commit, name, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == ref {
			return commit, nil
		}
	}
	return "", fmt.Errorf("HEAD names %s, which is not in packed-refs", ref)
}
