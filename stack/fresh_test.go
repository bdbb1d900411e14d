package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceHashMatchesMakefile: the hash the Makefile bakes into the
// binary is the one the program computes at start, on this repository.
func TestSourceHashMatchesMakefile(t *testing.T) {
	for _, tool := range []string{"make", "find", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed, so the Makefile's hash cannot be computed here", tool)
		}
	}
	out, err := exec.Command("make", "-s", "-C", "..", "source-hash").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(out))
	got, err := SourceHash("..")
	if err != nil {
		t.Fatal(err)
	}
	if got != want || len(got) != 64 {
		t.Fatalf("SourceHash = %q, the Makefile's = %q", got, want)
	}
}

// TestStaleBinaryStops: a binary whose sources changed since it was built
// stops with how to fix it; one built by go test or go run is not checked.
func TestStaleBinaryStops(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.go", "package main\n")
	write("go.mod", "module x\n")
	built, err := SourceHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFresh(built, dir); err != nil {
		t.Fatalf("unchanged sources: %v", err)
	}
	write("tests/x_test.go", "package tests\n")
	write("stack/a_test.go", "package stack\n")
	if err := checkFresh(built, dir); err != nil {
		t.Fatalf("tests are not part of the binary: %v", err)
	}
	write("tools/engine/standin/main.go", "package main\n")
	write("tools/engine/go.mod", "module y\n")
	if err := checkFresh(built, dir); err != nil {
		t.Fatalf("the engine test's tools are not part of the binary: %v", err)
	}
	write("stack/deploy.go", "package stack\n")
	err = checkFresh(built, dir)
	if err == nil || !strings.Contains(err.Error(), "rebuild with make build") {
		t.Fatalf("a changed source must stop the run with how to fix it, got %v", err)
	}
	if err := checkFresh("", dir); err != nil {
		t.Errorf("a binary built without the Makefile is not checked: %v", err)
	}
}

func TestLaunchedByPulumi(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	if err := LaunchedByPulumi(env(map[string]string{"PULUMI_MONITOR": "127.0.0.1:1234"})); err != nil {
		t.Errorf("started by the engine: %v", err)
	}
	for _, vars := range []map[string]string{{}, {"PULUMI_MONITOR": ""}} {
		err := LaunchedByPulumi(env(vars))
		if err == nil || !strings.Contains(err.Error(), "pulumi up") {
			t.Errorf("run by hand with %v: %v, want how to run it", vars, err)
		}
	}
}
