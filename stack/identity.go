package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"caa-azure/infra/azname"
)

// stackIdentity tells this stack from every other, even one of the same
// project and stack name in the same subscription: its random suffix
// (DESIGN decision 8), kept in Pulumi state. The stack tag's value and the
// peer-pod subnet's name in a shared VNet carry it.
//
// Registering it is the only thing the program does before every check
// has passed, and only where a check needs it (placement in a VNet of the
// user's, preflight); a check that then fails leaves the suffix in state
// and nothing in Azure, and the next run reuses it.
type stackIdentity struct {
	ctx    *pulumi.Context
	cfg    *Config
	suffix *random.RandomString
	// value is the suffix; known is false only in the preview of the
	// stack's first run, when nothing of the stack can exist yet.
	value string
	known bool
}

// register creates the suffix (or, on later runs, reads it from state)
// and waits for its value.
func (id *stackIdentity) register() error {
	if id.suffix != nil {
		return nil
	}
	// The logical name and arguments are those earlier versions used for
	// generated names, so an existing stack keeps its suffix.
	suffix, err := random.NewRandomString(id.ctx, "name-suffix", &random.RandomStringArgs{
		Length:  pulumi.Int(azname.SuffixLength),
		Special: pulumi.Bool(false),
		Upper:   pulumi.Bool(false),
		Lower:   pulumi.Bool(true),
		Numeric: pulumi.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("creating the stack's name suffix: %w", err)
	}
	id.suffix = suffix
	got, err := internals.UnsafeAwaitOutput(id.ctx.Context(), suffix.Result)
	if err != nil {
		return fmt.Errorf("reading the stack's name suffix: %w", err)
	}
	id.value, id.known = fmt.Sprint(got.Value), got.Known
	return nil
}

// StackTagValue is the stack tag's value: "<project>/<stack>/<suffix>".
func StackTagValue(project, stack, suffix string) string {
	return project + "/" + stack + "/" + suffix
}

// tagValue is the stack tag's value as an output.
func (id *stackIdentity) tagValue() pulumi.StringOutput {
	project, stack := id.cfg.Project, id.cfg.Stack
	return id.suffix.Result.ApplyT(func(s string) string { return StackTagValue(project, stack, s) }).(pulumi.StringOutput)
}

// tags are the user's tags and the stack tag.
func (id *stackIdentity) tags(user map[string]string) pulumi.StringMap {
	out := pulumi.ToStringMap(user)
	out[StackTag] = id.tagValue()
	return out
}

// sharedVNetSubnetName is the peer-pod subnet's name in a VNet of the
// user's, which other stacks of the same name may share: the stack's name
// and suffix, at most 80 characters. "" before the suffix is known.
func (id *stackIdentity) sharedVNetSubnetName() string {
	if !id.known {
		return ""
	}
	return azname.PeerPodSubnetName(id.cfg.Stack + "-" + id.value)
}

// peerPodSubnetName is the name of the stack's peer-pod subnet: the one
// configured; in a VNet of the stack's own, where no other stack puts a
// subnet, the stack name; in the user's VNet, the stack name and suffix.
func (id *stackIdentity) peerPodSubnetName() pulumi.StringOutput {
	c := id.cfg
	switch {
	case c.PeerPodSubnetName != "":
		return pulumi.String(c.PeerPodSubnetName).ToStringOutput()
	case c.VNetSubnet == nil:
		return pulumi.String(azname.PeerPodSubnetName(c.Stack)).ToStringOutput()
	}
	stack := c.Stack
	return id.suffix.Result.ApplyT(func(s string) string { return azname.PeerPodSubnetName(stack + "-" + s) }).(pulumi.StringOutput)
}

// isOwnSubnet reports whether a subnet of the user's VNet that holds the
// stack's peer-pod range is the one this stack created on an earlier run.
// Only a name this stack could have given it asks for the suffix.
func (id *stackIdentity) isOwnSubnet(name string) (bool, error) {
	if id.cfg.PeerPodSubnetName != "" {
		return name == id.cfg.PeerPodSubnetName, nil
	}
	if !strings.HasPrefix(name, azname.PeerPodSubnetName(id.cfg.Stack)+"-") {
		return false, nil
	}
	if err := id.register(); err != nil {
		return false, err
	}
	return id.known && name == id.sharedVNetSubnetName(), nil
}
