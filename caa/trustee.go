package caa

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"caa-azure/caa/upstream"
)

// Names in trustee's KBS tree that the program fills in.
const (
	TrusteeNamespace     = "coco-tenant"
	KBSName              = "kbs"
	KBSPort              = 8080
	kbsConfigMapName     = "kbs-config"
	kbsConfigFile        = "kbs-config.toml"
	policyConfigMapName  = "policy-config"
	AdminKeySecretPrefix = "kbs-auth-public-key"
	AdminKeyFile         = "kbs.pem"
	ResourceSecretPrefix = "keys"
	ResourceFile         = "key.bin"
	// TLSSecret holds the KBS's https key and certificate (the component
	// fills it from Pulumi state), mounted at tlsDir.
	TLSSecret         = "kbs-https"
	TLSKeyFile        = "https-key.pem"
	TLSCertFile       = "https-cert.pem"
	tlsDir            = "/etc/kbs-https"
	TLSCertAnnotation = "caa-azure.io/kbs-certificate-sha256"
)

// The resource trustee's overlay mounts (kbs:///reponame/workload_key/key.bin):
// the program seeds it and the attested sample fetches it.
const (
	ResourceRepository = "reponame"
	ResourceType       = "workload_key"
	ResourceTag        = ResourceFile
)

// ResourcePath is the resource's path in the KBS and behind the CDH's
// http://127.0.0.1:8006/cdh/resource/ endpoint.
func ResourcePath() string { return ResourceRepository + "/" + ResourceType + "/" + ResourceTag }

// Azure annotations of an internal load balancer Service with a fixed
// address (cloud-provider-azure).
const (
	InternalLoadBalancerAnnotation = "service.beta.kubernetes.io/azure-load-balancer-internal"
	LoadBalancerIPv4Annotation     = "service.beta.kubernetes.io/azure-load-balancer-ipv4"
)

// Resource storage shapes of the pinned KBS releases.
const (
	// StorageRepository: resources are files <dir>/<repo>/<type>/<tag>
	// (trustee v0.10.1 to v0.18.0); the overlay's mount is used as it is.
	StorageRepository = "repository"
	// StorageKV: one flat key-value directory, <dir>/repository/<repo>\x2F<type>\x2F<tag>
	// (trustee v0.19.0 on, deps/key-value-storage/src/local_fs); the
	// overlay's mount is not read there, so the program re-points it.
	StorageKV = "kvstorage"
)

// TrusteeOptions are the plain values the KBS objects need.
type TrusteeOptions struct {
	// KBSImage replaces the tree's kbs-container-image.
	KBSImage string
	// HelperImage replaces any init container image left at latest (the
	// busybox that copies the resource policy, up to trustee v0.18.0).
	HelperImage string
	// Address is the internal load balancer's fixed address in the VNet.
	Address string
	// PCCSURL, when set, is the PCCS the KBS's quote library asks for TDX
	// collateral, where the tree's custom_pccs overlay shows the KBS needs
	// one (trustee v0.10.1 to v0.17.0); other trees are left as they are.
	PCCSURL string
	// BindResourcePolicy replaces the KBS's resource policy with one the
	// component fills in (ResourcePolicy binds it to a PCR 8, which depends
	// on the KBS certificate in initdata, known only once its seed is);
	// false keeps the tree's, which must then still refuse the sample
	// attester.
	BindResourcePolicy bool
}

// TrusteeManifests are the KBS objects, with what the program fills in.
type TrusteeManifests struct {
	// Objects are the rendered objects, namespace first.
	Objects []Object
	// Storage is StorageRepository or StorageKV.
	Storage string
	// AdminKeySecret and ResourceSecret are the generated secrets' names.
	AdminKeySecret, ResourceSecret string
	// TLSSecret is the secret the KBS reads its https key and certificate
	// from; the component fills it.
	TLSSecret string
	// ResourcePolicy is the ConfigMap the KBS reads its resource policy
	// from when it is bound, for the component to fill; empty otherwise.
	ResourcePolicy string
}

// RenderTrustee renders trustee's KBS overlay from a checkout (the tree CAA's
// e2e applies) and turns it into what the program deploys: the pinned
// images, a readiness probe, an internal load balancer at Address, and the
// released key where the pinned KBS reads it. The key and the admin public
// key are placeholders here; the component fills them from Pulumi state.
func RenderTrustee(root string, opts TrusteeOptions) (*TrusteeManifests, error) {
	if err := upstream.CheckTrusteeDir(root); err != nil {
		return nil, err
	}
	overlay, err := upstream.TrusteeOverlayDir(root)
	if err != nil {
		return nil, err
	}
	objs, err := buildTrustee(root, overlay)
	if err != nil {
		return nil, err
	}
	m := &TrusteeManifests{}
	var deployment, service, kbsConfig Object
	for _, o := range objs {
		switch {
		case kindOf(o) == "Deployment" && nameOf(o) == KBSName:
			deployment = o
		case kindOf(o) == "Service" && nameOf(o) == KBSName:
			service = o
		case kindOf(o) == "Secret" && strings.HasPrefix(nameOf(o), AdminKeySecretPrefix):
			m.AdminKeySecret = nameOf(o)
		case kindOf(o) == "Secret" && strings.HasPrefix(nameOf(o), ResourceSecretPrefix):
			m.ResourceSecret = nameOf(o)
		case kindOf(o) == "ConfigMap" && strings.HasPrefix(nameOf(o), policyConfigMapName) && !opts.BindResourcePolicy:
			if err := checkPolicy(o); err != nil {
				return nil, err
			}
		case kindOf(o) == "ConfigMap" && strings.HasPrefix(nameOf(o), kbsConfigMapName):
			kbsConfig = o
			if m.Storage, err = storageOf(o); err != nil {
				return nil, err
			}
		}
	}
	if deployment == nil || service == nil || m.AdminKeySecret == "" || m.ResourceSecret == "" || m.Storage == "" {
		return nil, fmt.Errorf("%s does not render the %s Deployment and Service, the %s and %s secrets and the %s ConfigMap; "+
			"is it a trustee checkout at the pinned reference?", overlay, KBSName, AdminKeySecretPrefix, ResourceSecretPrefix, kbsConfigMapName)
	}
	if err := patchKBSDeployment(deployment, m, opts); err != nil {
		return nil, err
	}
	if objs, err = serveHTTPS(objs, m, deployment, kbsConfig); err != nil {
		return nil, err
	}
	if opts.PCCSURL != "" {
		if objs, err = setPCCS(root, objs, deployment, opts.PCCSURL); err != nil {
			return nil, err
		}
	}
	if opts.BindResourcePolicy {
		if objs, err = installResourcePolicy(objs, m, deployment, kbsConfig); err != nil {
			return nil, err
		}
	}
	spec := mapAt(service, "spec")
	spec["type"] = "LoadBalancer"
	annotations := mapAt(service, "metadata", "annotations")
	annotations[InternalLoadBalancerAnnotation] = "true"
	annotations[LoadBalancerIPv4Annotation] = opts.Address
	// Namespace first, so every other object has somewhere to go.
	for _, o := range objs {
		if kindOf(o) == "Namespace" {
			m.Objects = append(m.Objects, o)
		}
	}
	for _, o := range objs {
		if kindOf(o) != "Namespace" {
			m.Objects = append(m.Objects, o)
		}
	}
	return m, nil
}

// placeholder stands in for the files the tree generates secrets from,
// which a checkout lacks (CAA's e2e writes them before rendering).
const placeholder = "filled in by caa-azure from Pulumi state\n"

// buildTrustee runs kustomize on the overlay from an in-memory copy of the
// tree, adding placeholders for the generator inputs, so a user's checkout
// is never written to.
func buildTrustee(root, overlay string) ([]Object, error) {
	memfs := filesys.MakeFsInMemory()
	tree := filepath.Join(root, upstream.TrusteeKubernetesDir)
	const memRoot = "/trustee"
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return memfs.WriteFile(path.Join(memRoot, filepath.ToSlash(rel)), b)
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tree, err)
	}
	overlayRel, _ := filepath.Rel(tree, overlay)
	memOverlay := path.Join(memRoot, filepath.ToSlash(overlayRel))
	for _, f := range []string{path.Join(memRoot, "base", AdminKeyFile), path.Join(memOverlay, ResourceFile)} {
		if !memfs.Exists(f) {
			if err := memfs.WriteFile(f, []byte(placeholder)); err != nil {
				return nil, err
			}
		}
	}
	return kustomize(memfs, memOverlay, overlay)
}

// patchKBSDeployment pins the images, adds a readiness probe (Pulumi then
// waits until the KBS listens) and, for the flat store, mounts the key
// where the KBS looks for it.
func patchKBSDeployment(dep Object, m *TrusteeManifests, opts TrusteeOptions) error {
	var kbs map[string]any
	for _, c := range Containers(dep) {
		image, _ := c["image"].(string)
		switch {
		case c["name"] == KBSName:
			kbs = c
			c["image"] = opts.KBSImage
		case upstream.SplitImage(image).Tag == "latest" || upstream.SplitImage(image).Tag == "":
			c["image"] = opts.HelperImage
		}
	}
	if kbs == nil {
		return fmt.Errorf("the %s Deployment has no %s container", KBSName, KBSName)
	}
	kbs["readinessProbe"] = map[string]any{
		"tcpSocket":     map[string]any{"port": KBSPort},
		"periodSeconds": 5,
	}
	mounts, _ := kbs["volumeMounts"].([]any)
	var keysMount map[string]any
	for _, v := range mounts {
		if mm, ok := v.(map[string]any); ok && mm["name"] == ResourceSecretPrefix {
			keysMount = mm
		}
	}
	if keysMount == nil {
		return fmt.Errorf("the %s container does not mount the %s secret", KBSName, ResourceSecretPrefix)
	}
	mountPath, _ := keysMount["mountPath"].(string)
	want := repositoryDir + "/" + ResourceRepository + "/" + ResourceType
	if path.Clean(mountPath) != want {
		return fmt.Errorf("the %s secret is mounted at %q, not %s: the released key's path changed upstream", ResourceSecretPrefix, mountPath, want)
	}
	if m.Storage != StorageKV {
		return nil
	}
	// The flat store is <dir_path>/repository (RESOURCE_STORAGE_NAMESPACE),
	// one file per key with "/" written as \x2F. Only that file is mounted
	// (subPath), so the directory stays writable for the admin API.
	keysMount["mountPath"] = kvRepositoryDir + "/" + strings.ReplaceAll(ResourcePath(), "/", `\x2F`)
	keysMount["subPath"] = ResourceFile
	keysMount["readOnly"] = true
	return nil
}

// repositoryDir is where the file store keeps resources (the KBS default,
// and the LocalFs plugin's dir_path from v0.11.0); kvRepositoryDir is where
// the flat store does. storageOf checks that the KBS configuration says so.
const (
	repositoryDir   = "/opt/confidential-containers/kbs/repository"
	kvStorageDir    = "/opt/confidential-containers/kbs"
	kvRepositoryDir = kvStorageDir + "/repository"
)

// kbsConfig is the part of the KBS configuration that says where resources live.
type kbsConfig struct {
	Plugins []struct {
		Name               string `toml:"name"`
		Type               string `toml:"type"`
		DirPath            string `toml:"dir_path"`
		StorageBackendType string `toml:"storage_backend_type"`
	} `toml:"plugins"`
	StorageBackend struct {
		StorageType string `toml:"storage_type"`
		Backends    struct {
			LocalFS struct {
				DirPath string `toml:"dir_path"`
			} `toml:"local_fs"`
		} `toml:"backends"`
	} `toml:"storage_backend"`
}

// storageOf reads the rendered KBS configuration: which store holds
// resources, and that the flat one is where the program mounts the key.
func storageOf(cm Object) (string, error) {
	text, _ := mapAt(cm, "data")[kbsConfigFile].(string)
	var cfg kbsConfig
	if _, err := toml.Decode(text, &cfg); err != nil {
		return "", fmt.Errorf("the KBS configuration %s is not TOML: %w", kbsConfigFile, err)
	}
	for _, p := range cfg.Plugins {
		if p.Name == "resource" && (p.Type == StorageKV || p.StorageBackendType == StorageKV) {
			if cfg.StorageBackend.StorageType != "LocalFs" || path.Clean(cfg.StorageBackend.Backends.LocalFS.DirPath) != kvStorageDir {
				return "", fmt.Errorf("the KBS configuration keeps resources in %s storage at %q; the program seeds a LocalFs store at %s",
					cfg.StorageBackend.StorageType, cfg.StorageBackend.Backends.LocalFS.DirPath, kvStorageDir)
			}
			return StorageKV, nil
		}
		if p.Name == "resource" && p.Type == "LocalFs" && path.Clean(p.DirPath) != repositoryDir {
			return "", fmt.Errorf("the KBS configuration keeps resources at %q; the program seeds them under %s", p.DirPath, repositoryDir)
		}
	}
	return StorageRepository, nil
}

// insecureHTTP is the line trustee's Kubernetes tree turns TLS off with, at
// every pinned reference: top level up to v0.10.1-19, in [http_server] from
// v0.11.0. private_key and certificate sit beside it in the same table
// (kbs/src/config.rs; TlsConfig is flattened into HttpServerConfig from
// v0.20.0), so replacing the line in place is right for every shape.
var insecureHTTP = regexp.MustCompile(`(?m)^[ \t]*insecure_http[ \t]*=[ \t]*true[ \t]*(#.*)?$`)

// tlsSettings is what serveHTTPS checks the KBS will read.
type tlsSettings struct {
	InsecureHTTP *bool  `toml:"insecure_http"`
	PrivateKey   string `toml:"private_key"`
	Certificate  string `toml:"certificate"`
}

// serveHTTPS makes the KBS serve https with the key and certificate of the
// TLSSecret, as CAA's e2e does from 0.13.0 (test/utils/checkout_kbs.sh),
// so that a pod VM pinning the certificate talks only to this KBS.
func serveHTTPS(objs []Object, m *TrusteeManifests, dep, kbsConfig Object) ([]Object, error) {
	data := mapAt(kbsConfig, "data")
	text, _ := data[kbsConfigFile].(string)
	if n := len(insecureHTTP.FindAllStringIndex(text, -1)); n != 1 {
		return nil, fmt.Errorf("the KBS configuration %s sets `insecure_http = true` %d times, not once; the program puts its https "+
			"settings in place of that line and cannot tell where the KBS reads them", kbsConfigFile, n)
	}
	text = insecureHTTP.ReplaceAllLiteralString(text, "# caa-azure: https with the stack's pinned certificate.\n"+
		"insecure_http = false\n"+
		`private_key = "`+tlsDir+"/"+TLSKeyFile+"\"\n"+
		`certificate = "`+tlsDir+"/"+TLSCertFile+`"`)
	var cfg struct {
		tlsSettings
		HTTPServer tlsSettings `toml:"http_server"`
	}
	if _, err := toml.Decode(text, &cfg); err != nil {
		return nil, fmt.Errorf("the KBS configuration %s with https settings is not TOML (does the tree set private_key or certificate "+
			"itself?): %w", kbsConfigFile, err)
	}
	tls := cfg.tlsSettings
	if cfg.HTTPServer.InsecureHTTP != nil {
		tls = cfg.HTTPServer
	}
	if tls.InsecureHTTP == nil || *tls.InsecureHTTP || tls.Certificate != tlsDir+"/"+TLSCertFile || tls.PrivateKey != tlsDir+"/"+TLSKeyFile {
		return nil, fmt.Errorf("the KBS configuration %s does not read the https settings the program wrote: %+v", kbsConfigFile, tls)
	}
	data[kbsConfigFile] = text
	for _, c := range Containers(dep) {
		if c["name"] == KBSName {
			c["volumeMounts"] = append(asAnyList(c["volumeMounts"]), map[string]any{"name": TLSSecret, "mountPath": tlsDir, "readOnly": true})
		}
	}
	podSpec := mapAt(dep, "spec", "template", "spec")
	podSpec["volumes"] = append(asAnyList(podSpec["volumes"]), map[string]any{"name": TLSSecret, "secret": map[string]any{"secretName": TLSSecret}})
	m.TLSSecret = TLSSecret
	return append(objs, Object{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "Opaque",
		"metadata":   map[string]any{"name": TLSSecret, "namespace": TrusteeNamespace},
		"stringData": map[string]any{TLSKeyFile: placeholder, TLSCertFile: placeholder},
	}), nil
}

// checkPolicy makes sure the tree's resource policy still refuses the
// sample attester, which is what a pod VM without a TEE (disableCvm) uses.
func checkPolicy(cm Object) error {
	for _, v := range mapAt(cm, "data") {
		if s, _ := v.(string); strings.Contains(s, `"sample"`) {
			return nil
		}
	}
	return fmt.Errorf("the KBS resource policy (%s) no longer mentions the sample attester; the program relies on it refusing "+
		"pod VMs without a TEE", policyConfigMapName)
}

// PCCSConfigMap holds the quote library's configuration (setPCCS).
const PCCSConfigMap = "kbs-dcap-qcnl"

var pccsMount = regexp.MustCompile(`mountPath:\s*(/\S+?)[,}\s]`)

// setPCCS does what trustee's custom_pccs overlay does, with the program's
// own configuration (as CAA's e2e writes it): a ConfigMap holding
// sgx_default_qcnl.conf mounted where the overlay's patch mounts it. A
// tree without the overlay keeps its KBS's default.
func setPCCS(root string, objs []Object, dep Object, url string) ([]Object, error) {
	patch, err := os.ReadFile(filepath.Join(root, upstream.TrusteePCCSPatch))
	if errors.Is(err, fs.ErrNotExist) {
		return objs, nil
	}
	if err != nil {
		return nil, err
	}
	m := pccsMount.FindSubmatch(patch)
	if m == nil {
		return nil, fmt.Errorf("%s mounts no file; the program cannot tell where the KBS reads sgx_default_qcnl.conf", upstream.TrusteePCCSPatch)
	}
	const file = "sgx_default_qcnl.conf"
	conf, err := json.Marshal(map[string]string{"pccs_url": url, "collateral_service": upstream.IntelCollateral})
	if err != nil {
		return nil, err
	}
	for _, c := range Containers(dep) {
		if c["name"] == KBSName {
			c["volumeMounts"] = append(asAnyList(c["volumeMounts"]), map[string]any{"name": PCCSConfigMap, "mountPath": string(m[1]), "subPath": file, "readOnly": true})
		}
	}
	podSpec := mapAt(dep, "spec", "template", "spec")
	podSpec["volumes"] = append(asAnyList(podSpec["volumes"]), map[string]any{"name": PCCSConfigMap, "configMap": map[string]any{"name": PCCSConfigMap}})
	sum := sha256.Sum256(conf)
	// A subPath mount never sees a ConfigMap update: a changed
	// configuration restarts the KBS.
	mapAt(dep, "spec", "template", "metadata", "annotations")[PCCSAnnotation] = hex.EncodeToString(sum[:])
	return append(objs, Object{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": PCCSConfigMap, "namespace": TrusteeNamespace},
		"data":       map[string]any{file: string(conf)},
	}), nil
}

// PCCSAnnotation carries the quote library configuration's sha256.
const PCCSAnnotation = "caa-azure.io/qcnl-sha256"
