package caa

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"caa-azure/caa/upstream"
)

// copyCloner "clones" by copying a local fixture tree, so benchmarks measure
// the cache and the renderer without a network; like git, it leaves HEAD
// at the commit it was asked for.
type copyCloner struct{ roots map[string]string }

func (c copyCloner) Clone(_ context.Context, url, ref, dir string) error {
	if err := copyFixture(c.roots[url], dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte(ref+"\n"), 0o644)
}

func copyFixture(src, dir string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

var fixtureRepos = copyCloner{roots: map[string]string{
	upstream.CAARepository:      "../tests/fixtures/cloud-api-adaptor",
	upstream.OperatorRepository: "../tests/fixtures/operator",
}}

// renderFromCache checks both repositories out of the cache and renders them.
func renderFromCache(b testing.TB, cache *SourceCache) {
	b.Helper()
	caaRoot, err := cache.Checkout(context.Background(), upstream.CAARepository, "v0.10.0")
	if err != nil {
		b.Fatal(err)
	}
	opRoot, err := cache.Checkout(context.Background(), upstream.OperatorRepository, "v0.10.0")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Render(Sources{CAADir: filepath.Join(caaRoot, upstream.CAASubdir), OperatorDir: opRoot}, RenderOptions{}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRenderCold: an empty cache, so both repositories are "cloned".
func BenchmarkRenderCold(b *testing.B) {
	for b.Loop() {
		renderFromCache(b, &SourceCache{Dir: b.TempDir(), Cloner: fixtureRepos})
	}
}

// BenchmarkRenderWarm: the cache holds both checkouts, as on every preview
// after the first; a clone here would fail the benchmark.
func BenchmarkRenderWarm(b *testing.B) {
	dir := b.TempDir()
	renderFromCache(b, &SourceCache{Dir: dir, Cloner: fixtureRepos})
	warm := &SourceCache{Dir: dir, Cloner: failingCloner{}}
	for b.Loop() {
		renderFromCache(b, warm)
	}
}

type failingCloner struct{}

func (failingCloner) Clone(_ context.Context, url, tag, _ string) error {
	return &cloneError{url + "@" + tag}
}

type cloneError struct{ what string }

func (e *cloneError) Error() string { return "warm render cloned " + e.what }

// TestWarmRenderNeedsNoNetwork: once the cache holds both checkouts, a
// render clones nothing, so a preview after the first needs no network.
func TestWarmRenderNeedsNoNetwork(t *testing.T) {
	dir := t.TempDir()
	renderFromCache(t, &SourceCache{Dir: dir, Cloner: fixtureRepos})
	// A clone now fails the render with "warm render cloned ...".
	renderFromCache(t, &SourceCache{Dir: dir, Cloner: failingCloner{}})
}
