package stack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// manyTags is a JSON tag map of n distinct tags.
func manyTags(n int) string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("t%02d", i)] = "v"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestParseRejectsWhatAzureRejectsLate: values that passed validation and
// then failed in Azure after other resources existed. Each is refused by
// Parse, naming the key, the value and a valid one.
func TestParseRejectsWhatAzureRejectsLate(t *testing.T) {
	long := strings.Repeat("v", 300)
	entra := map[string]string{"caa-azure:clusterAuth": "entra"}
	with := func(base map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for bk, bv := range base {
			out[bk] = bv
		}
		return out
	}
	cases := []rejectCase{
		{"50 tags and the stack's own", map[string]string{"caa-azure:tags": manyTags(50)}, "caa-azure:tags", "that makes 51, but Azure allows 50 on a resource, so set at most 49"},
		{"50 pod VM tags and the stack's own", map[string]string{"caa-azure:podVmTags": manyTags(50)}, "caa-azure:podVmTags", "so set at most 49"},
		{"300-character tag value", map[string]string{"caa-azure:tags": `{"note":"` + long + `"}`}, "caa-azure:tags", "300-character value; Azure allows at most 256"},
		{"300-character pod VM tag value", map[string]string{"caa-azure:podVmTags": `{"note":"` + long + `"}`}, "caa-azure:podVmTags", "at most 256"},
		{"513-character tag name", map[string]string{"caa-azure:podVmTags": `{"` + strings.Repeat("n", 513) + `":"v"}`}, "caa-azure:podVmTags", "1-512 characters"},
		{"tag names differing in case", map[string]string{"caa-azure:tags": `{"Owner":"a","owner":"b"}`}, "caa-azure:tags", `tags "Owner" and "owner" are one tag to Azure`},
		{"stack tag in another case", map[string]string{"caa-azure:podVmTags": `{"CAA-Azure-Stack":"x"}`}, "caa-azure:podVmTags", "set by the program itself"},
		{"one admin group twice", with(entra, "caa-azure:clusterAdminGroups", "Team A,Team A"), "caa-azure:clusterAdminGroups", `lists "Team A" and "Team A", which name one group grant (group-team-a); list each group once, such as "Team A"`},
		{"admin groups one grant apart", with(entra, "caa-azure:clusterAdminGroups", "ops,Team A,team-a"), "caa-azure:clusterAdminGroups", `such as "ops,Team A"`},
		{"admin without a type", with(entra, "caa-azure:clusterAdmins", "11111111-2222-3333-4444-555555555555"), "caa-azure:clusterAdmins",
			"is not user:<object id> or servicePrincipal:<object id>"},
		{"admin twice", with(entra, "caa-azure:clusterAdmins", "user:11111111-2222-3333-4444-555555555555,servicePrincipal:11111111-2222-3333-4444-555555555555"),
			"caa-azure:clusterAdmins", "lists 11111111-2222-3333-4444-555555555555 twice"},
		{"admins without entra", map[string]string{"caa-azure:clusterAdmins": "user:11111111-2222-3333-4444-555555555555"}, "caa-azure:clusterAdmins", "only clusterAuth entra"},
		{"Arm64 node size", map[string]string{"caa-azure:nodeVmSize": "Standard_D2ps_v5"}, "caa-azure:nodeVmSize", `"Standard_D2ps_v5" is an Arm64 size`},
		{"Arm64 node size suggests x86", map[string]string{"caa-azure:nodeVmSize": "Standard_E4pds_v6"}, "caa-azure:nodeVmSize", "such as Standard_E4ds_v6"},
		{"Arm64 pod VM size", map[string]string{"caa-azure:tee": "none", "caa-azure:disableCvm": "true", "caa-azure:instanceSize": "Standard_B2pls_v2"},
			"caa-azure:instanceSize", "such as Standard_B2ls_v2"},
		{"classic CNI node subnet too small", map[string]string{"caa-azure:networkPluginMode": "", "caa-azure:clusterSubnetCidr": "10.224.0.0/26"},
			"caa-azure:clusterSubnetCidr", "10.224.0.0/26 has 59 addresses Azure can hand out (it keeps 5 of every subnet), but 62 are needed"},
		{"classic CNI advice", map[string]string{"caa-azure:networkPluginMode": "", "caa-azure:clusterSubnetCidr": "10.224.0.0/26"},
			"caa-azure:clusterSubnetCidr", "use a /25 or larger such as 10.224.0.0/25, or networkPluginMode overlay"},
		{"overlay node subnet too small", map[string]string{"caa-azure:nodeCount": "3", "caa-azure:clusterSubnetCidr": "10.224.0.0/29"},
			"caa-azure:clusterSubnetCidr", "but 4 are needed for 3 node(s) and one upgrade surge node at 1 address each"},
		{"peer-pod subnet too small", map[string]string{"caa-azure:nodeCount": "2", "caa-azure:peerpodSubnetCidr": "10.225.0.0/28"},
			"caa-azure:peerpodSubnetCidr", "10.225.0.0/28 has 11 addresses Azure can hand out (it keeps 5 of every subnet), but 20 are needed for 2 node(s) × peerpodsLimitPerNode 10"},
		{"peer-pod advice", map[string]string{"caa-azure:nodeCount": "2", "caa-azure:peerpodSubnetCidr": "10.225.0.0/28"},
			"caa-azure:peerpodSubnetCidr", "use a /27 or larger such as 10.225.0.0/27"},
	}
	expectRejected(t, cases)
}

// TestParseAcceptsAtTheLimits: the edges of each limit pass, so a limit
// is not stricter than Azure's.
func TestParseAcceptsAtTheLimits(t *testing.T) {
	cases := map[string]map[string]string{
		"49 tags and the stack's own":             {"caa-azure:tags": manyTags(49), "caa-azure:podVmTags": manyTags(49)},
		"256-character value, 512-character name": {"caa-azure:tags": `{"` + strings.Repeat("n", 512) + `":"` + strings.Repeat("v", 256) + `"}`},
		"distinct admin groups":                   {"caa-azure:clusterAuth": "entra", "caa-azure:clusterAdminGroups": "Team A,Team B"},
		"x86 sizes with a p elsewhere":            {"caa-azure:nodeVmSize": "Standard_NP10s"},
		"classic CNI /25 for one node":            {"caa-azure:networkPluginMode": "", "caa-azure:clusterSubnetCidr": "10.224.0.0/25"},
		"overlay /29 for two nodes":               {"caa-azure:nodeCount": "2", "caa-azure:clusterSubnetCidr": "10.224.0.0/29", "caa-azure:peerpodSubnetCidr": "10.225.0.0/27"},
		"no pod VM limit on a /29":                {"caa-azure:peerpodsLimitPerNode": "-1", "caa-azure:peerpodSubnetCidr": "10.225.0.0/29"},
	}
	for name, set := range cases {
		cfg := goodConfig(t)
		for k, v := range set {
			cfg[k] = v
		}
		if _, _, err := parse(cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
