package stack

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func testKey(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../tests/testdata/id_rsa.pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func goodConfig(t testing.TB) map[string]string {
	return map[string]string{
		locationKey:                 "eastus",
		"caa-azure:tee":             "snp",
		"caa-azure:instanceSize":    "Standard_DC2as_v5",
		"caa-azure:disableCvm":      "false",
		"caa-azure:sshPublicKey":    testKey(t),
		"caa-azure:unrelatedIgnore": "x",
	}
}

func parse(cfg map[string]string) (*Config, []string, error) {
	return Parse("caa-azure", "snp", func(k string) (string, bool) { v, ok := cfg[k]; return v, ok })
}

func TestParseDefaults(t *testing.T) {
	c, warnings, err := parse(goodConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings %v", warnings)
	}
	checks := map[string][2]any{
		"nodeCount":     {c.NodeCount, 1},
		"nodeVmSize":    {c.NodeVMSize, "Standard_F4s_v2"},
		"adminUsername": {c.AdminUsername, "azuser"},
		"clusterCidr":   {c.ClusterSubnetCIDR.String(), "10.224.0.0/16"},
		"peerpodCidr":   {c.PeerPodSubnetCIDR.String(), "10.225.0.0/16"},
		"plugin":        {c.NetworkPlugin, "azure"},
		"mode":          {c.NetworkPluginMode, "overlay"},
		"podCidr":       {c.PodCIDR.String(), "10.244.0.0/16"},
		"tagCount":      {len(c.Tags), 0}, // the stack tag is added at build
		"rg":            {c.ResourceGroupName, ""},
		"cluster":       {c.ClusterName, ""},
		"k8s":           {c.KubernetesVersion, ""},
	}
	for name, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %v, want %v", name, v[0], v[1])
		}
	}
	if c.VNetSubnet != nil {
		t.Error("no vnetSubnetId was set")
	}
	if !strings.HasPrefix(c.SSHPublicKey, "ssh-rsa AAAA") {
		t.Errorf("key not normalised: %q", c.SSHPublicKey)
	}
}

func TestParseOverrides(t *testing.T) {
	cfg := goodConfig(t)
	cfg["caa-azure:clusterSubnetCidr"] = "10.100.0.0/22"
	cfg["caa-azure:nodeCount"] = "3"
	cfg["caa-azure:tags"] = `{"owner":"alice","cost-center":"42"}`
	cfg["caa-azure:kubernetesVersion"] = "1.33"
	cfg["caa-azure:networkPlugin"] = "kubenet"
	cfg["caa-azure:networkPluginMode"] = ""
	c, _, err := parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.PeerPodSubnetCIDR.String() != "10.100.4.0/22" {
		t.Errorf("peer-pod CIDR = %v, want the next /22", c.PeerPodSubnetCIDR)
	}
	if c.NodeCount != 3 || c.Tags["owner"] != "alice" || len(c.Tags) != 2 || c.KubernetesVersion != "1.33" {
		t.Errorf("overrides not applied: %+v", c)
	}
	if c.NetworkPlugin != "kubenet" || c.NetworkPluginMode != "" || c.PodCIDR.String() != "10.244.0.0/16" {
		t.Errorf("kubenet: plugin %q mode %q pod %v", c.NetworkPlugin, c.NetworkPluginMode, c.PodCIDR)
	}

	cfg["caa-azure:networkPlugin"] = "azure"
	c, _, err = parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.NetworkPluginMode != "" || c.PodCIDR.IsValid() {
		t.Errorf("an explicitly empty mode is classic Azure CNI without a pod CIDR: %q %v", c.NetworkPluginMode, c.PodCIDR)
	}
}

func TestParseRetiredTDXSizeWarns(t *testing.T) {
	cfg := goodConfig(t)
	cfg["caa-azure:tee"] = "tdx"
	cfg["caa-azure:instanceSize"] = "Standard_DC4es_v5"
	_, warnings, err := parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Standard_DC4es_v6") {
		t.Fatalf("want one warning naming Standard_DC4es_v6, got %v", warnings)
	}
	cfg["caa-azure:instanceSize"] = "Standard_DC4es_v6"
	if _, warnings, err = parse(cfg); err != nil || len(warnings) != 0 {
		t.Fatalf("a current TDX size: %v %v", warnings, err)
	}
}

func TestParseAllProblemsAtOnce(t *testing.T) {
	_, _, err := parse(map[string]string{"caa-azure:nodeCount": "0", "caa-azure:clusterSubnetCidr": "10.0.0.0/16"})
	ce, ok := err.(*ConfigError)
	if !ok {
		t.Fatalf("want *ConfigError, got %T %v", err, err)
	}
	for _, key := range []string{locationKey, "caa-azure:tee", "caa-azure:disableCvm", "caa-azure:instanceSize",
		"caa-azure:sshPublicKey", "caa-azure:nodeCount", "caa-azure:clusterSubnetCidr"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
	if len(ce.Problems) < 7 {
		t.Errorf("want every problem listed, got %d", len(ce.Problems))
	}
}

func TestParseSSHKeys(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ed, _ := ssh.NewPublicKey(edPub)
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	shortKey, _ := ssh.NewPublicKey(&short.PublicKey)
	for name, c := range map[string]struct{ key, want string }{
		"empty":   {"", "is required"},
		"garbage": {"ssh-rsa notbase64", "not an OpenSSH public key"},
		"ed25519": {string(ssh.MarshalAuthorizedKey(ed)), "only ssh-rsa"},
		"short":   {string(ssh.MarshalAuthorizedKey(shortKey)), "1024-bit"},
		"two":     {testKey(t) + "\n" + testKey(t), "more than one key"},
		"private": {"-----BEGIN OPENSSH PRIVATE KEY-----", "not an OpenSSH public key"},
	} {
		_, err := parseSSHPublicKey(c.key)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}

func TestInstanceSizeForTEE(t *testing.T) {
	cases := []struct {
		tee       TEE
		size      string
		ok, warns bool
	}{
		{TEESNP, "Standard_DC2as_v5", true, false},
		{TEESNP, "Standard_DC4ads_v5", true, false},
		{TEESNP, "Standard_EC8as_v6", true, false},
		{TEESNP, "Standard_DC2es_v6", false, false},
		{TEESNP, "Standard_D2as_v5", false, false},
		{TEETDX, "Standard_DC2es_v6", true, false},
		{TEETDX, "Standard_DC2eds_v5", true, true},
		{TEETDX, "Standard_DC2as_v5", false, false},
		{TEENone, "Standard_D2as_v5", true, false},
		{TEENone, "Standard_DC2as_v5", true, true},
		{TEENone, "D2as_v5", false, false},
	}
	for _, c := range cases {
		w, err := checkInstanceSizeForTEE(c.tee, c.size)
		if (err == nil) != c.ok || (w != "") != c.warns {
			t.Errorf("%s/%s: warning %q error %v; want ok=%v warns=%v", c.tee, c.size, w, err, c.ok, c.warns)
		}
	}
}

// FuzzParse feeds arbitrary values to every key: Parse never panics, and
// every rejection names a key of ours.
func FuzzParse(f *testing.F) {
	keys := []string{locationKey, "caa-azure:tee", "caa-azure:instanceSize", "caa-azure:disableCvm", "caa-azure:nodeCount",
		"caa-azure:clusterSubnetCidr", "caa-azure:peerpodSubnetCidr", "caa-azure:vnetSubnetId", "caa-azure:tags",
		"caa-azure:resourceGroupName", "caa-azure:clusterName", "caa-azure:sshPublicKey", "caa-azure:podCidr"}
	f.Add(3, "10.225.0.0/16")
	f.Add(8, `{"a":1}`)
	f.Add(7, "/subscriptions/x")
	f.Fuzz(func(t *testing.T, which int, value string) {
		cfg := goodConfig(t)
		if which < 0 {
			which = -which
		}
		key := keys[which%len(keys)]
		cfg[key] = value
		c, _, err := parse(cfg)
		if err != nil {
			ce, ok := err.(*ConfigError)
			if !ok || len(ce.Problems) == 0 {
				t.Fatalf("%s=%q: error of type %T: %v", key, value, err, err)
			}
			for _, p := range ce.Problems {
				if !strings.HasPrefix(p, namespace+":") && !strings.HasPrefix(p, locationKey+":") {
					t.Fatalf("problem does not start with a key: %q", p)
				}
			}
			return
		}
		if c.PeerPodSubnetCIDR.IsValid() && c.ClusterSubnetCIDR.IsValid() && c.PeerPodSubnetCIDR.Overlaps(c.ClusterSubnetCIDR) {
			t.Fatalf("%s=%q accepted overlapping subnets", key, value)
		}
	})
}

// FuzzParseSSHPublicKey: arbitrary key text never panics; an accepted key
// is one normalised ssh-rsa line of at least 2048 bits that parses again.
func FuzzParseSSHPublicKey(f *testing.F) {
	f.Add(testKey(f))
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJBc2hOi+oFGebvc4upCKKenM8Mknb4uYGIXGG4Jbg8 ed")
	f.Add("ssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, raw string) {
		key, err := parseSSHPublicKey(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(key, "ssh-rsa ") || strings.ContainsAny(key, "\n\r") {
			t.Fatalf("accepted %q as %q", raw, key)
		}
		again, err := parseSSHPublicKey(key)
		if err != nil || again != key {
			t.Fatalf("normalised key does not parse to itself: %q %v", again, err)
		}
	})
}

// TestParseRejects is every bad value Parse must refuse: each names its key
// and says what would be valid. Whole-stack tests (tests/) check that such
// an error registers nothing; here no mocks are needed.
func TestParseRejects(t *testing.T) {
	edKey := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJBc2hOi+oFGebvc4upCKKenM8Mknb4uYGIXGG4Jbg8 ed"
	caaDir := "../tests/fixtures/cloud-api-adaptor/src/cloud-api-adaptor"
	cases := []rejectCase{
		{"unknown tee", map[string]string{"caa-azure:tee": "sgx"}, "caa-azure:tee", `"sgx"`},
		{"no tee", map[string]string{"caa-azure:tee": ""}, "caa-azure:tee", "is not set"},
		{"snp with intel size", map[string]string{"caa-azure:instanceSize": "Standard_DC2es_v6"}, "caa-azure:instanceSize", "AMD SEV-SNP"},
		{"snp with plain size", map[string]string{"caa-azure:instanceSize": "Standard_D2as_v5"}, "caa-azure:instanceSize", "Standard_DC2as_v5"},
		{"malformed size", map[string]string{"caa-azure:instanceSize": "DC2as_v5"}, "caa-azure:instanceSize", "not an Azure VM size"},
		{"no size", map[string]string{"caa-azure:instanceSize": ""}, "caa-azure:instanceSize", "is not set"},
		{"tee none with cvm", map[string]string{"caa-azure:tee": "none", "caa-azure:instanceSize": "Standard_D2as_v5"}, "caa-azure:disableCvm", "tee is none"},
		{"snp without cvm", map[string]string{"caa-azure:disableCvm": "true"}, "caa-azure:disableCvm", "tee is snp"},
		{"disableCvm not bool", map[string]string{"caa-azure:disableCvm": "maybe"}, "caa-azure:disableCvm", "not a boolean"},
		{"no region", map[string]string{"azure-native:location": ""}, "azure-native:location", "is not set"},
		{"display region", map[string]string{"azure-native:location": "East US"}, "azure-native:location", "eastus"},
		{"malformed cidr", map[string]string{"caa-azure:clusterSubnetCidr": "10.224.0.0"}, "caa-azure:clusterSubnetCidr", "not a CIDR"},
		{"host bits", map[string]string{"caa-azure:clusterSubnetCidr": "10.224.1.0/16"}, "caa-azure:clusterSubnetCidr", "10.224.0.0/16"},
		{"overlapping cidrs", map[string]string{"caa-azure:peerpodSubnetCidr": "10.224.128.0/17"}, "caa-azure:peerpodSubnetCidr", "overlaps clusterSubnetCidr"},
		{"no next network", map[string]string{"caa-azure:clusterSubnetCidr": "255.255.0.0/16"}, "caa-azure:peerpodSubnetCidr", "no next network"},
		{"derived range is public", map[string]string{"caa-azure:clusterSubnetCidr": "192.168.0.0/16"}, "caa-azure:peerpodSubnetCidr", "192.169.0.0/16"},
		{"derived range leaves 10/8", map[string]string{"caa-azure:clusterSubnetCidr": "10.255.0.0/16"}, "caa-azure:peerpodSubnetCidr", "set peerpodSubnetCidr to a private range"},
		{"subnet too small", map[string]string{"caa-azure:peerpodSubnetCidr": "10.225.0.0/30"}, "caa-azure:peerpodSubnetCidr", "/29"},
		{"service range", map[string]string{"caa-azure:clusterSubnetCidr": "10.0.0.0/16"}, "caa-azure:clusterSubnetCidr", "service range"},
		{"pod range", map[string]string{"caa-azure:peerpodSubnetCidr": "10.244.0.0/16"}, "caa-azure:peerpodSubnetCidr", "podCidr"},
		{"pod cidr malformed", map[string]string{"caa-azure:podCidr": "10.244.0.0/33"}, "caa-azure:podCidr", "not a CIDR"},
		{"pod cidr on service range", map[string]string{"caa-azure:podCidr": "10.0.0.0/16"}, "caa-azure:podCidr", "service range"},
		{"pod cidr with classic CNI", map[string]string{"caa-azure:networkPluginMode": "", "caa-azure:podCidr": "10.244.0.0/16"}, "caa-azure:podCidr", "leave it empty"},
		{"ed25519 key", map[string]string{"caa-azure:sshPublicKey": edKey}, "caa-azure:sshPublicKey", "only ssh-rsa"},
		{"garbage key", map[string]string{"caa-azure:sshPublicKey": "my key"}, "caa-azure:sshPublicKey", "not an OpenSSH public key"},
		{"missing key", map[string]string{"caa-azure:sshPublicKey": ""}, "caa-azure:sshPublicKey", "pulumi config set caa-azure:sshPublicKey"},
		{"bad subnet id", map[string]string{"caa-azure:vnetSubnetId": "/subscriptions/x/resourceGroups/rg"}, "caa-azure:vnetSubnetId", "not a subnet id"},
		{"rg name chars", map[string]string{"caa-azure:resourceGroupName": "my group!"}, "caa-azure:resourceGroupName", "characters"},
		{"rg name too long for node group", map[string]string{"caa-azure:resourceGroupName": strings.Repeat("r", 80)}, "caa-azure:resourceGroupName", "at most 76"},
		{"cluster name", map[string]string{"caa-azure:clusterName": "-aks"}, "caa-azure:clusterName", "not a valid AKS name"},
		{"cluster name long", map[string]string{"caa-azure:clusterName": strings.Repeat("c", 64)}, "caa-azure:clusterName", "at most 63"},
		{"cluster name too long for its VNet", map[string]string{"caa-azure:clusterName": strings.Repeat("c", 60)}, "caa-azure:clusterName", "use at most 59"},
		{"node count zero", map[string]string{"caa-azure:nodeCount": "0"}, "caa-azure:nodeCount", "at least 1"},
		{"node count huge", map[string]string{"caa-azure:nodeCount": "1001"}, "caa-azure:nodeCount", "1 to 1000"},
		{"node count text", map[string]string{"caa-azure:nodeCount": "two"}, "caa-azure:nodeCount", "not a whole number"},
		{"node size", map[string]string{"caa-azure:nodeVmSize": "F4s_v2"}, "caa-azure:nodeVmSize", "not an Azure VM size"},
		{"admin root", map[string]string{"caa-azure:adminUsername": "root"}, "caa-azure:adminUsername", "reserves"},
		{"admin admin", map[string]string{"caa-azure:adminUsername": "admin"}, "caa-azure:adminUsername", "pick another such as azuser"},
		{"admin Administrator", map[string]string{"caa-azure:adminUsername": "Administrator"}, "caa-azure:adminUsername", "reserves"},
		{"admin test", map[string]string{"caa-azure:adminUsername": "test"}, "caa-azure:adminUsername", "reserves"},
		{"pod tag with a space", map[string]string{"caa-azure:podVmTags": `{"team":"blue team"}`}, "caa-azure:podVmTags", "spaces"},
		{"pod tag name with a space", map[string]string{"caa-azure:podVmTags": `{"cost center":"a"}`}, "caa-azure:podVmTags", "cost-center"},
		{"k8s patch version", map[string]string{"caa-azure:kubernetesVersion": "1.33.2"}, "caa-azure:kubernetesVersion", "major.minor"},
		{"unknown plugin", map[string]string{"caa-azure:networkPlugin": "cilium"}, "caa-azure:networkPlugin", "azure"},
		{"plugin mode", map[string]string{"caa-azure:networkPluginMode": "bridge"}, "caa-azure:networkPluginMode", "overlay"},
		{"kubenet with mode", map[string]string{"caa-azure:networkPlugin": "kubenet", "caa-azure:networkPluginMode": "overlay"}, "caa-azure:networkPluginMode", "only valid with networkPlugin azure"},
		{"tags not a map", map[string]string{"caa-azure:tags": `["a"]`}, "caa-azure:tags", "map"},
		{"reserved tag", map[string]string{"caa-azure:tags": `{"caa-azure-stack":"x"}`}, "caa-azure:tags", "set by the program"},
		{"tag value too long", map[string]string{"caa-azure:tags": `{"a":"` + strings.Repeat("v", 257) + `"}`}, "caa-azure:tags", "at most 256"},
		{"tag name chars", map[string]string{"caa-azure:tags": `{"a/b":"c"}`}, "caa-azure:tags", "not allowed"},
		{"tag value type", map[string]string{"caa-azure:tags": `{"a":1}`}, "caa-azure:tags", "values are strings"},
		{"unknown version", map[string]string{"caa-azure:caaVersion": "0.99.0"}, "caa-azure:caaVersion", "0.10.0"},
		{"bad version", map[string]string{"caa-azure:caaVersion": "latest"}, "caa-azure:caaVersion", "not a release version"},
		{"operator version", map[string]string{"caa-azure:operatorVersion": "main"}, "caa-azure:operatorVersion", "not a release version"},
		{"image", map[string]string{"caa-azure:caaImage": "Not An Image"}, "caa-azure:caaImage", "container image"},
		{"caa tag", map[string]string{"caa-azure:caaTag": "v1 beta"}, "caa-azure:caaTag", "not an image tag"},
		{"image id", map[string]string{"caa-azure:podVmImageId": "ubuntu"}, "caa-azure:podVmImageId", "community gallery"},
		{"image id of a disk", map[string]string{"caa-azure:podVmImageId": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/g/providers/Microsoft.Compute/disks/d"},
			"caa-azure:podVmImageId", "gallery image definition or version id"},
		{"bad source dir", map[string]string{"caa-azure:caaSourceDir": "../tests/fixtures/nope"}, "caa-azure:caaSourceDir", "is not a directory"},
		{"caa root given", map[string]string{"caa-azure:caaSourceDir": "../tests/fixtures/cloud-api-adaptor"}, "caa-azure:caaSourceDir", "src/cloud-api-adaptor"},
		{"operator dir wrong", map[string]string{"caa-azure:operatorSourceDir": "../tests/fixtures"}, "caa-azure:operatorSourceDir", "config/release"},
		{"no chart in dir", map[string]string{"caa-azure:caaVersion": "0.22.0", "caa-azure:caaSourceDir": "../tests/fixtures/operator"}, "caa-azure:caaSourceDir", "install/charts/peerpods/Chart.yaml"},
		{"unknown chart", map[string]string{"caa-azure:caaVersion": "0.30.0", "caa-azure:caaTag": "x", "caa-azure:podVmImageId": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/g/providers/Microsoft.Compute/images/mine"}, "caa-azure:caaVersion", "chartVersion"},
		{"bad chart version", map[string]string{"caa-azure:chartVersion": "latest"}, "caa-azure:chartVersion", "0.4.0"},
		{"webhook on operator", map[string]string{"caa-azure:webhook": "true", "caa-azure:caaSourceDir": caaDir}, "caa-azure:webhook", "0.18.0"},
		{"rbac proxy image", map[string]string{"caa-azure:rbacProxyImage": "UPPER/case"}, "caa-azure:rbacProxyImage", "container image"},
		{"sample flag", map[string]string{"caa-azure:sample": "yes please"}, "caa-azure:sample", "not a boolean"},
		{"sample image", map[string]string{"caa-azure:sampleImage": "ngi nx"}, "caa-azure:sampleImage", "container image"},
		{"replicas", map[string]string{"caa-azure:sampleReplicas": "0"}, "caa-azure:sampleReplicas", "1 to 100"},
		{"replicas text", map[string]string{"caa-azure:sampleReplicas": "many"}, "caa-azure:sampleReplicas", "not a whole number"},
		{"limit", map[string]string{"caa-azure:peerpodsLimitPerNode": "0"}, "caa-azure:peerpodsLimitPerNode", "forbid every peer pod"},
		{"sizes", map[string]string{"caa-azure:instanceSizes": "Standard_DC2as_v5,Standard_D2s_v5"}, "caa-azure:instanceSizes", "AMD SEV-SNP"},
		{"secure boot without cvm", map[string]string{"caa-azure:tee": "none", "caa-azure:disableCvm": "true",
			"caa-azure:instanceSize": "Standard_D2as_v5", "caa-azure:enableSecureBoot": "true"}, "caa-azure:enableSecureBoot", "disableCvm"},
		{"pod tags", map[string]string{"caa-azure:podVmTags": `{"a":"b,c"}`}, "caa-azure:podVmTags", "','"},
		{"grant flag", map[string]string{"caa-azure:grantVmSizeRead": "maybe"}, "caa-azure:grantVmSizeRead", "not a boolean"},
		{"preflight mode", map[string]string{"caa-azure:preflight": "strict"}, "caa-azure:preflight", "warn"},
		{"groups without entra", map[string]string{"caa-azure:clusterAdminGroups": "aks-admins"}, "caa-azure:clusterAdminGroups", "only clusterAuth entra"},
		{"bad cluster auth", map[string]string{"caa-azure:clusterAuth": "aad"}, "caa-azure:clusterAuth", "local"},
		{"bad caa auth", map[string]string{"caa-azure:caaAuth": "secret"}, "caa-azure:caaAuth", "servicePrincipal"},
		{"long lifetime", map[string]string{"caa-azure:credentialLifetime": "900d"}, "caa-azure:credentialLifetime", "730d"},
		{"bad lifetime", map[string]string{"caa-azure:credentialLifetime": "3 months"}, "caa-azure:credentialLifetime", "90d"},
		{"bad generation", map[string]string{"caa-azure:credentialGeneration": "0"}, "caa-azure:credentialGeneration", "1 or more"},
		{"removed key", map[string]string{"caa-azure:sweepPodVms": "true"}, "caa-azure:sweepPodVms", "pulumi config rm caa-azure:sweepPodVms"},
		{"0.22.0 has no pod VM image", map[string]string{"caa-azure:caaVersion": "0.22.0"}, "caa-azure:podVmImageId", "az-copy-image"},
		{"chart cannot render a bare digest", map[string]string{"caa-azure:caaVersion": "0.20.0", "caa-azure:caaTag": "sha256:" + strings.Repeat("a", 64)},
			"caa-azure:caaTag", "v0.22.0@sha256:"},
		{"chart cannot render a digest image", map[string]string{"caa-azure:caaVersion": "0.20.0",
			"caa-azure:caaImage": "quay.io/c/caa@sha256:" + strings.Repeat("a", 64)}, "caa-azure:caaTag", "without a tag"},
		{"operator version on the chart", map[string]string{"caa-azure:caaVersion": "0.20.0", "caa-azure:operatorVersion": "0.17.0"},
			"caa-azure:operatorVersion", "peerpods chart, which has no operator"},
		{"operator dir on the chart", map[string]string{"caa-azure:caaVersion": "0.20.0", "caa-azure:operatorSourceDir": "../tests/fixtures/operator"},
			"caa-azure:operatorSourceDir", "pulumi config rm caa-azure:operatorSourceDir"},
		{"attestation flag", map[string]string{"caa-azure:attestation": "on"}, "caa-azure:attestation", "not a boolean"},
		{"kbs address text", map[string]string{"caa-azure:attestation": "true", "caa-azure:kbsAddress": "kbs.local"}, "caa-azure:kbsAddress", "not an IPv4 address"},
		{"kbs address v6", map[string]string{"caa-azure:attestation": "true", "caa-azure:kbsAddress": "fd00::5"}, "caa-azure:kbsAddress", "10.224.255.254"},
		{"kbs address without attestation", map[string]string{"caa-azure:kbsAddress": "10.224.0.9"}, "caa-azure:kbsAddress", "attestation is false"},
		{"trustee dir without attestation", map[string]string{"caa-azure:trusteeSourceDir": "../tests/fixtures/trustee-kvstorage"},
			"caa-azure:trusteeSourceDir", "pulumi config rm caa-azure:trusteeSourceDir"},
		{"trustee dir wrong", map[string]string{"caa-azure:attestation": "true", "caa-azure:trusteeSourceDir": "../tests/fixtures/operator"},
			"caa-azure:trusteeSourceDir", "root of a trustee checkout"},
		{"attestation on an unknown release", map[string]string{"caa-azure:attestation": "true", "caa-azure:caaVersion": "0.30.0",
			"caa-azure:caaTag": "x", "caa-azure:podVmImageId": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/g/providers/Microsoft.Compute/images/mine", "caa-azure:chartVersion": "0.9.0"}, "caa-azure:attestation", "no trustee pin"},
	}
	expectRejected(t, cases)
}

// rejectCase is a configuration Parse must refuse: its error names key
// and says detail.
type rejectCase struct {
	name        string
	set         map[string]string
	key, detail string
}

// expectRejected parses each case on top of a good configuration and
// checks the error: it names the key, says the detail, and tells the user
// that the run changed nothing.
func expectRejected(t *testing.T, cases []rejectCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := goodConfig(t)
			for k, v := range c.set {
				cfg[k] = v
			}
			_, _, err := parse(cfg)
			if err == nil {
				t.Fatalf("accepted; want an error naming %s", c.key)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.key+": ") || !strings.Contains(msg, c.detail) {
				t.Errorf("error does not name %s with %q:\n%s", c.key, c.detail, msg)
			}
			if !strings.Contains(msg, "this run changed nothing") || strings.Contains(msg, "nothing was created") {
				t.Errorf("error does not say that this run changed nothing:\n%s", msg)
			}
		})
	}
}

// TestParseAttestation: the release's trustee pin, and a warning where its
// pod VM image does not measure initdata.
func TestParseAttestation(t *testing.T) {
	cfg := goodConfig(t)
	cfg["caa-azure:attestation"] = "true"
	c, warnings, err := parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Attestation || c.Release.Trustee.Ref != "v0.10.1" || c.KBSAddress.IsValid() {
		t.Errorf("attestation on 0.10.0: %+v %v", c.Release.Trustee, c.KBSAddress)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "initdataPcr8") {
		t.Errorf("0.10.0's image does not measure initdata; want one warning saying so, got %v", warnings)
	}
	cfg["caa-azure:caaVersion"] = "0.12.0"
	if _, warnings, _ = parse(cfg); len(warnings) != 0 {
		t.Errorf("0.12.0 measures initdata: %v", warnings)
	}
	cfg["caa-azure:kbsAddress"] = "10.224.0.10"
	if c, _, err = parse(cfg); err != nil || c.KBSAddress.String() != "10.224.0.10" {
		t.Errorf("an explicit address: %v %v", c, err)
	}
}

// TestParseWarnsOnUnverifiedReleases: a release whose values could not
// all be checked at its tag says so on every run.
func TestParseWarnsOnUnverifiedReleases(t *testing.T) {
	cfg := goodConfig(t)
	cfg["caa-azure:caaVersion"] = "0.15.0"
	_, warnings, err := parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "caaVersion 0.15.0: not verified") || !strings.Contains(warnings[0], "CAA#2550") {
		t.Errorf("want one warning about 0.15.0's unverified pod VM image, got %v", warnings)
	}
	cfg["caa-azure:caaVersion"] = "0.20.0"
	if _, warnings, _ = parse(cfg); len(warnings) != 1 || !strings.Contains(warnings[0], "azure-podvm-release") {
		t.Errorf("a chart release's pod VM image is unverified and says why; got %v", warnings)
	}
	cfg["caa-azure:podVmImageId"] = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/g/providers/Microsoft.Compute/images/mine"
	if _, warnings, err := parse(cfg); err != nil || len(warnings) != 0 {
		t.Errorf("with the user's own image nothing is unverified; got %v, %v", warnings, err)
	}
	delete(cfg, "caa-azure:podVmImageId")
	cfg["caa-azure:caaVersion"] = "0.10.0"
	if _, warnings, _ = parse(cfg); len(warnings) != 0 {
		t.Errorf("the guide's release is verified; got %v", warnings)
	}
}
