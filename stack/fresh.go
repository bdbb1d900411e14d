package stack

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// builtFrom is the hash of the sources bin/caa-azure was built from; the
// Makefile sets it (-X caa-azure/stack.builtFrom=...). Empty means built
// some other way (go test, go run), which needs no check.
var builtFrom string

// SourceHash hashes the program's sources under root as the Makefile does:
// `sha256sum` of every non-test .go file outside tests/ and tools/ (the
// engine test's own modules, not part of the program) and of go.mod and
// go.sum, sorted by path, hashed once more.
func SourceHash(root string) (string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".git" || rel == "bin" || rel == "tests" || rel == "tools" {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" {
			files = append(files, "./"+rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	list := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(list, "%x  %s\n", sha256.Sum256(b), f)
	}
	return fmt.Sprintf("%x", list.Sum(nil)), nil
}

// checkFresh stops a binary built from other sources than those in root:
// Pulumi.yaml runs bin/caa-azure, which would otherwise deploy stale code
// after a `git pull` or an edit.
func checkFresh(built, root string) error {
	if built == "" {
		return nil
	}
	if root == "" {
		root = "."
	}
	now, err := SourceHash(root)
	if err != nil || now == built {
		return nil
	}
	return fmt.Errorf("bin/caa-azure was built from other sources than the ones in %s (changed since the last build); "+
		"rebuild with make build, then run pulumi again", root)
}
