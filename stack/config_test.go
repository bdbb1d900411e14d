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
		"stackTag":      {c.Tags[StackTag], "caa-azure/snp"},
		"tagCount":      {len(c.Tags), 1},
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
	if c.NodeCount != 3 || c.Tags["owner"] != "alice" || c.Tags[StackTag] != "caa-azure/snp" || c.KubernetesVersion != "1.33" {
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
