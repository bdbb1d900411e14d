package charttest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"caa-azure/caa"
	"caa-azure/caa/upstream"
)

// envGuestComponentsRepo is a git repository of
// confidential-containers/guest-components holding every commit CAA's
// versions.yaml pins.
const envGuestComponentsRepo = "GUEST_COMPONENTS_REPO"

// tlsFields are the KBS configuration's fields the https settings use.
var tlsFields = []string{"pub insecure_http: bool,", "pub private_key: Option<PathBuf>,", "pub certificate: Option<PathBuf>,"}

// tlsStruct is where the KBS reads the https settings, by the table the
// tree sets insecure_http in: top-level keys of KbsConfig up to trustee
// v0.10.1-19, [http_server] from v0.11.0.
var tlsStruct = map[string]string{"": "KbsConfig", "http_server": "HttpServerConfig"}

// structBody is the text of a Rust struct's fields, with a TlsConfig
// flattened into it (trustee v0.20.0 on) spliced in.
func structBody(source, name string) string {
	m := regexp.MustCompile(`(?s)pub struct ` + name + ` \{(.*?)\n\}`).FindStringSubmatch(source)
	if m == nil {
		return ""
	}
	body := m[1]
	if regexp.MustCompile(`#\[serde\(flatten\)\]\s*pub tls: TlsConfig,`).MatchString(body) {
		body += structBody(source, "TlsConfig")
	}
	return body
}

// TestRealTrusteeServesHTTPS renders trustee's KBS tree at every pinned
// reference and checks that the KBS of that reference reads the https
// settings the program writes: in the table the tree turns TLS off in, under
// the names that KBS's configuration has, and loaded by OpenSSL as PEM
// (which takes the PKCS#8 P-256 key kbscert derives).
func TestRealTrusteeServesHTTPS(t *testing.T) {
	repo := os.Getenv(envTrusteeRepo)
	if repo == "" {
		t.Skipf("set %s to a trustee git repository to check the KBS's https settings against its source (see CONTRIBUTING.md); skipped", envTrusteeRepo)
	}
	for _, version := range upstream.KnownVersions() {
		t.Run(version, func(t *testing.T) {
			m, tr := renderAtPin(t, repo, version, caa.TrusteeOptions{})
			var config string
			for _, o := range m.Objects {
				if md, _ := o["metadata"].(map[string]any); o["kind"] == "ConfigMap" && strings.HasPrefix(md["name"].(string), "kbs-config") {
					config = o["data"].(map[string]any)["kbs-config.toml"].(string)
				}
			}
			var decoded map[string]any
			if _, err := toml.Decode(config, &decoded); err != nil {
				t.Fatal(err)
			}
			table, settings := "", decoded
			if hs, ok := decoded["http_server"].(map[string]any); ok && hs["insecure_http"] != nil {
				table, settings = "http_server", hs
			}
			if settings["insecure_http"] != false || settings["private_key"] != "/etc/kbs-https/https-key.pem" || settings["certificate"] != "/etc/kbs-https/https-cert.pem" {
				t.Errorf("[%s] is %v", table, settings)
			}
			source, path := showFirst(t, repo, tr.Ref, []string{"kbs/src/config.rs"})
			if table == "http_server" && !strings.Contains(source, "pub http_server: HttpServerConfig") {
				t.Errorf("%s at %s has no [http_server]", path, tr.Ref)
			}
			body := structBody(source, tlsStruct[table])
			for _, f := range tlsFields {
				if !strings.Contains(body, f) {
					t.Errorf("%s at %s: the https settings are in [%s], but %s has no %q", path, tr.Ref, table, tlsStruct[table], f)
				}
			}
			server, path := showFirst(t, repo, tr.Ref, []string{"kbs/src/http.rs", "kbs/src/lib.rs"})
			if !strings.Contains(server, "set_private_key_file(key_file, SslFiletype::PEM)") {
				t.Errorf("%s at %s no longer loads the key as a PEM file with OpenSSL", path, tr.Ref)
			}
			t.Logf("trustee %s: https settings in [%s]", tr.Ref, table)
		})
	}
}

// guestFacts: what pins the KBS certificate inside the pod VM, at the
// guest-components reference a CAA release's pod VM image is built from.
var guestFacts = []sourceFact{
	{[]string{"confidential-data-hub/hub/src/config.rs", "confidential-data-hub/hub/src/config/mod.rs"},
		[]string{`pub kbs_cert: Option<String>,`, `env::set_var\("KBS_CERT", kbs_cert\)`},
		"the data hub reads kbs_cert from [kbc] and hands it to its KBS client"},
	{[]string{"confidential-data-hub/kms/src/plugins/kbs/cc_kbc.rs", "confidential-data-hub/hub/src/kms/plugins/kbs/cc_kbc.rs"},
		[]string{`env::var\("KBS_CERT"\)`, `\.add_kbs_cert\(&cert_pem\)`},
		"whose cc_kbc client adds it"},
	{[]string{"attestation-agent/attestation-agent/src/config/kbs.rs"}, []string{`pub cert: Option<String>,`},
		"the attestation agent reads cert from [token_configs.kbs]"},
	{[]string{"attestation-agent/attestation-agent/src/token/kbs.rs"}, []string{`builder\.add_kbs_cert\(cert\)`}, "and adds it"},
	{[]string{"attestation-agent/kbs_protocol/src/builder.rs"}, []string{`add_root_certificate\(cert\)`},
		"the KBS client trusts the added certificate as a root"},
}

// TestRealGuestComponentsPinCertificate checks, at the guest-components
// reference each known CAA release pins, that the pod VM's clients take the
// KBS certificate initdata carries.
func TestRealGuestComponentsPinCertificate(t *testing.T) {
	caaRepo, gcRepo := os.Getenv(envCAARepo), os.Getenv(envGuestComponentsRepo)
	if caaRepo == "" || gcRepo == "" {
		t.Skipf("set %s and %s to git repositories to check the pod VM's certificate pinning against guest-components (see CONTRIBUTING.md); skipped",
			envCAARepo, envGuestComponentsRepo)
	}
	for _, version := range upstream.KnownVersions() {
		t.Run(version, func(t *testing.T) {
			out, err := exec.Command("git", "--git-dir", gitDir(caaRepo), "show", "v"+version+":src/cloud-api-adaptor/versions.yaml").Output()
			if err != nil {
				t.Fatalf("versions.yaml at v%s: %v", version, err)
			}
			// guest-components is under git: at 0.10.0 and under oci: later.
			var versions map[string]any
			if err := yaml.Unmarshal(out, &versions); err != nil {
				t.Fatal(err)
			}
			ref := ""
			for _, section := range versions {
				s, _ := section.(map[string]any)
				gc, _ := s["guest-components"].(map[string]any)
				if r, _ := gc["reference"].(string); r != "" {
					ref = r
				}
			}
			if ref == "" {
				t.Fatalf("versions.yaml at v%s pins no guest-components", version)
			}
			for _, f := range guestFacts {
				text, path := showFirst(t, gcRepo, ref, f.paths)
				for _, p := range f.patterns {
					if !regexp.MustCompile(p).MatchString(text) {
						t.Errorf("%s at %s no longer matches %s: %s", path, ref, p, f.why)
					}
				}
			}
			t.Logf("CAA %s: guest-components %s pins the KBS certificate", version, ref)
		})
	}
}
