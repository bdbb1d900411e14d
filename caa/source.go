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

// Cloner fetches one tag of a git repository into dir.
type Cloner interface {
	Clone(ctx context.Context, url, tag, dir string) error
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
// only when the cache lacks it. A failed clone leaves nothing behind.
func (c *SourceCache) Checkout(ctx context.Context, url, tag string) (string, error) {
	name := unsafePathChars.ReplaceAllString(strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://"), "_")
	dir := filepath.Join(c.Dir, name+"@"+unsafePathChars.ReplaceAllString(tag, "_"))
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		return dir, nil
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
	if err := c.Cloner.Clone(ctx, url, tag, target); err != nil {
		return "", fmt.Errorf("cloning %s at tag %s failed (%v)", url, tag, err)
	}
	// Rename is atomic, so a concurrent run sees either no checkout or a whole one.
	if err := os.Rename(target, dir); err != nil {
		if info, statErr := os.Stat(dir); statErr == nil && info.IsDir() {
			return dir, nil
		}
		return "", fmt.Errorf("storing the checkout of %s@%s: %w", url, tag, err)
	}
	return dir, nil
}
