package caa

import (
	"github.com/BurntSushi/toml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	repositoryFixture = "../tests/fixtures/trustee-repository"
	kvFixture         = "../tests/fixtures/trustee-kvstorage"
)

var trusteeOpts = TrusteeOptions{KBSImage: "example.com/kbs:v1", HelperImage: "example.com/busybox:1.37.0", Address: "10.0.255.254"}

func renderTrusteeFixture(t *testing.T, dir string) *TrusteeManifests {
	t.Helper()
	m, err := RenderTrustee(dir, trusteeOpts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRenderTrusteeServiceAndImages(t *testing.T) {
	for _, dir := range []string{repositoryFixture, kvFixture} {
		m := renderTrusteeFixture(t, dir)
		if kindOf(m.Objects[0]) != "Namespace" || nameOf(m.Objects[0]) != TrusteeNamespace {
			t.Errorf("%s: the namespace must come first: %v", dir, ObjectKey(m.Objects[0]))
		}
		svc := find(t, m.Objects, "Service", TrusteeNamespace+"/"+KBSName)
		ann := mapAt(svc, "metadata", "annotations")
		if mapAt(svc, "spec")["type"] != "LoadBalancer" || ann[InternalLoadBalancerAnnotation] != "true" || ann[LoadBalancerIPv4Annotation] != "10.0.255.254" {
			t.Errorf("%s: the KBS must be an internal load balancer at the fixed address: %v", dir, svc)
		}
		dep := find(t, m.Objects, "Deployment", TrusteeNamespace+"/"+KBSName)
		for _, c := range Containers(dep) {
			image := c["image"].(string)
			if image != trusteeOpts.KBSImage && image != trusteeOpts.HelperImage {
				t.Errorf("%s: container %v runs %q, not a pinned image", dir, c["name"], image)
			}
			if c["name"] == KBSName && c["readinessProbe"] == nil {
				t.Errorf("%s: the KBS needs a readiness probe so Pulumi waits until it listens", dir)
			}
		}
		if !strings.HasPrefix(m.AdminKeySecret, AdminKeySecretPrefix+"-") || !strings.HasPrefix(m.ResourceSecret, ResourceSecretPrefix+"-") {
			t.Errorf("%s: secret names %q %q", dir, m.AdminKeySecret, m.ResourceSecret)
		}
	}
}

func keysMountAndVolume(t *testing.T, m *TrusteeManifests) (map[string]any, map[string]any) {
	t.Helper()
	dep := find(t, m.Objects, "Deployment", TrusteeNamespace+"/"+KBSName)
	var mount, volume map[string]any
	for _, c := range Containers(dep) {
		if c["name"] != KBSName {
			continue
		}
		for _, v := range c["volumeMounts"].([]any) {
			if v.(map[string]any)["name"] == ResourceSecretPrefix {
				mount = v.(map[string]any)
			}
		}
	}
	for _, v := range mapAt(dep, "spec", "template", "spec")["volumes"].([]any) {
		if v.(map[string]any)["name"] == ResourceSecretPrefix {
			volume = v.(map[string]any)
		}
	}
	if mount == nil || volume == nil {
		t.Fatal("no keys mount or volume")
	}
	return mount, volume
}

// TestRenderTrusteeSeedsWhereKBSReads: the file store reads the overlay's
// mount as it is; the flat store needs one file named with \x2F.
func TestRenderTrusteeSeedsWhereKBSReads(t *testing.T) {
	m := renderTrusteeFixture(t, repositoryFixture)
	mount, volume := keysMountAndVolume(t, m)
	if m.Storage != StorageRepository || mount["mountPath"] != "/opt/confidential-containers/kbs/repository/reponame/workload_key/" ||
		mapAt(volume, "secret")["items"] != nil {
		t.Errorf("file store: %s %v %v", m.Storage, mount, volume)
	}
	m = renderTrusteeFixture(t, kvFixture)
	mount, volume = keysMountAndVolume(t, m)
	if m.Storage != StorageKV || mount["mountPath"] != `/opt/confidential-containers/kbs/repository/reponame\x2Fworkload_key\x2Fkey.bin` ||
		mount["subPath"] != ResourceFile || mapAt(volume, "secret")["items"] != nil {
		t.Errorf("flat store: %s %v %v", m.Storage, mount, volume)
	}
}

// copyTree copies a fixture so a test can change it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRenderTrusteeRefusesChangedUpstream(t *testing.T) {
	base := "kbs/config/kubernetes/base/"
	for name, tc := range map[string]struct {
		fixture, file, old, new, want string
	}{
		"policy no longer refuses sample": {repositoryFixture, base + "policy.rego", `"sample"`, `"other"`, "sample attester"},
		"flat store elsewhere":            {kvFixture, base + "kbs-config.toml", `"/opt/confidential-containers/kbs"`, `"/data"`, "LocalFs store"},
		"file store elsewhere":            {repositoryFixture, base + "kbs-config.toml", "insecure_http = true", "insecure_http = true\n[[plugins]]\nname = \"resource\"\ntype = \"LocalFs\"\ndir_path = \"/data\"", "/data"},
		"TLS already on":                  {kvFixture, base + "kbs-config.toml", "insecure_http = true", "insecure_http = false", "0 times"},
		"TLS turned off twice":            {kvFixture, base + "kbs-config.toml", "insecure_http = true", "insecure_http = true\n[x]\ninsecure_http = true", "2 times"},
		"tree sets a certificate":         {repositoryFixture, base + "kbs-config.toml", "insecure_http = true", "insecure_http = true\ncertificate = \"/x.pem\"", "private_key or certificate"},
		"key mounted elsewhere":           {repositoryFixture, "kbs/config/kubernetes/overlays/x86_64/patch.yaml", "reponame/workload_key", "other/key", "path changed upstream"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyTree(t, tc.fixture)
			p := filepath.Join(dir, tc.file)
			b, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(b), tc.old) {
				t.Fatalf("fixture %s lacks %q", tc.file, tc.old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(b), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := RenderTrustee(dir, trusteeOpts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error about %q, got %v", tc.want, err)
			}
		})
	}
	if _, err := RenderTrustee(t.TempDir(), trusteeOpts); err == nil || !strings.Contains(err.Error(), "trustee checkout") {
		t.Errorf("an empty directory: %v", err)
	}
}

// TestRenderTrusteeLeavesCheckoutAlone: placeholders go to memory only.
func TestRenderTrusteeLeavesCheckoutAlone(t *testing.T) {
	dir := copyTree(t, kvFixture)
	renderTrusteeFixture(t, dir)
	for _, f := range []string{"kbs/config/kubernetes/base/kbs.pem", "kbs/config/kubernetes/overlays/key.bin"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s written into the checkout", f)
		}
	}
}

// TestRenderTrusteeSetsPCCS: with a PCCS, a tree with trustee's custom_pccs
// overlay gets the quote library configuration where that patch mounts it;
// a tree without the overlay is left alone.
func TestRenderTrusteeSetsPCCS(t *testing.T) {
	opts := trusteeOpts
	opts.PCCSURL = "https://pccs.example/sgx/certification/v4"
	for dir, want := range map[string]bool{repositoryFixture: true, kvFixture: false} {
		m, err := RenderTrustee(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		var conf string
		for _, o := range m.Objects {
			if kindOf(o) == "ConfigMap" && nameOf(o) == PCCSConfigMap {
				conf, _ = mapAt(o, "data")["sgx_default_qcnl.conf"].(string)
			}
		}
		mounted := false
		for _, c := range Containers(find(t, m.Objects, "Deployment", TrusteeNamespace+"/"+KBSName)) {
			for _, v := range asList(c["volumeMounts"]) {
				mounted = mounted || (c["name"] == KBSName && v["name"] == PCCSConfigMap && v["mountPath"] == "/etc/sgx_default_qcnl.conf" &&
					v["subPath"] == "sgx_default_qcnl.conf")
			}
		}
		if got := conf != "" && mounted; got != want {
			t.Errorf("%s: PCCS configured %v (mounted %v, %q), want %v", dir, got, mounted, conf, want)
		}
		if want && !strings.Contains(conf, `"pccs_url":"`+opts.PCCSURL+`"`) {
			t.Errorf("%s: the configuration does not name the PCCS: %s", dir, conf)
		}
	}
}

// TestRenderTrusteeServesHTTPS: in each configuration shape (top level up
// to trustee v0.10.1, [http_server] later) the KBS reads https settings
// that point at the secret the component fills, mounted where they say.
func TestRenderTrusteeServesHTTPS(t *testing.T) {
	for dir, table := range map[string]string{repositoryFixture: "", kvFixture: "http_server"} {
		m := renderTrusteeFixture(t, dir)
		var cfg Object
		for _, o := range m.Objects {
			if kindOf(o) == "ConfigMap" && strings.HasPrefix(nameOf(o), kbsConfigMapName) {
				cfg = o
			}
		}
		var decoded map[string]any
		if _, err := toml.Decode(mapAt(cfg, "data")[kbsConfigFile].(string), &decoded); err != nil {
			t.Fatal(err)
		}
		settings := decoded
		if table != "" {
			settings, _ = decoded[table].(map[string]any)
		}
		if settings["insecure_http"] != false || settings["private_key"] != "/etc/kbs-https/https-key.pem" ||
			settings["certificate"] != "/etc/kbs-https/https-cert.pem" {
			t.Errorf("%s: the KBS's [%s] settings are %v, want https with the mounted key and certificate", dir, table, settings)
		}
		if m.TLSSecret != TLSSecret {
			t.Errorf("%s: TLSSecret = %q", dir, m.TLSSecret)
		}
		secret := find(t, m.Objects, "Secret", TrusteeNamespace+"/"+TLSSecret)
		for _, f := range []string{TLSKeyFile, TLSCertFile} {
			if _, ok := mapAt(secret, "stringData")[f]; !ok {
				t.Errorf("%s: the https secret has no %s", dir, f)
			}
		}
		dep := find(t, m.Objects, "Deployment", TrusteeNamespace+"/"+KBSName)
		mounted := false
		for _, c := range Containers(dep) {
			for _, v := range asList(c["volumeMounts"]) {
				mounted = mounted || (c["name"] == KBSName && v["name"] == TLSSecret && v["mountPath"] == "/etc/kbs-https")
			}
		}
		volume := false
		for _, v := range asList(mapAt(dep, "spec", "template", "spec")["volumes"]) {
			s, _ := v["secret"].(map[string]any)
			volume = volume || (v["name"] == TLSSecret && s["secretName"] == TLSSecret)
		}
		if !mounted || !volume {
			t.Errorf("%s: the KBS does not mount the https secret at /etc/kbs-https (mount %v, volume %v)", dir, mounted, volume)
		}
	}
}
