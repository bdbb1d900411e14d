package tests

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/infra/azauth"
	"caa-azure/infra/preflight"
	"caa-azure/stack"
)

// subscription is a healthy subscription whose vCPU quota and denied
// rights a test sets: the sizes of the snp stack are offered, the image is
// there, and nothing of the stack exists yet.
type subscription struct {
	// free is the free vCPUs per family (standardFSv2Family for the nodes,
	// standardDCASv5Family for the pod VMs); unlisted families have plenty.
	free map[string]int
	// deny holds "<action> <scope>" pairs the deployer may not perform.
	deny map[string]bool
}

func (s *subscription) SKUs(context.Context, string) ([]preflight.SKU, error) {
	return []preflight.SKU{
		{Name: "Standard_F4s_v2", Family: "standardFSv2Family", VCPUs: 4},
		{Name: "Standard_DC2as_v5", Family: "standardDCASv5Family", VCPUs: 2},
	}, nil
}

func (s *subscription) Usages(context.Context, string) ([]preflight.Usage, error) {
	var out []preflight.Usage
	for _, family := range []string{"standardFSv2Family", "standardDCASv5Family"} {
		free, ok := s.free[family]
		if !ok {
			free = 1000
		}
		out = append(out, preflight.Usage{Name: family, Current: 100, Limit: 100 + free})
	}
	return out, nil
}

func (s *subscription) ImageInRegion(context.Context, string, string) error { return nil }
func (s *subscription) Allowed(_ context.Context, scope, action string) (bool, error) {
	return !s.deny[action+" "+scope], nil
}
func (s *subscription) Footprint(context.Context, preflight.Tag) (preflight.Footprint, error) {
	return preflight.Footprint{}, nil
}
func (s *subscription) KubernetesVersions(context.Context, string) ([]string, error) {
	return []string{"1.33"}, nil
}
func (s *subscription) GroupExists(context.Context, string) (bool, error) { return false, nil }

// preflightAgainst deploys the snp stack with set in error mode against sub
// and returns what the run warned of and its error.
func preflightAgainst(t *testing.T, sub *subscription, set map[string]string) ([]string, error) {
	t.Helper()
	cfg := merge(stackConfig(t, "snp"), set)
	cfg["caa-azure:preflight"] = "error"
	m := withExistingVNet(newMocks())
	m.resourceGroups["user-rg"] = "eastus"
	opts := hermetic(t)
	opts.Preflight = func(context.Context, string, azauth.Settings) (preflight.Cloud, error) { return sub, nil }
	var warnings []string
	err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
		d, err := stack.DeployWith(ctx, opts)
		if d != nil {
			warnings = d.Warnings
		}
		return err
	})
	return warnings, err
}

// TestPreflightQuotaCountsEveryNode: the node pool needs a node's vCPUs per
// node before anything can run, and the pod VMs may use up to the per-node
// limit on every node.
func TestPreflightQuotaCountsEveryNode(t *testing.T) {
	three := map[string]string{"caa-azure:nodeCount": "3"}
	// Room for two of three nodes: the cluster cannot be created.
	_, err := preflightAgainst(t, &subscription{free: map[string]int{"standardFSv2Family": 8}}, three)
	if err == nil || !strings.Contains(err.Error(), "caa-azure:nodeVmSize: the standardFSv2Family quota") || !strings.Contains(err.Error(), "needs 12") {
		t.Errorf("three 4-vCPU nodes with 8 vCPUs free must stop the run, naming nodeVmSize and the 12 vCPUs needed; got %v", err)
	}
	// Room for all three: no finding.
	if warnings, err := preflightAgainst(t, &subscription{free: map[string]int{"standardFSv2Family": 12}}, three); err != nil || len(warnings) != 0 {
		t.Errorf("12 vCPUs free are enough for three nodes; got %v %v", err, warnings)
	}

	// Two nodes, ten pod VMs each, 2 vCPUs a pod VM: 40 vCPUs at most.
	pods := map[string]string{"caa-azure:nodeCount": "2", "caa-azure:peerpodsLimitPerNode": "10"}
	warnings, err := preflightAgainst(t, &subscription{free: map[string]int{"standardDCASv5Family": 30}}, pods)
	if err != nil {
		t.Fatalf("pod VM quota short of the most the pods may use is a warning: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "caa-azure:instanceSize") || !strings.Contains(warnings[0], "may use 40") {
		t.Errorf("want one warning that the pod VMs of both nodes may use 40 vCPUs of the DCASv5 quota; got %q", warnings)
	}
	if warnings, err := preflightAgainst(t, &subscription{free: map[string]int{"standardDCASv5Family": 40}}, pods); err != nil || len(warnings) != 0 {
		t.Errorf("40 vCPUs free are enough for 20 pod VMs; got %v %v", err, warnings)
	}
}

// TestPreflightRightsWhereTheyLand: each right is checked on the scope
// where the deployment uses it, so a deployer with rights only on their
// own group or subnet passes, and one without them there is told which key
// and scope.
func TestPreflightRightsWhereTheyLand(t *testing.T) {
	sub := "/subscriptions/" + subscriptionID
	userGroup := sub + "/resourceGroups/user-rg"
	vnetGroup := sub + "/resourceGroups/net-rg"
	inUserGroup := map[string]string{"caa-azure:resourceGroupName": "user-rg", "caa-azure:grantVmSizeRead": "false"}
	inUserSubnet := map[string]string{"caa-azure:vnetSubnetId": existingSubnetID, "caa-azure:grantVmSizeRead": "false"}
	for name, tc := range map[string]struct {
		set  map[string]string
		deny []string
		// want is the key and scope the error names; "" means the run passes.
		want string
	}{
		"own group: role definition in the subscription": {nil, []string{preflight.WriteRoleDefinition + " " + sub}, stack.SubscriptionRights},
		"user's group: role definition there":            {inUserGroup, []string{preflight.WriteRoleDefinition + " " + userGroup}, "caa-azure:resourceGroupName"},
		"user's group: no role definition elsewhere":     {inUserGroup, []string{preflight.WriteRoleDefinition + " " + sub}, ""},
		"user's subnet: role definition in its group":    {inUserSubnet, []string{preflight.WriteRoleDefinition + " " + vnetGroup}, "caa-azure:vnetSubnetId"},
		"user's subnet: no role definition elsewhere":    {inUserSubnet, []string{preflight.WriteRoleDefinition + " " + sub}, ""},
		"user's subnet: role assignment on it":           {inUserSubnet, []string{preflight.WriteRoleAssignment + " " + existingSubnetID}, "caa-azure:vnetSubnetId"},
	} {
		t.Run(name, func(t *testing.T) {
			deny := map[string]bool{}
			for _, d := range tc.deny {
				deny[d] = true
			}
			_, err := preflightAgainst(t, &subscription{deny: deny}, tc.set)
			if tc.want == "" {
				if err != nil {
					t.Errorf("denied %v only, which the deployment never needs: %v", tc.deny, err)
				}
				return
			}
			scope := tc.deny[0][strings.Index(tc.deny[0], " ")+1:]
			if err == nil || !strings.Contains(err.Error(), tc.want+": the deploying identity may not") || !strings.Contains(err.Error(), "on "+scope+",") {
				t.Errorf("denied %v: want an error naming %s and the scope; got %v", tc.deny, tc.want, err)
			}
		})
	}
}
