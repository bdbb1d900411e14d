package tests

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa"
	"caa-azure/caa/initdata"
	"caa-azure/caa/kbscert"
	"caa-azure/caa/upstream"
	"caa-azure/stack"
	"caa-azure/workload"
)

// Our own trustee trees (tests/fixtures/README.md), one per storage shape.
const (
	repositoryTrustee = "fixtures/trustee-repository"
	kvTrustee         = "fixtures/trustee-kvstorage"

	tJob     = "kubernetes:batch/v1:Job"
	tService = "kubernetes:core/v1:Service"
	kbsKey   = "attestation-coco-tenant/kbs"
	// defaultKBSAddress is the default node subnet's (10.224.0.0/16) last assignable address.
	defaultKBSAddress = "10.224.255.254"
	defaultKBSURL     = "https://" + defaultKBSAddress + ":8080"
)

func attestationOn(trustee string) map[string]string {
	return map[string]string{"caa-azure:attestation": "true", "caa-azure:trusteeSourceDir": trustee}
}

var chartRelease = map[string]string{"caa-azure:caaVersion": "0.22.0", "caa-azure:caaSourceDir": "",
	"caa-azure:operatorSourceDir": "", "caa-azure:podVmImageId": ownPodVMImage}

func attestedStack(t *testing.T, stackName string, set ...map[string]string) (*mocks, outputs) {
	t.Helper()
	cfg := stackConfig(t, stackName)
	for _, s := range set {
		for k, v := range s {
			cfg[k] = v
		}
	}
	m := newMocks()
	return m, deployAndExport(t, stackName, cfg, m)
}

// decodeInitdata decodes an encoded initdata and checks the document: it
// parses, every client in it is pointed at the KBS, and both KBS clients
// pin kbsCert.
func decodeInitdata(t *testing.T, what, encoded, encoding, kbsURL, kbsCert string) []byte {
	t.Helper()
	doc, err := initdata.Decode(encoded, encoding)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	d, err := initdata.Parse(doc)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var aa struct {
		TokenConfigs map[string]struct{ URL, Cert string } `toml:"token_configs"`
	}
	var cdh struct {
		KBC struct {
			Name, URL string
			KBSCert   string `toml:"kbs_cert"`
		}
	}
	if _, err := toml.Decode(d.Data[initdata.AAConfig], &aa); err != nil {
		t.Fatalf("%s aa.toml: %v", what, err)
	}
	if _, err := toml.Decode(d.Data[initdata.CDHConfig], &cdh); err != nil {
		t.Fatalf("%s cdh.toml: %v", what, err)
	}
	if aa.TokenConfigs["kbs"].URL != kbsURL || aa.TokenConfigs["coco_as"].URL != kbsURL || cdh.KBC.URL != kbsURL {
		t.Errorf("%s: clients point at %v and %s, want %s", what, aa.TokenConfigs, cdh.KBC.URL, kbsURL)
	}
	if aa.TokenConfigs["kbs"].Cert != kbsCert || cdh.KBC.KBSCert != kbsCert || kbsCert == "" {
		t.Errorf("%s: the attestation agent pins %q and the data hub %q, want the KBS's certificate %q", what,
			aa.TokenConfigs["kbs"].Cert, cdh.KBC.KBSCert, kbsCert)
	}
	return doc
}

// TestInitdataPerRelease decodes what each release reads: 0.10.0's plain
// base64 in peer-pods-cm and under the runtime annotation; 0.22.0's gzip
// in the chart's providerConfigs and under the hypervisor annotation. Both
// carry the same document, pointed at the exported KBS address.
func TestInitdataPerRelease(t *testing.T) {
	for _, tc := range []struct {
		name       string
		set        map[string]string
		annotation string
		encoding   string
		global     func(m *mocks) string
		pcr8       bool
	}{
		{"0.10.0", attestationOn(repositoryTrustee), "io.katacontainers.config.runtime.cc_init_data", upstream.InitdataBase64,
			func(m *mocks) string {
				return str(t, m.one(t, tConfigMap, "caa-"+ns+"/peer-pods-cm"), "data", "INITDATA")
			}, false},
		{"0.22.0", merge(chartRelease, attestationOn(kvTrustee)), "io.katacontainers.config.hypervisor.cc_init_data", upstream.InitdataGzipBase64,
			func(m *mocks) string {
				return str(t, m.one(t, tChart, "caa-peerpods"), "values", "providerConfigs", "azure", "INITDATA")
			}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, out := attestedStack(t, "snp", tc.set)
			expect(t, "export kbsUrl", out["kbsUrl"].Value.(string), defaultKBSURL)
			cert := out["kbsCertificate"].Value.(string)
			global := decodeInitdata(t, "INITDATA", tc.global(m), tc.encoding, defaultKBSURL, cert)
			job := m.one(t, tJob, "attested-sample")
			annotations := prop(t, job, "spec", "template", "metadata", "annotations").ObjectValue()
			if len(annotations) != 1 || !annotations[resourceKey(tc.annotation)].IsString() {
				t.Fatalf("the sample's pod must carry exactly the release's initdata annotation %s: %v", tc.annotation, annotations)
			}
			own := decodeInitdata(t, "annotation", annotations[resourceKey(tc.annotation)].StringValue(), tc.encoding, defaultKBSURL, cert)
			// Pods without initdata of their own run anything but exec; the
			// sample's pod VM runs only the sample.
			globalDoc, _ := initdata.Parse(global)
			expect(t, "global agent policy", globalDoc.Data[initdata.AgentPolicy], initdata.Policy())
			ownDoc, _ := initdata.Parse(own)
			want, err := initdata.SamplePolicy(initdata.Pinned{ImageDigest: upstream.SampleImageDigest, Args: workload.AttestedCommand()})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "the sample's agent policy", ownDoc.Data[initdata.AgentPolicy], want)
			container := prop(t, job, "spec", "template", "spec", "containers", "0").ObjectValue()
			expect(t, "sample image", container["image"].StringValue(), upstream.SampleImage)
			var command []string
			for _, a := range container["command"].ArrayValue() {
				command = append(command, a.StringValue())
			}
			if strings.Join(command, "\x00") != strings.Join(workload.AttestedCommand(), "\x00") || (container["args"].IsArray() && len(container["args"].ArrayValue()) != 0) {
				t.Error("the sample must run exactly the command its agent policy pins")
			}
			pcr, exported := out["initdataPcr8"]
			if exported != tc.pcr8 {
				t.Fatalf("initdataPcr8 exported: %v, want %v (PCR 8 is measured from the v0.12.0 pod VM image on)", exported, tc.pcr8)
			}
			if exported {
				expect(t, "initdataPcr8 (the sample's)", pcr.Value.(string), initdata.PCR8(own))
			}
		})
	}
}

// TestKBSResourcePolicyPerRelease: from 0.12.0 the KBS releases resources
// only to the sample's measurement, with the policy where that release's
// KBS reads it; 0.10.0 keeps trustee's policy (it cannot bind); a pod VM
// without a vTPM gets nothing.
func TestKBSResourcePolicyPerRelease(t *testing.T) {
	const policyKey = "attestation-coco-tenant/" + caa.ResourcePolicyConfigMap
	chart019 := map[string]string{"caa-azure:caaVersion": "0.19.0", "caa-azure:caaSourceDir": "", "caa-azure:operatorSourceDir": ""}
	for _, tc := range []struct {
		name, stack string
		set         map[string]string
		claims      string // a TEE claim name the policy must name, "" for none
		mountPath   string
	}{
		{"0.19.0 file store", "snp", merge(chart019, attestationOn(repositoryTrustee)), "az-snp-vtpm", "/etc/kbs-resource-policy"},
		{"0.22.0 flat store", "snp", merge(chartRelease, attestationOn(kvTrustee)), "azsnpvtpm", "/opt/confidential-containers/kbs/kbs/resource-policy.rego"},
		{"0.22.0 tdx", "tdx", merge(chartRelease, attestationOn(kvTrustee)), "az-tdx-vtpm", "/opt/confidential-containers/kbs/kbs/resource-policy.rego"},
		{"0.22.0 without a TEE", "nonconf", merge(chartRelease, attestationOn(kvTrustee)), "", "/opt/confidential-containers/kbs/kbs/resource-policy.rego"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, out := attestedStack(t, tc.stack, tc.set)
			policy := str(t, m.one(t, tConfigMap, policyKey), "data", "policy.rego")
			if tc.claims == "" {
				if strings.Contains(policy, "allow if") {
					t.Errorf("without a vTPM nothing can be bound; the policy must allow nothing:\n%s", policy)
				}
			} else {
				pcr := out["initdataPcr8"].Value.(string)
				if !strings.Contains(policy, `tpm.pcr08 == "`+pcr+`"`) || !strings.Contains(policy, `"`+tc.claims+`"`) {
					t.Errorf("the resource policy does not bind to initdataPcr8 %s under %s:\n%s", pcr, tc.claims, policy)
				}
			}
			mounted := false
			for _, v := range prop(t, m.one(t, tDeployment, kbsKey), "spec", "template", "spec", "containers", "0", "volumeMounts").ArrayValue() {
				mounted = mounted || (v.ObjectValue()["name"].StringValue() == caa.ResourcePolicyConfigMap &&
					v.ObjectValue()["mountPath"].StringValue() == tc.mountPath)
			}
			if !mounted {
				t.Errorf("the KBS does not mount its resource policy at %s", tc.mountPath)
			}
			if !dependsOn(m.one(t, tDeployment, kbsKey), m.one(t, tConfigMap, policyKey)) {
				t.Error("the KBS must start after its resource policy")
			}
		})
	}
	t.Run("0.10.0 keeps trustee's", func(t *testing.T) {
		m, _ := attestedStack(t, "snp", attestationOn(repositoryTrustee))
		for _, r := range m.byType(tConfigMap) {
			if r.Name == policyKey {
				t.Error("0.10.0's pod VM image does not measure initdata; there is nothing to bind to")
			}
		}
	})
}

// TestKBSPCCS: a TDX stack points the KBS's quote library at Azure's PCCS
// where the pinned tree shows the KBS reads one (our repository-shaped
// fixture carries custom_pccs, the flat-store one does not); snp needs none.
func TestKBSPCCS(t *testing.T) {
	for _, tc := range []struct {
		name, stack string
		set         map[string]string
		want        bool
	}{
		{"tdx 0.10.0", "tdx", attestationOn(repositoryTrustee), true},
		{"snp 0.10.0", "snp", attestationOn(repositoryTrustee), false},
		{"tdx 0.22.0", "tdx", merge(chartRelease, attestationOn(kvTrustee)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := attestedStack(t, tc.stack, tc.set)
			var conf string
			for _, r := range m.byType(tConfigMap) {
				if r.Name == "attestation-coco-tenant/"+caa.PCCSConfigMap {
					conf = str(t, r, "data", "sgx_default_qcnl.conf")
				}
			}
			if got := strings.Contains(conf, `"pccs_url":"`+upstream.AzurePCCS+`"`); got != tc.want {
				t.Errorf("Azure's PCCS configured: %v, want %v (%q)", got, tc.want, conf)
			}
		})
	}
}

// TestKBSObjects: the KBS is an internal load balancer at the fixed
// address, runs pinned images, and holds keys from Pulumi state.
func TestKBSObjects(t *testing.T) {
	m, out := attestedStack(t, "snp", attestationOn(repositoryTrustee))
	svc := m.one(t, tService, kbsKey)
	expect(t, "KBS service type", str(t, svc, "spec", "type"), "LoadBalancer")
	expect(t, "internal", str(t, svc, "metadata", "annotations", caa.InternalLoadBalancerAnnotation), "true")
	expect(t, "address", str(t, svc, "metadata", "annotations", caa.LoadBalancerIPv4Annotation), defaultKBSAddress)
	dep := m.one(t, tDeployment, kbsKey)
	tr, _ := upstream.TrusteeOf("0.10.0")
	expect(t, "KBS image", str(t, dep, "spec", "template", "spec", "containers", "0", "image"), tr.Image)
	expect(t, "policy copier image", str(t, dep, "spec", "template", "spec", "initContainers", "0", "image"), upstream.DefaultHelperImage)
	expect(t, "sample image", str(t, m.one(t, tJob, "attested-sample"), "spec", "template", "spec", "containers", "0", "image"), upstream.SampleImage)
	for _, r := range kubernetesObjects(m) {
		for _, path := range [][]string{{"spec", "template", "spec", "containers"}, {"spec", "template", "spec", "initContainers"}} {
			v := resourceAt(r.Inputs, path...)
			if !v.IsArray() {
				continue
			}
			for _, c := range v.ArrayValue() {
				image := c.ObjectValue()["image"].StringValue()
				if tag := upstream.SplitImage(image).Tag; (tag == "" || tag == "latest") && upstream.SplitImage(image).Digest == "" &&
					!strings.HasPrefix(r.Name, "nginx") {
					t.Errorf("%s %s runs unpinned image %s", r.TypeToken, r.Name, image)
				}
			}
		}
	}

	// The admin key: the Secret holds the public half of the exported private key.
	var pub, secretValue pulumi.MockResourceArgs
	for _, r := range m.byType(tSecret) {
		switch {
		case strings.HasPrefix(r.Name, "attestation-coco-tenant/kbs-auth-public-key"):
			pub = r
		case strings.HasPrefix(r.Name, "attestation-coco-tenant/keys"):
			secretValue = r
		}
	}
	if pub.Name == "" || secretValue.Name == "" {
		t.Fatal("no admin key or resource secret registered")
	}
	private := out["kbsAdminPrivateKey"]
	if !private.Secret {
		t.Error("the KBS admin private key must be exported as a secret")
	}
	keys, err := caa.AdminKeysFromSeed(randomBase64(t, m, "attestation-admin-seed"))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "kbs.pem", str(t, pub, "stringData", caa.AdminKeyFile), keys[0])
	expect(t, "exported private key", private.Value.(string), keys[1])
	seeded := prop(t, secretValue, "stringData", caa.ResourceFile)
	if !seeded.IsSecret() {
		t.Error("the seeded secret must stay a Pulumi secret")
	}
	expect(t, "seeded secret", seeded.SecretValue().Element.StringValue(), randomBase64(t, m, "attestation-secret"))
	job := m.one(t, tJob, "attested-sample")
	env := envOf(t, job)
	expect(t, "SECRET_SHA256", env["SECRET_SHA256"], caa.SecretDigest(randomBase64(t, m, "attestation-secret")))
	expect(t, "EXPECT", env["EXPECT"], workload.ExpectReleased)
	expect(t, "RESOURCE_URL", env["RESOURCE_URL"], "http://127.0.0.1:8006/cdh/resource/reponame/workload_key/key.bin")
}

func randomBase64(t *testing.T, m *mocks, name string) string {
	t.Helper()
	for _, r := range m.byType("random:index/randomBytes:RandomBytes") {
		if r.Name == name {
			_, out, _ := m.NewResource(r)
			return out["base64"].StringValue()
		}
	}
	t.Fatalf("no RandomBytes %s", name)
	return ""
}

func envOf(t *testing.T, job pulumi.MockResourceArgs) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range prop(t, job, "spec", "template", "spec", "containers", "0", "env").ArrayValue() {
		env[e.ObjectValue()["name"].StringValue()] = e.ObjectValue()["value"].StringValue()
	}
	return env
}

// TestAttestationWithoutTEE: a pod VM without a TEE attests with the sample
// attester, so the sample expects a refusal and there is no PCR 8 to export,
// also on a release whose pod VM image measures initdata (0.22.0): the
// measurement needs a vTPM, which disableCvm leaves out.
func TestAttestationWithoutTEE(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
	}{
		{"0.10.0", attestationOn(repositoryTrustee)},
		{"0.22.0", merge(chartRelease, attestationOn(kvTrustee))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, out := attestedStack(t, "nonconf", tc.set)
			expect(t, "EXPECT", envOf(t, m.one(t, tJob, "attested-sample"))["EXPECT"], workload.ExpectRefused)
			if pcr, ok := out["initdataPcr8"]; ok {
				t.Errorf("a pod VM without a vTPM has no PCR 8 to compare, yet initdataPcr8 = %v", pcr.Value)
			}
		})
	}
	m, _ := attestedStack(t, "nonconf", attestationOn(repositoryTrustee))
	job := m.one(t, tJob, "attested-sample")
	expect(t, "Job deletion", str(t, job, "metadata", "annotations", "pulumi.com/deletionPropagationPolicy"), "foreground")
	if v := prop(t, job, "spec", "activeDeadlineSeconds"); !v.IsNumber() || v.NumberValue() > 20*60 {
		t.Errorf("the Job needs a deadline so a refusal cannot hang the deploy: %v", v)
	}
}

// TestAttestationOrdering: the sample waits for CAA and the runtime class,
// and for the KBS to be ready and seeded; the nginx sample waits for the KBS;
// the KBS starts after its configuration and keys.
func TestAttestationOrdering(t *testing.T) {
	m, _ := attestedStack(t, "snp", attestationOn(repositoryTrustee))
	job := m.one(t, tJob, "attested-sample")
	kbs := m.one(t, tDeployment, kbsKey)
	svc := m.one(t, tService, kbsKey)
	for _, dep := range []pulumi.MockResourceArgs{kbs, svc, m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset"),
		m.one(t, tCcRuntime, "caa-ccruntime-peer-pods")} {
		if !dependsOn(job, dep) {
			t.Errorf("the attested sample does not wait for %s %s", dep.TypeToken, dep.Name)
		}
	}
	if !dependsOn(m.one(t, tDeployment, "nginx"), svc) {
		t.Error("the nginx sample's pod VM boots with initdata naming the KBS; it must wait for the KBS")
	}
	for _, r := range m.byType(tSecret) {
		if strings.HasPrefix(r.Name, "attestation-") && !dependsOn(kbs, r) {
			t.Errorf("the KBS starts before its secret %s", r.Name)
		}
	}
	if dependsOn(m.one(t, tDaemonSet, "caa-"+ns+"/cloud-api-adaptor-daemonset"), svc) {
		t.Error("CAA does not need the KBS; it must not wait for it (the critical path)")
	}
}

// TestAttestationBadInput: each mistake is named before anything is registered.
func TestAttestationBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		set  map[string]string
		want string
	}{
		"address outside the node subnet": {merge(attestationOn(repositoryTrustee), map[string]string{"caa-azure:kbsAddress": "10.9.0.10"}), "caa-azure:kbsAddress: 10.9.0.10 is not in the subnet 10.224.0.0/16"},
		"address Azure reserves":          {merge(attestationOn(repositoryTrustee), map[string]string{"caa-azure:kbsAddress": "10.224.0.1"}), "reserved by Azure"},
		"not a trustee checkout":          {merge(attestationOn("fixtures/operator"), nil), "caa-azure:trusteeSourceDir"},
		"trustee dir without attestation": {map[string]string{"caa-azure:trusteeSourceDir": repositoryTrustee}, "attestation is false"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := stackConfig(t, "snp")
			for k, v := range tc.set {
				cfg[k] = v
			}
			m := newMocks()
			err := run(t, "snp", cfg, m, deploy(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
			if n := len(m.resources); n != 0 {
				t.Errorf("%d resources registered before the error", n)
			}
		})
	}
}

// TestAttestationOffline: without trusteeSourceDir and without a network,
// the run stops before registering anything, naming the key and the
// reference to check out by hand.
func TestAttestationOffline(t *testing.T) {
	cfg := merge(stackConfig(t, "snp"), map[string]string{"caa-azure:attestation": "true"})
	m := newMocks()
	err := run(t, "snp", cfg, m, func(ctx *pulumi.Context) error {
		_, err := stack.DeployWith(ctx, stack.Options{Sources: offlineCache(t)})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "caa-azure:trusteeSourceDir") || !strings.Contains(err.Error(), "git -C trustee checkout v0.10.1") ||
		!strings.Contains(err.Error(), "Could not resolve host") {
		t.Fatalf("want an error naming trusteeSourceDir, the pinned reference and the clone failure, got %v", err)
	}
	if n := len(m.resources); n != 0 {
		t.Errorf("%d resources registered before the error", n)
	}
}

// TestAttestationInUserVNet: the default address comes from the user's node subnet.
func TestAttestationInUserVNet(t *testing.T) {
	m := withExistingVNet(newMocks())
	cfg := stackConfig(t, "snp")
	for k, v := range merge(attestationOn(repositoryTrustee), map[string]string{"caa-azure:vnetSubnetId": existingSubnetID}) {
		cfg[k] = v
	}
	out := deployAndExport(t, "snp", cfg, m)
	// The user's node subnet is 10.50.0.0/20: broadcast 10.50.15.255.
	expect(t, "kbsUrl in the user's subnet", out["kbsUrl"].Value.(string), "https://10.50.15.254:8080")
	expect(t, "address", str(t, m.one(t, tService, kbsKey), "metadata", "annotations", caa.LoadBalancerIPv4Annotation), "10.50.15.254")
}

func resourceKey(k string) resource.PropertyKey { return resource.PropertyKey(k) }

// resourceAt walks a property map by object keys; a missing key gives null.
func resourceAt(m resource.PropertyMap, path ...string) resource.PropertyValue {
	v := resource.NewObjectProperty(m)
	for _, p := range path {
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(p)]
	}
	return v
}

// TestAttestationSecretsStaySecret: the seeded secret, the admin seed and
// the admin private key appear only in values marked secret, in inputs and
// in exports (kbsAdminPrivateKey, a secret, holds the private key).
func TestAttestationSecretsStaySecret(t *testing.T) {
	m, out := attestedStack(t, "snp", attestationOn(repositoryTrustee))
	seed := randomBase64(t, m, "attestation-admin-seed")
	keys, err := caa.AdminKeysFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	tls, err := kbscert.DeriveBase64(randomBase64(t, m, "attestation-tls-seed"), defaultKBSAddress, caa.KBSLoopback)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"seeded secret": randomBase64(t, m, "attestation-secret"), "admin seed": seed,
		"admin private key": strings.TrimSpace(strings.Split(keys[1], "-----")[2]),
		"TLS seed":          randomBase64(t, m, "attestation-tls-seed"),
		"TLS private key":   strings.TrimSpace(strings.Split(tls[1], "-----")[2])}
	var walk func(where string, v resource.PropertyValue)
	walk = func(where string, v resource.PropertyValue) {
		switch {
		case v.IsSecret():
			return
		case v.IsObject():
			for k, e := range v.ObjectValue() {
				walk(where+"."+string(k), e)
			}
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				walk(where+"[]", e)
			}
		case v.IsString():
			for what, s := range secrets {
				if strings.Contains(v.StringValue(), s) {
					t.Errorf("%s carries the %s in plain text", where, what)
				}
			}
		}
	}
	for _, r := range m.resources {
		if r.TypeToken == "random:index/randomBytes:RandomBytes" {
			continue // the mocks echo outputs as inputs; Pulumi keeps these in state as secrets
		}
		walk(r.TypeToken+" "+r.Name, resource.NewObjectProperty(r.Inputs))
	}
	for k, v := range out {
		if v.Secret {
			continue
		}
		for what, s := range secrets {
			if strings.Contains(asString(v.Value), s) {
				t.Errorf("export %s carries the %s", k, what)
			}
		}
	}
}

// TestKBSServesPinnedCertificate, per release family (0.10.0 operator path,
// file store; 0.19.0 chart, file store with a bound policy; 0.22.0 chart,
// flat store): the KBS serves https with the certificate derived from the
// seed in state, every pod VM's initdata pins that certificate (checked in
// TestInitdataPerRelease), its key stays secret, and a new certificate or
// policy restarts the KBS.
func TestKBSServesPinnedCertificate(t *testing.T) {
	chart019 := map[string]string{"caa-azure:caaVersion": "0.19.0", "caa-azure:caaSourceDir": "", "caa-azure:operatorSourceDir": ""}
	for _, tc := range []struct {
		name  string
		set   map[string]string
		bound bool
	}{
		{"0.10.0", attestationOn(repositoryTrustee), false},
		{"0.19.0", merge(chart019, attestationOn(repositoryTrustee)), true},
		{"0.22.0", merge(chartRelease, attestationOn(kvTrustee)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, out := attestedStack(t, "snp", tc.set)
			want, err := kbscert.DeriveBase64(randomBase64(t, m, "attestation-tls-seed"), defaultKBSAddress, caa.KBSLoopback)
			if err != nil {
				t.Fatal(err)
			}
			cert := out["kbsCertificate"]
			if cert.Secret {
				t.Error("the KBS certificate is public (it is in every pod VM's initdata); exporting it as a secret hides it from kbs-client users")
			}
			expect(t, "exported kbsCertificate", cert.Value.(string), want[0])
			secret := m.one(t, tSecret, "attestation-coco-tenant/"+caa.TLSSecret)
			expect(t, "https certificate", str(t, secret, "stringData", caa.TLSCertFile), want[0])
			key := prop(t, secret, "stringData", caa.TLSKeyFile)
			if !key.IsSecret() {
				t.Fatal("the KBS's https key must stay a Pulumi secret")
			}
			expect(t, "https key", key.SecretValue().Element.StringValue(), want[1])
			dep := m.one(t, tDeployment, kbsKey)
			if !dependsOn(dep, secret) {
				t.Error("the KBS must start after its https secret")
			}
			annotations := prop(t, dep, "spec", "template", "metadata", "annotations").ObjectValue()
			expect(t, "certificate digest on the KBS pod", annotations[resourceKey(caa.TLSCertAnnotation)].StringValue(), caa.SecretDigest(want[0]))
			policyDigest := annotations[resourceKey(caa.ResourcePolicyAnnotation)]
			if tc.bound {
				policy := str(t, m.one(t, tConfigMap, "attestation-coco-tenant/"+caa.ResourcePolicyConfigMap), "data", caa.ResourcePolicyFile)
				if !policyDigest.IsString() || policyDigest.StringValue() != caa.SecretDigest(policy) {
					t.Errorf("policy digest on the KBS pod %v, want the sha256 of the policy", policyDigest)
				}
			} else if !policyDigest.IsNull() {
				t.Errorf("0.10.0 keeps trustee's policy, yet the KBS pod carries a policy digest %v", policyDigest)
			}
			var config string
			for _, r := range m.byType(tConfigMap) {
				if strings.HasPrefix(r.Name, "attestation-coco-tenant/kbs-config") {
					config = str(t, r, "data", "kbs-config.toml")
				}
			}
			if !strings.Contains(config, "insecure_http = false\nprivate_key = \"/etc/kbs-https/https-key.pem\"\ncertificate = \"/etc/kbs-https/https-cert.pem\"") {
				t.Errorf("the KBS is not configured for https with the mounted key:\n%s", config)
			}
		})
	}
}

// TestAttestationComponentRefusesBadArgs: what would otherwise fail only
// once the certificate's seed is known is refused before the component or
// any seed is registered.
func TestAttestationComponentRefusesBadArgs(t *testing.T) {
	rendered := func(t *testing.T, bind bool) *caa.TrusteeManifests {
		m, err := caa.RenderTrustee(kvTrustee, caa.TrusteeOptions{KBSImage: "example.com/kbs:v1", HelperImage: "example.com/busybox:1",
			Address: defaultKBSAddress, BindResourcePolicy: bind})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	policy := func(string) (string, error) { return "package policy\n", nil }
	for name, tc := range map[string]struct {
		args func(t *testing.T) *caa.AttestationArgs
		want string
	}{
		"no address": {func(t *testing.T) *caa.AttestationArgs {
			return &caa.AttestationArgs{Manifests: rendered(t, true), ResourcePolicy: policy}
		}, "Address"},
		"not an address": {func(t *testing.T) *caa.AttestationArgs {
			return &caa.AttestationArgs{Manifests: rendered(t, true), Address: "kbs.local", ResourcePolicy: policy}
		}, `Address "kbs.local"`},
		"bound policy without its function": {func(t *testing.T) *caa.AttestationArgs {
			return &caa.AttestationArgs{Manifests: rendered(t, true), Address: defaultKBSAddress}
		}, "no ResourcePolicy"},
		"manifests without the https secret": {func(t *testing.T) *caa.AttestationArgs {
			m := rendered(t, false)
			m.TLSSecret = ""
			return &caa.AttestationArgs{Manifests: m, Address: defaultKBSAddress}
		}, "https secret"},
	} {
		t.Run(name, func(t *testing.T) {
			args := tc.args(t)
			m := newMocks()
			err := run(t, "snp", stackConfig(t, "snp"), m, func(ctx *pulumi.Context) error {
				_, err := caa.NewAttestation(ctx, "attestation", args)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
			if n := len(m.resources); n != 0 {
				t.Errorf("%d resources registered before the error", n)
			}
		})
	}
	// The control: the same arguments, complete, register.
	m := newMocks()
	if err := run(t, "snp", stackConfig(t, "snp"), m, func(ctx *pulumi.Context) error {
		_, err := caa.NewAttestation(ctx, "attestation", &caa.AttestationArgs{Manifests: rendered(t, true), Address: defaultKBSAddress, ResourcePolicy: policy})
		return err
	}); err != nil || len(m.resources) == 0 {
		t.Fatalf("complete arguments: %v, %d resources", err, len(m.resources))
	}
}
