package initdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// AgentRequests are the kata agent API calls upstream's
// podvm/files/etc/kata-opa/allow-all-except-exec-process.rego decides on,
// the same 36 at every CAA tag from v0.10.0 to v0.22.0 (TestRealAgentPolicy
// checks them). The agent refuses a request the policy has no rule for
// (kata's src/agent/policy), so the list must be complete.
var AgentRequests = []string{
	"AddARPNeighborsRequest", "AddSwapRequest", "CloseStdinRequest", "CopyFileRequest",
	"CreateContainerRequest", "CreateSandboxRequest", "DestroySandboxRequest", "ExecProcessRequest",
	"GetMetricsRequest", "GetOOMEventRequest", "GuestDetailsRequest", "ListInterfacesRequest",
	"ListRoutesRequest", "MemHotplugByProbeRequest", "OnlineCPUMemRequest", "PauseContainerRequest",
	"PullImageRequest", "ReadStreamRequest", "RemoveContainerRequest", "RemoveStaleVirtiofsShareMountsRequest",
	"ReseedRandomDevRequest", "ResumeContainerRequest", "SetGuestDateTimeRequest", "SetPolicyRequest",
	"SignalProcessRequest", "StartContainerRequest", "StartTracingRequest", "StatsContainerRequest",
	"StopTracingRequest", "TtyWinResizeRequest", "UpdateContainerRequest", "UpdateEphemeralMountsRequest",
	"UpdateInterfaceRequest", "UpdateRoutesRequest", "WaitProcessRequest", "WriteStreamRequest",
}

// DeniedRequests are refused by Policy, as upstream's
// allow-all-except-exec-process.rego refuses them: `kubectl exec` would run
// a command the pod's author did not choose inside the pod VM.
var DeniedRequests = []string{"ExecProcessRequest"}

// SampleDeniedRequests are refused outright by SamplePolicy. On top of
// exec, SetPolicyRequest: whoever drives the agent from the host could
// otherwise replace the measured policy with one that allows anything,
// and PCR 8 would still show the initdata's.
var SampleDeniedRequests = []string{"ExecProcessRequest", "SetPolicyRequest"}

// Policy is the kata agent policy of every pod VM that has no initdata of
// its own: upstream's allow-all-except-exec-process.rego.
func Policy() string { return agentDefaults(DeniedRequests, nil) }

// agentDefaults writes one default per request: false for those denied and
// for those decided by rules (which follow), true otherwise.
func agentDefaults(denied, ruled []string) string {
	off := map[string]bool{}
	for _, r := range append(append([]string{}, denied...), ruled...) {
		off[r] = true
	}
	var b strings.Builder
	b.WriteString("package agent_policy\n\n")
	for _, r := range AgentRequests {
		fmt.Fprintf(&b, "default %s := %t\n", r, !off[r])
	}
	return b.String()
}

// Container annotations the container runtime (containerd's CRI) sets on
// every container of a pod, and kata's guest-pull storage driver: the
// agent pulls the image named by that storage's source (kata
// src/agent/src/storage/image_pull_handler.rs, 3.13.0 to 4.0.0).
const (
	ContainerTypeAnnotation = "io.kubernetes.cri.container-type"
	guestPullDriver         = "image_guest_pull"
	sandboxArgs             = `["/pause"]`
)

// Pinned is what the attested sample's pod VM may run.
type Pinned struct {
	// ImageDigest is the image's manifest digest (sha256:...): the
	// content, wherever it is pulled from.
	ImageDigest string
	// Args is the container's full command line (its command and args).
	Args []string
}

// SamplePolicy is the kata agent policy of the attested sample: Policy,
// but SampleDeniedRequests refused, and CreateContainerRequest allowed only
// for the pod's sandbox (pause) container and for one container that runs
// p.Args from an image whose every guest-pulled reference carries
// p.ImageDigest. That is how CoCo's genpolicy restricts containers (kata
// src/tools/genpolicy/rules.rego matches input.OCI.Process.Args and the
// storages), cut to what binds a secret: since the secret is released only
// to a pod VM measured with this policy, a pod with the same (public)
// initdata but another image or command is refused by its own agent.
func SamplePolicy(p Pinned) (string, error) {
	if !strings.HasPrefix(p.ImageDigest, "sha256:") || len(p.ImageDigest) != len("sha256:")+64 || len(p.Args) == 0 {
		return "", fmt.Errorf("the attested sample's policy needs an image digest (sha256:<64 hex>) and a command, got %q and %d args",
			p.ImageDigest, len(p.Args))
	}
	// A JSON array of strings is a Rego array of the same strings; without
	// HTML escaping, the policy shows the command as it is.
	var argsJSON bytes.Buffer
	enc := json.NewEncoder(&argsJSON)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p.Args); err != nil {
		return "", err
	}
	args := strings.TrimSpace(argsJSON.String())
	var b strings.Builder
	b.WriteString(strings.Replace(agentDefaults(SampleDeniedRequests, []string{"CreateContainerRequest"}),
		"package agent_policy\n\n", "package agent_policy\n\nimport future.keywords.every\nimport future.keywords.if\nimport future.keywords.in\n\n", 1))
	fmt.Fprintf(&b, `
# The pod's sandbox container: the agent runs the pause bundle of the pod VM image.
CreateContainerRequest if {
	input.OCI.Annotations[%[1]q] == "sandbox"
	input.OCI.Process.Args == %[2]s
}

# The sample's container: this command, from an image with this digest.
CreateContainerRequest if {
	input.OCI.Annotations[%[1]q] == "container"
	input.OCI.Process.Args == %[3]s
	pulled := [s.source | some s in input.storages; s.driver == %[4]q]
	count(pulled) > 0
	every source in pulled {
		endswith(source, %[5]q)
	}
}
`, ContainerTypeAnnotation, sandboxArgs, args, guestPullDriver, "@"+p.ImageDigest)
	return b.String(), nil
}
