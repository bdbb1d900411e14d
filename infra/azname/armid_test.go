package azname

import (
	"strings"
	"testing"
)

const sampleSubnetID = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks-nodes"

func TestParseSubnetID(t *testing.T) {
	got, err := ParseSubnetID(sampleSubnetID)
	if err != nil {
		t.Fatal(err)
	}
	want := SubnetID{"00000000-1111-2222-3333-444444444444", "net-rg", "hub", "aks-nodes"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got.String() != sampleSubnetID {
		t.Fatalf("String() = %s, want the input back", got.String())
	}
	lower, err := ParseSubnetID(strings.ToLower(sampleSubnetID[:60]) + sampleSubnetID[60:])
	if err != nil || lower.ResourceGroup != "net-rg" {
		t.Fatalf("fixed segments must be case-insensitive: %+v, %v", lower, err)
	}
	if _, err := ParseSubnetID(sampleSubnetID + "/"); err != nil {
		t.Fatalf("a trailing slash should be accepted: %v", err)
	}
}

func TestParseSubnetIDRejects(t *testing.T) {
	for in, want := range map[string]string{
		"":          "not a subnet id",
		"aks-nodes": "not a subnet id",
		strings.Replace(sampleSubnetID, "/subnets/aks-nodes", "", 1):                         "not a subnet id",
		strings.Replace(sampleSubnetID, "Microsoft.Network", "Microsoft.Compute", 1):         "not a subnet id",
		strings.Replace(sampleSubnetID, "00000000-1111-2222-3333-444444444444", "my-sub", 1): "not a GUID",
		strings.Replace(sampleSubnetID, "net-rg", "net rg", 1):                               "resource group name",
		strings.Replace(sampleSubnetID, "/hub/", "/h*b/", 1):                                 "virtual network name",
		sampleSubnetID + "/extra": "not a subnet id",
	} {
		if _, err := ParseSubnetID(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSubnetID(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
}

// FuzzParseSubnetID feeds arbitrary user input: parsing never panics and
// whatever it accepts renders back to an id that parses to the same value.
func FuzzParseSubnetID(f *testing.F) {
	f.Add(sampleSubnetID)
	f.Add("/subscriptions//resourceGroups//providers/Microsoft.Network/virtualNetworks//subnets/")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseSubnetID(s)
		if err != nil {
			return
		}
		again, err := ParseSubnetID(id.String())
		if err != nil || again != id {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}
