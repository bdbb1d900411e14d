package tests

import (
	"sort"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"caa-azure/caa"
)

// footprint is every input a run registered: resources by type and name,
// and the objects Charts registered (playChart), each after transforms.
func footprint(m *mocks) map[string]resource.PropertyMap {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]resource.PropertyMap{}
	for _, r := range m.resources {
		out[r.TypeToken+"::"+r.Name] = r.Inputs
	}
	for _, c := range m.chartChildren {
		out["chart child "+c.typ+"::"+c.name] = c.props
	}
	return out
}

// changed lists what differs between two runs' footprints.
func changed(before, after map[string]resource.PropertyMap) []string {
	var out []string
	for k, v := range after {
		if old, ok := before[k]; !ok || !old.DeepEquals(v) {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k+" (gone)")
		}
	}
	sort.Strings(out)
	return out
}

// withoutChecksum is a DaemonSet's inputs without the config checksum
// (the maps on its path copied, the rest shared), and the checksum.
func withoutChecksum(t *testing.T, inputs resource.PropertyMap) (resource.PropertyMap, string) {
	t.Helper()
	out := inputs.Copy()
	cur := out
	for _, key := range []resource.PropertyKey{"spec", "template", "metadata", "annotations"} {
		v := cur[key]
		if !v.IsObject() {
			t.Fatalf("CAA's DaemonSet has no %s on the way to its pod annotations", key)
		}
		next := v.ObjectValue().Copy()
		cur[key] = resource.NewObjectProperty(next)
		cur = next
	}
	sum := cur[caa.ConfigChecksumAnnotation]
	if sum.IsSecret() {
		sum = sum.SecretValue().Element
	}
	if !sum.IsString() || len(sum.StringValue()) != 64 {
		t.Fatalf("CAA's pod template has no config checksum: %v", sum)
	}
	delete(cur, caa.ConfigChecksumAnnotation)
	return out, sum.StringValue()
}

// TestSettingChangesRollCAA: CAA reads its settings only when it starts,
// so a changed setting must change CAA's pod template (and so roll the
// DaemonSet) in the same run, on both install paths, and change nothing
// else but the object that carries the setting.
func TestSettingChangesRollCAA(t *testing.T) {
	const (
		caaDS      = tDaemonSet + "::caa-" + ns + "/cloud-api-adaptor-daemonset"
		peerPodsCM = tConfigMap + "::caa-" + ns + "/peer-pods-cm"
		providerSC = tSecret + "::caa-" + ns + "/peer-pods-secret"
		password   = "azuread:index/servicePrincipalPassword:ServicePrincipalPassword::caa-identity-password"
		chart      = tChart + "::caa-peerpods"
		chartDS    = "chart child " + tDaemonSet + "::caa-peerpods:" + ns + "/cloud-api-adaptor-daemonset"
		chartCM    = "chart child " + tConfigMap + "::caa-peerpods:" + ns + "/peer-pods-cm"
		otherImage = "/CommunityGalleries/cocopodvm-d0e4f35f-5530-4b9c-8596-112487cdea85/Images/podvm_image0/Versions/2099.1.1"
		ownImage2  = "/subscriptions/" + subscriptionID + "/resourceGroups/img/providers/Microsoft.Compute/galleries/g/images/podvm/versions/0.22.1"
	)
	chartPath := map[string]string{"caa-azure:caaVersion": "0.22.0", "caa-azure:caaSourceDir": "", "caa-azure:operatorSourceDir": "",
		"caa-azure:podVmImageId": ownPodVMImage}
	sp := map[string]string{"caa-azure:caaAuth": "servicePrincipal"}
	cases := []struct {
		name          string
		base, change  map[string]string
		want          []string
		checksumMoves bool
	}{
		{"operator path: instanceSize", nil, map[string]string{"caa-azure:instanceSize": "Standard_DC4as_v5"},
			[]string{caaDS, peerPodsCM}, true},
		{"operator path: podVmImageId", nil, map[string]string{"caa-azure:podVmImageId": otherImage},
			[]string{caaDS, peerPodsCM}, true},
		{"operator path: a rotated service principal password", sp, map[string]string{"caa-azure:credentialGeneration": "2"},
			[]string{caaDS, password, providerSC}, true},
		{"chart path: instanceSize", chartPath, map[string]string{"caa-azure:instanceSize": "Standard_DC4as_v5"},
			[]string{chartCM, chartDS, chart}, true},
		{"chart path: podVmImageId", chartPath, map[string]string{"caa-azure:podVmImageId": ownImage2},
			// CAA's read on the image follows the image.
			[]string{chartCM, chartDS, "azure-native:authorization:RoleAssignment::caa-identity-image-read", chart}, true},
		{"chart path: a rotated service principal password", merge(chartPath, sp), map[string]string{"caa-azure:credentialGeneration": "2"},
			[]string{chartDS, password, providerSC}, true},
		// The control: a setting CAA does not read leaves it running.
		{"chart path: the sample's replicas", chartPath, map[string]string{"caa-azure:sampleReplicas": "2"},
			[]string{tDeployment + "::nginx"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deploy := func(set map[string]string) *mocks {
				cfg := stackConfig(t, "snp")
				for k, v := range c.base {
					cfg[k] = v
				}
				for k, v := range set {
					cfg[k] = v
				}
				m := newMocks()
				deployAndExport(t, "snp", cfg, m)
				return m
			}
			before, after := footprint(deploy(nil)), footprint(deploy(c.change))
			got := changed(before, after)
			if !equalStrings(got, c.want) {
				t.Errorf("changed:\n  %v\nwant:\n  %v", got, c.want)
			}
			ds := caaDS
			if c.base["caa-azure:caaVersion"] == "0.22.0" {
				ds = chartDS
			}
			oldDS, oldSum := withoutChecksum(t, before[ds])
			newDS, newSum := withoutChecksum(t, after[ds])
			if (oldSum != newSum) != c.checksumMoves {
				t.Errorf("config checksum %s → %s; want a change: %v", oldSum, newSum, c.checksumMoves)
			}
			if !oldDS.DeepEquals(newDS) {
				t.Error("CAA's DaemonSet changed beyond its config checksum")
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	a, b = append([]string{}, a...), append([]string{}, b...)
	sort.Strings(a)
	sort.Strings(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
