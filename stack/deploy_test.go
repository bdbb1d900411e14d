package stack

import (
	"os/exec"
	"testing"
)

// TestProductionOptionsAreTheMachine: what main.go runs reads the real
// environment and PATH and runs the Azure preflight; only DeployWith's
// zero Options are the empty world the tests use.
func TestProductionOptionsAreTheMachine(t *testing.T) {
	t.Setenv("CAA_AZURE_PROBE", "from the process")
	o := productionOptions()
	if o.Env == nil || o.LookPath == nil || o.Preflight == nil {
		t.Fatalf("Deploy must pass the environment, PATH and the Azure preflight: %+v", o)
	}
	if v, ok := o.Env("CAA_AZURE_PROBE"); !ok || v != "from the process" {
		t.Errorf("Env does not read the process environment: %q %v", v, ok)
	}
	if _, err := exec.LookPath("sh"); err == nil {
		if _, err := o.LookPath("sh"); err != nil {
			t.Errorf("LookPath does not search PATH: %v", err)
		}
	}
}
