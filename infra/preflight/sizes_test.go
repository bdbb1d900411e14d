package preflight

import "testing"

// TestAlternativesNearestFirst: a size that is not offered is answered
// with up to three offered sizes of its series, nearest in vCPUs first,
// ties by name.
func TestAlternativesNearestFirst(t *testing.T) {
	skus := []SKU{
		{Name: "Standard_DC32as_v5", VCPUs: 32},
		{Name: "Standard_DC16as_v5", VCPUs: 16},
		{Name: "Standard_DC8as_v5", VCPUs: 8},
		{Name: "Standard_DC4as_v5", VCPUs: 4},
		{Name: "Standard_DC2as_v5", VCPUs: 2},
		{Name: "Standard_DC2es_v5", VCPUs: 2},
		{Name: "Standard_DC3as_v5", VCPUs: 3, Restricted: "NotAvailableForSubscription"},
	}
	for size, want := range map[string]string{
		"Standard_DC3as_v5":  "offered there: Standard_DC2as_v5, Standard_DC4as_v5, Standard_DC8as_v5",
		"Standard_DC20as_v5": "offered there: Standard_DC16as_v5, Standard_DC32as_v5, Standard_DC8as_v5",
		"Standard_DC96as_v5": "offered there: Standard_DC32as_v5, Standard_DC16as_v5, Standard_DC8as_v5",
		"Standard_E2s_v5":    "no size of the same series is offered there; try another region",
	} {
		if got := alternatives(skus, size); got != want {
			t.Errorf("alternatives to %s: %q, want %q", size, got, want)
		}
	}
}

// TestSizeNameParts: the series is the name without digits, the vCPUs the
// first number after "Standard_".
func TestSizeNameParts(t *testing.T) {
	for size, want := range map[string]struct {
		series string
		vcpus  int
	}{
		"Standard_DC2as_v5":   {"standard_dcas_v", 2},
		"Standard_E20s_v5":    {"standard_es_v", 20},
		"Standard_DC96as_v5":  {"standard_dcas_v", 96},
		"Standard_M128ms":     {"standard_mms", 128},
		"Standard_NC40ads_H1": {"standard_ncads_h", 40},
	} {
		if got := seriesOf(size); got != want.series {
			t.Errorf("seriesOf(%s) = %q, want %q", size, got, want.series)
		}
		if got := vcpusFromName(size); got != want.vcpus {
			t.Errorf("vcpusFromName(%s) = %d, want %d", size, got, want.vcpus)
		}
	}
}

// TestWildcardsInTheMiddle: a '*' between literals matches any run, even
// an empty one, and the literals must follow one another.
func TestWildcardsInTheMiddle(t *testing.T) {
	for _, c := range []struct {
		pattern, action string
		want            bool
	}{
		{"Microsoft.Authorization/*roleAssignments*", "Microsoft.Authorization/roleAssignments/write", true},
		{"Microsoft.*/roleAssignments/*", "Microsoft.Authorization/roleAssignments/write", true},
		{"*write*write", "Microsoft.Compute/write", false},
		{"*/subnets/*/action", "Microsoft.Network/virtualNetworks/subnets/join/action", true},
		{"*/subnets/*/action", "Microsoft.Network/virtualNetworks/join/action", false},
		// The last literal must end the action, not just occur in it.
		{"*/join", "Microsoft.Network/virtualNetworks/subnets/join/action", false},
	} {
		if got := ActionAllowed([]string{c.pattern}, nil, c.action); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.pattern, c.action, got, c.want)
		}
	}
}
