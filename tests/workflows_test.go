package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// TestWorkflowsLint runs actionlint on every workflow, so a broken workflow
// fails `go test ./...` before it reaches GitHub.
func TestWorkflowsLint(t *testing.T) {
	files, err := filepath.Glob("../.github/workflows/*.yml")
	if err != nil || len(files) != 3 {
		t.Fatalf("want preview.yml, test.yml and deploy.yml, found %v (%v)", files, err)
	}
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", filepath.Base(e.Filepath), e.Line, e.Column, e.Message, e.Kind)
	}
}

// TestWorkflowsPinActions: every action is pinned to a full commit SHA (a
// tag can be moved; a SHA cannot) with a comment naming the release it is,
// and no workflow asks for more than it needs.
func TestWorkflowsPinActions(t *testing.T) {
	uses := regexp.MustCompile(`(?m)uses:\s*([^@\s]+)@(\S+)(.*)$`)
	files, _ := filepath.Glob("../.github/workflows/*.yml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range uses.FindAllStringSubmatch(text, -1) {
			if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(m[2]) || !regexp.MustCompile(`^\s*# v\d+\.\d+\.\d+\s*$`).MatchString(m[3]) {
				t.Errorf("%s: %s@%s%s must be pinned to a commit SHA with a comment naming its release (# vX.Y.Z)", filepath.Base(f), m[1], m[2], m[3])
			}
		}
		for _, broad := range []string{"write-all", "contents: write", "actions: write", "secrets: inherit"} {
			if strings.Contains(text, broad) {
				t.Errorf("%s asks for %q", filepath.Base(f), broad)
			}
		}
	}
	preview, _ := os.ReadFile("../.github/workflows/preview.yml")
	for _, want := range []string{"command: preview", "comment-on-pr: true", "refresh: true", "diff: true",
		"id-token: write", "pull-requests: write", "contents: read", "stack: [snp, tdx, nonconf]", "ARM_USE_OIDC"} {
		if !strings.Contains(string(preview), want) {
			t.Errorf("preview.yml lacks %q", want)
		}
	}
	if strings.Contains(string(preview), "client-secret") || strings.Contains(string(preview), "ARM_CLIENT_SECRET") {
		t.Error("preview.yml must log in with OIDC, not a client secret")
	}
	test, _ := os.ReadFile("../.github/workflows/test.yml")
	if strings.Count(string(test), "run: bash .ci/run") != 1 || strings.Contains(string(test), "run: go test") || strings.Contains(string(test), "matrix") {
		t.Error("test.yml must run the tests once per push: one `bash .ci/run`, no second `go test`, no matrix")
	}
	deploy, _ := os.ReadFile("../.github/workflows/deploy.yml")
	for _, want := range []string{"workflow_dispatch", "environment: ${{ inputs.stack }}", "pulumi destroy --yes"} {
		if !strings.Contains(string(deploy), want) {
			t.Errorf("deploy.yml lacks %q", want)
		}
	}
	// Plain destroy works by design; --run-program would rerun the
	// preflight and the upstream fetch, which can block a teardown.
	if strings.Contains(string(deploy), "--run-program") {
		t.Error("deploy.yml destroys with --run-program")
	}
	// Previews run a pull request's code: a read-only identity of their
	// own, never the deploy identity.
	// A read-only identity fails preflight's permission checks: previews
	// report them as warnings.
	if !regexp.MustCompile(`(?m)^\s+caa-azure:preflight:\n\s+value: warn$`).MatchString(string(preview)) {
		t.Error("preview.yml must run preflight in warn mode: its read-only identity fails the permission checks")
	}
	if !strings.Contains(string(preview), "vars.AZURE_PREVIEW_CLIENT_ID") || strings.Contains(string(preview), "vars.AZURE_CLIENT_ID") {
		t.Error("preview.yml must log in as AZURE_PREVIEW_CLIENT_ID, never the deploy identity AZURE_CLIENT_ID")
	}
	for name, text := range map[string]string{"preview.yml": string(preview), "deploy.yml": string(deploy)} {
		if !regexp.MustCompile(`pulumi-version: \d+\.\d+\.\d+\n`).MatchString(text) {
			t.Errorf("%s must pin the Pulumi CLI version", name)
		}
	}
	for _, want := range []string{
		`(?m)^    if: github\.ref == format\('refs/heads/\{0\}', github\.event\.repository\.default_branch\)$`, // the default branch only
		`(?m)^\s+if \[ -z "\$PULUMI_CONFIG_PASSPHRASE" \]; then$`,                                              // no empty passphrase
		`(?m)^\s+pulumi stack select --create "\$STACK" --secrets-provider "\$\{PULUMI_SECRETS_PROVIDER:-passphrase\}"$`,
	} {
		if !regexp.MustCompile(want).MatchString(string(deploy)) {
			t.Errorf("deploy.yml lacks a line matching %s", want)
		}
	}
}

// TestPrebuiltBinary: Pulumi.yaml runs the binary the Makefile builds.
func TestPrebuiltBinary(t *testing.T) {
	var proj struct {
		Runtime struct {
			Name    string `yaml:"name"`
			Options struct {
				Binary string `yaml:"binary"`
			} `yaml:"options"`
		} `yaml:"runtime"`
	}
	readYAML(t, "../Pulumi.yaml", &proj)
	if proj.Runtime.Name != "go" || proj.Runtime.Options.Binary != "bin/caa-azure" {
		t.Fatalf("Pulumi.yaml runtime = %+v, want go with binary bin/caa-azure", proj.Runtime)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil || !strings.Contains(string(makefile), "BIN      := "+proj.Runtime.Options.Binary) {
		t.Errorf("the Makefile does not build %s", proj.Runtime.Options.Binary)
	}
}

// TestPreviewsRunOnlyReviewed guards what a pull request can reach: the only
// job that can get Azure credentials (an OIDC token, the Azure login, the
// state passphrase) runs for this repository's branches in the `preview`
// environment, whose required reviewers approve each run; the fork job
// gets none of it.
func TestPreviewsRunOnlyReviewed(t *testing.T) {
	var wf struct {
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			If          string            `yaml:"if"`
			Environment any               `yaml:"environment"`
			Permissions map[string]string `yaml:"permissions"`
			Env         map[string]string `yaml:"env"`
			Steps       []struct {
				Uses string `yaml:"uses"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, "../.github/workflows/preview.yml", &wf)
	if wf.Permissions["id-token"] != "" || wf.Permissions["pull-requests"] != "" {
		t.Errorf("preview.yml grants %v to every job; grant id-token and pull-requests to the reviewed job only", wf.Permissions)
	}
	credentialed := 0
	for name, job := range wf.Jobs {
		logsIn := job.Permissions["id-token"] == "write" || job.Env["ARM_CLIENT_ID"] != "" || job.Env["PULUMI_CONFIG_PASSPHRASE"] != ""
		for _, s := range job.Steps {
			logsIn = logsIn || strings.HasPrefix(s.Uses, "azure/login@") || strings.HasPrefix(s.Uses, "pulumi/actions@")
		}
		if !logsIn {
			continue
		}
		credentialed++
		if job.Environment != "preview" {
			t.Errorf("job %s gets credentials outside the reviewed environment: environment %v, want preview", name, job.Environment)
		}
		if job.If != "github.event.pull_request.head.repo.full_name == github.repository" {
			t.Errorf("job %s must run only for this repository's branches, got if: %q", name, job.If)
		}
	}
	if credentialed != 1 {
		t.Errorf("want exactly one job with credentials (the reviewed preview), got %d", credentialed)
	}
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repo:<owner>/<repo>:environment:preview", "### What a pull request can reach"} {
		if !strings.Contains(string(ops), want) {
			t.Errorf("docs/operations.md lacks %q", want)
		}
	}
}
