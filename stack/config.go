// Package stack loads and validates the stack configuration and composes
// the components into the whole caa-azure deployment. It is the only
// package that reads Pulumi configuration.
package stack

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"caa-azure/caa"
	"caa-azure/infra"
)

// Namespace is the Pulumi project name and so the namespace of every key.
const Namespace = "caa-azure"

// LocationKey is the provider's region key; it is the only key outside Namespace.
const LocationKey = "azure-native:location"

// StackTag is the Azure tag that every resource of the stack carries, so a
// user (and the pod-VM safety net) can find what one stack created.
const StackTag = "caa-azure-stack"

// The keys of the caa-azure namespace.
const (
	KeyTEE               = "tee"
	KeyInstanceSize      = "instanceSize"
	KeyDisableCVM        = "disableCvm"
	KeyResourceGroupName = "resourceGroupName"
	KeyClusterName       = "clusterName"
	KeyNodeCount         = "nodeCount"
	KeyNodeVMSize        = "nodeVmSize"
	KeyAdminUsername     = "adminUsername"
	KeySSHPublicKey      = "sshPublicKey"
	KeyKubernetesVersion = "kubernetesVersion"
	KeyVNetSubnetID      = "vnetSubnetId"
	KeyClusterSubnetCIDR = "clusterSubnetCidr"
	KeyPeerPodSubnetCIDR = "peerpodSubnetCidr"
	KeyNetworkPlugin     = "networkPlugin"
	KeyNetworkPluginMode = "networkPluginMode"
	KeyPodCIDR           = "podCidr"
	KeyTags              = "tags"

	KeyCAAVersion           = "caaVersion"
	KeyOperatorVersion      = "operatorVersion"
	KeyCAAImage             = "caaImage"
	KeyCAATag               = "caaTag"
	KeyPodVMImageID         = "podVmImageId"
	KeyCAASourceDir         = "caaSourceDir"
	KeyOperatorSourceDir    = "operatorSourceDir"
	KeyRBACProxyImage       = "rbacProxyImage"
	KeySample               = "sample"
	KeySampleImage          = "sampleImage"
	KeySampleReplicas       = "sampleReplicas"
	KeyPeerPodsLimitPerNode = "peerpodsLimitPerNode"
	KeyInstanceSizes        = "instanceSizes"
	KeyEnableSecureBoot     = "enableSecureBoot"
	KeyPodVMTags            = "podVmTags"
	KeyGrantVMSizeRead      = "grantVmSizeRead"
	KeyPreflight            = "preflight"

	KeyClusterAuth          = "clusterAuth"
	KeyClusterAdminGroups   = "clusterAdminGroups"
	KeyCAAAuth              = "caaAuth"
	KeyCredentialLifetime   = "credentialLifetime"
	KeyCredentialGeneration = "credentialGeneration"
	KeyChartVersion         = "chartVersion"
	KeyWebhook              = "webhook"
)

// RemovedKeys are keys earlier versions read, with why they went; a stack
// that still sets one is told to remove it rather than silently ignored.
var RemovedKeys = map[string]string{
	"sweepPodVms": "pod VMs now live in a resource group of their own that `pulumi destroy` deletes, so there is no sweep to turn off",
}

// Defaults of the keys that have one. Pulumi.yaml declares the same values
// (a test keeps them in step); they live here too because the program must
// behave the same when run without the CLI, as in tests.
const (
	DefaultNodeCount         = 1
	DefaultNodeVMSize        = "Standard_F4s_v2"
	DefaultAdminUsername     = "azuser"
	DefaultClusterSubnetCIDR = "10.224.0.0/16"
	// AKS made Azure CNI in overlay mode the default for Kubernetes 1.30+
	// (Azure/azure-rest-api-specs PR #30845; az CLI since PR #29388, see
	// Azure/azure-cli#29946 and Azure/AKS#4897): what `az aks create`
	// in the guide produces today.
	DefaultNetworkPlugin     = "azure"
	DefaultNetworkPluginMode = "overlay"
	// AKS's own default pod CIDR for overlay and kubenet clusters.
	DefaultPodCIDR = "10.244.0.0/16"
	// AKS's default service CIDR; our subnets must not overlap it.
	aksServiceCIDR = "10.0.0.0/16"
)

// Config is the validated stack configuration.
type Config struct {
	Project string
	Stack   string

	Location     string
	TEE          TEE
	InstanceSize string
	DisableCVM   bool

	// ResourceGroupName names an existing group to use; empty means the
	// stack creates caa-rg-<suffix>.
	ResourceGroupName string
	// ClusterName is the AKS name; empty means caa-<suffix>.
	ClusterName       string
	NodeCount         int
	NodeVMSize        string
	AdminUsername     string
	SSHPublicKey      string
	KubernetesVersion string

	// VNetSubnet is the existing node subnet, or nil to create our VNet.
	VNetSubnet *infra.SubnetID
	// ClusterSubnetCIDR is the node subnet we create (unused with VNetSubnet).
	ClusterSubnetCIDR netip.Prefix
	// PeerPodSubnetCIDR is the pod-VM subnet; invalid (zero) means "the next
	// network of the node subnet's size", resolved once the node subnet is known.
	PeerPodSubnetCIDR netip.Prefix

	NetworkPlugin     string
	NetworkPluginMode string
	PodCIDR           netip.Prefix

	// Tags are the user's tags plus StackTag.
	Tags map[string]string

	// Release is the CAA version with everything derived from it.
	Release caa.Release
	// CAASourceDir and OperatorSourceDir are local checkouts; empty means
	// clone the release's tag.
	CAASourceDir      string
	OperatorSourceDir string
	RBACProxyImage    string

	Sample         bool
	SampleImage    string
	SampleReplicas int

	PeerPodsLimitPerNode int
	InstanceSizes        []string
	EnableSecureBoot     bool
	// PodVMTags are the pod VMs' Azure tags (CAA's TAGS), StackTag included.
	PodVMTags map[string]string
	// Webhook installs the chart's webhook and cert-manager (chart path).
	Webhook bool

	// GrantVMSizeRead gives CAA the custom subscription-scoped role it needs
	// to list VM sizes at start-up.
	GrantVMSizeRead bool
	// Preflight is error, warn or off.
	Preflight string

	// ClusterAuth is local (the guide) or entra (Entra ID only).
	ClusterAuth string
	// ClusterAdminGroups are Entra group display names made cluster admins.
	ClusterAdminGroups []string
	// CAAAuth is workloadIdentity (the guide) or servicePrincipal.
	CAAAuth string
	// CredentialLifetimeHours and CredentialGeneration shape the service
	// principal's password.
	CredentialLifetimeHours int
	CredentialGeneration    int
}

// StackID is "<project>/<stack>", the value of StackTag.
func (c *Config) StackID() string { return c.Project + "/" + c.Stack }

// Getter returns the raw value of a fully qualified key ("caa-azure:tee",
// "azure-native:location") and whether it is set.
type Getter func(key string) (string, bool)

// problems collects every configuration error so the user sees them all at once.
type problems []string

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, qualify(key)+": "+fmt.Sprintf(format, args...))
}

func qualify(key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return Namespace + ":" + key
}

// ConfigError lists every configuration problem found. It is returned
// before anything is registered, so the run changes nothing.
type ConfigError struct {
	Problems []string
	// Deployed says the stack's cluster exists from an earlier run.
	Deployed bool
}

func (e *ConfigError) Error() string {
	outcome := "nothing was created"
	if e.Deployed {
		outcome = "this run changed nothing; what earlier runs created is still there, untouched"
	}
	return "invalid configuration; " + outcome + ":\n  - " + strings.Join(e.Problems, "\n  - ") +
		"\nset a value with `pulumi config set <key> <value>` (every key is in docs/configuration.md)"
}

var (
	locationPattern = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	k8sVersion      = regexp.MustCompile(`^[1-9][0-9]*\.[0-9]+$`)
	// Azure forbids these characters in tag names.
	badTagChars = "<>%&\\?/"
)

// Parse reads every key through get, applies defaults and validates all of
// it. It returns the warnings to show the user, or one *ConfigError naming
// every bad key, its value and what would be valid.
func Parse(project, stackName string, get Getter) (*Config, []string, error) {
	var errs problems
	var warnings []string
	value := func(key string) string {
		v, _ := get(qualify(key))
		return strings.TrimSpace(v)
	}
	orDefault := func(key, def string) string {
		if v := value(key); v != "" {
			return v
		}
		return def
	}

	c := &Config{Project: project, Stack: stackName}

	c.Location = value(LocationKey)
	switch {
	case c.Location == "":
		errs.add(LocationKey, "is not set; set the region with `pulumi config set azure-native:location eastus`")
	case !locationPattern.MatchString(c.Location):
		errs.add(LocationKey, "%q is not an Azure region name; use the lower-case name such as eastus (`az account list-locations -o table`)", c.Location)
	}

	c.TEE = TEE(value(KeyTEE))
	teeValid := true
	switch c.TEE {
	case TEESNP, TEETDX, TEENone:
	case "":
		teeValid = false
		errs.add(KeyTEE, "is not set; use snp (AMD SEV-SNP), tdx (Intel TDX) or none (no TEE, with disableCvm true)")
	default:
		teeValid = false
		errs.add(KeyTEE, "%q is not a known TEE; use snp (AMD SEV-SNP), tdx (Intel TDX) or none (no TEE, with disableCvm true)", string(c.TEE))
	}

	if raw := value(KeyDisableCVM); raw == "" {
		errs.add(KeyDisableCVM, "is not set; use false for a confidential pod VM (snp, tdx) or true for tee none")
	} else if b, err := strconv.ParseBool(raw); err != nil {
		errs.add(KeyDisableCVM, "%q is not a boolean; use true or false", raw)
	} else {
		c.DisableCVM = b
		switch {
		case teeValid && c.TEE == TEENone && !b:
			errs.add(KeyDisableCVM, "is false but tee is none: a confidential VM needs a TEE; set disableCvm true, or tee snp/tdx")
		case teeValid && c.TEE != TEENone && b:
			errs.add(KeyDisableCVM, "is true but tee is %s: the pod VM would not be confidential; set disableCvm false, or tee none", c.TEE)
		}
	}

	c.InstanceSize = value(KeyInstanceSize)
	if c.InstanceSize == "" {
		errs.add(KeyInstanceSize, "is not set; use a pod VM size such as Standard_DC2as_v5 (snp), Standard_DC2es_v6 (tdx) or Standard_D2as_v5 (none)")
	} else if teeValid {
		if w, err := checkInstanceSizeForTEE(c.TEE, c.InstanceSize); err != nil {
			errs.add(KeyInstanceSize, "%v", err)
		} else if w != "" {
			warnings = append(warnings, w)
		}
	} else if err := checkVMSize(c.InstanceSize); err != nil {
		errs.add(KeyInstanceSize, "%v", err)
	}

	c.ResourceGroupName = value(KeyResourceGroupName)
	if c.ResourceGroupName != "" {
		if err := infra.ValidateResourceGroupName(c.ResourceGroupName); err != nil {
			errs.add(KeyResourceGroupName, "%v", err)
		}
	}
	c.ClusterName = value(KeyClusterName)
	if c.ClusterName != "" {
		if err := infra.ValidateClusterName(c.ClusterName); err != nil {
			errs.add(KeyClusterName, "%v", err)
		}
	}

	c.NodeCount = DefaultNodeCount
	if raw := value(KeyNodeCount); raw != "" {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			errs.add(KeyNodeCount, "%q is not a whole number; use 1 or more", raw)
		case n < 1:
			errs.add(KeyNodeCount, "%d is too small; the system node pool needs at least 1 node", n)
		case n > 1000:
			errs.add(KeyNodeCount, "%d is too large; an AKS node pool holds at most 1000 nodes", n)
		default:
			c.NodeCount = n
		}
	}

	c.NodeVMSize = orDefault(KeyNodeVMSize, DefaultNodeVMSize)
	if err := checkVMSize(c.NodeVMSize); err != nil {
		errs.add(KeyNodeVMSize, "%v", err)
	}
	c.AdminUsername = orDefault(KeyAdminUsername, DefaultAdminUsername)
	if err := infra.ValidateAdminUsername(c.AdminUsername); err != nil {
		errs.add(KeyAdminUsername, "%v", err)
	}

	if key, err := parseSSHPublicKey(value(KeySSHPublicKey)); err != nil {
		errs.add(KeySSHPublicKey, "%v", err)
	} else {
		c.SSHPublicKey = key
	}

	c.KubernetesVersion = value(KeyKubernetesVersion)
	if c.KubernetesVersion != "" && !k8sVersion.MatchString(c.KubernetesVersion) {
		errs.add(KeyKubernetesVersion, "%q is not major.minor such as 1.33; leave it empty for the AKS default "+
			"(a patch version makes AKS report drift on every upgrade)", c.KubernetesVersion)
	}

	if raw := value(KeyVNetSubnetID); raw != "" {
		id, err := infra.ParseSubnetID(raw)
		if err != nil {
			errs.add(KeyVNetSubnetID, "%v", err)
		} else {
			c.VNetSubnet = &id
		}
	}

	c.NetworkPlugin = orDefault(KeyNetworkPlugin, DefaultNetworkPlugin)
	c.NetworkPluginMode = value(KeyNetworkPluginMode)
	if _, set := get(qualify(KeyNetworkPluginMode)); !set && c.NetworkPlugin == "azure" {
		c.NetworkPluginMode = DefaultNetworkPluginMode
	}
	switch c.NetworkPlugin {
	case "azure":
		if c.NetworkPluginMode != "" && c.NetworkPluginMode != "overlay" {
			errs.add(KeyNetworkPluginMode, "%q is not valid; use overlay, or empty for Azure CNI with pod IPs from the node subnet", c.NetworkPluginMode)
		}
	case "kubenet":
		if c.NetworkPluginMode != "" {
			errs.add(KeyNetworkPluginMode, "%q is only valid with networkPlugin azure; leave it empty for kubenet", c.NetworkPluginMode)
		}
	default:
		errs.add(KeyNetworkPlugin, "%q is not supported; use azure (the AKS default, with networkPluginMode overlay) or kubenet", c.NetworkPlugin)
	}

	var subnetsOK = true
	parseCIDR := func(key, raw string) netip.Prefix {
		p, err := infra.ParseNetwork(raw)
		if err != nil {
			errs.add(key, "%v", err)
			subnetsOK = false
			return netip.Prefix{}
		}
		if p.Bits() > 29 {
			errs.add(key, "%v is smaller than /29, the smallest subnet Azure allows", p)
			subnetsOK = false
		}
		return p
	}
	if c.VNetSubnet == nil {
		c.ClusterSubnetCIDR = parseCIDR(KeyClusterSubnetCIDR, orDefault(KeyClusterSubnetCIDR, DefaultClusterSubnetCIDR))
	}
	if raw := value(KeyPeerPodSubnetCIDR); raw != "" {
		c.PeerPodSubnetCIDR = parseCIDR(KeyPeerPodSubnetCIDR, raw)
	} else if c.VNetSubnet == nil && c.ClusterSubnetCIDR.IsValid() {
		next, err := infra.NextNetwork(c.ClusterSubnetCIDR)
		if err != nil {
			errs.add(KeyPeerPodSubnetCIDR, "cannot be derived from clusterSubnetCidr: %v; set it explicitly", err)
			subnetsOK = false
		} else {
			c.PeerPodSubnetCIDR = next
		}
	}
	usesPodCIDR := c.NetworkPlugin == "kubenet" || c.NetworkPluginMode == "overlay"
	if usesPodCIDR {
		c.PodCIDR = parseCIDR(KeyPodCIDR, orDefault(KeyPodCIDR, DefaultPodCIDR))
	} else if value(KeyPodCIDR) != "" {
		errs.add(KeyPodCIDR, "is only used by overlay and kubenet clusters; with Azure CNI pods take node-subnet addresses, so leave it empty")
	}
	if subnetsOK {
		service := netip.MustParsePrefix(aksServiceCIDR)
		type named struct {
			key string
			p   netip.Prefix
		}
		subnets := []named{{KeyClusterSubnetCIDR, c.ClusterSubnetCIDR}, {KeyPeerPodSubnetCIDR, c.PeerPodSubnetCIDR}}
		if c.ClusterSubnetCIDR.IsValid() && c.PeerPodSubnetCIDR.IsValid() && infra.Overlaps(c.ClusterSubnetCIDR, c.PeerPodSubnetCIDR) {
			errs.add(KeyPeerPodSubnetCIDR, "%v overlaps clusterSubnetCidr %v; use a separate range such as %v",
				c.PeerPodSubnetCIDR, c.ClusterSubnetCIDR, suggestNext(c.ClusterSubnetCIDR))
		}
		for _, s := range subnets {
			if !s.p.IsValid() {
				continue
			}
			if infra.Overlaps(s.p, service) {
				errs.add(s.key, "%v overlaps the AKS service range %v; choose a range outside it such as 10.224.0.0/16", s.p, service)
			}
			if c.PodCIDR.IsValid() && infra.Overlaps(s.p, c.PodCIDR) {
				errs.add(s.key, "%v overlaps podCidr %v; pod and VNet ranges must be separate", s.p, c.PodCIDR)
			}
		}
		if c.PodCIDR.IsValid() && infra.Overlaps(c.PodCIDR, service) {
			errs.add(KeyPodCIDR, "%v overlaps the AKS service range %v; use a range such as 10.244.0.0/16", c.PodCIDR, service)
		}
	}

	c.Tags = parseTags(KeyTags, value(KeyTags), c.StackID(), &errs, func(k, v string) string {
		switch {
		case len(k) > 512 || strings.ContainsAny(k, badTagChars):
			return fmt.Sprintf("tag name %q is not allowed; Azure needs 1-512 characters without any of %s", k, badTagChars)
		case len(v) > 256:
			return fmt.Sprintf("tag %q has a %d-character value; Azure allows at most 256", k, len(v))
		}
		return ""
	})
	if len(c.Tags) > 50 {
		errs.add(KeyTags, "has %d tags with %s; Azure allows 50 per resource", len(c.Tags), StackTag)
	}

	parseCAA(c, value, orDefault, &errs)
	parseIdentity(c, value, orDefault, &errs)
	c.GrantVMSizeRead = parseBool(KeyGrantVMSizeRead, value(KeyGrantVMSizeRead), true, &errs,
		"true creates a custom role with only "+infra.VMSizeReadAction+"; false skips it if you cannot create role definitions")
	switch c.Preflight = orDefault(KeyPreflight, PreflightError); c.Preflight {
	case PreflightError, PreflightWarn, PreflightOff:
	default:
		errs.add(KeyPreflight, "%q is not a mode; use error (problems stop the run), warn or off", c.Preflight)
	}
	for key, why := range RemovedKeys {
		if _, set := get(qualify(key)); set {
			errs.add(key, "was removed: %s; remove it with `pulumi config rm %s`", why, qualify(key))
		}
	}

	if len(errs) > 0 {
		return nil, warnings, &ConfigError{Problems: errs}
	}
	return c, warnings, nil
}

func suggestNext(p netip.Prefix) string {
	if n, err := infra.NextNetwork(p); err == nil {
		return n.String()
	}
	return "another private range"
}

const sshKeyHelp = "set it with `pulumi config set caa-azure:sshPublicKey \"$(cat ~/.ssh/id_rsa.pub)\"` " +
	"(create one with `ssh-keygen -t rsa -b 4096` if needed)"

// parseSSHPublicKey accepts one OpenSSH RSA public key of at least 2048
// bits: AKS rejects other key types for linuxProfile (Azure/AKS#4431).
func parseSSHPublicKey(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("is required for the worker nodes and pod VMs; %s", sshKeyHelp)
	}
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(raw))
	if err != nil {
		return "", fmt.Errorf("is not an OpenSSH public key (%v); %s", err, sshKeyHelp)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", fmt.Errorf("holds more than one key; AKS takes exactly one")
	}
	if key.Type() != ssh.KeyAlgoRSA {
		return "", fmt.Errorf("is a %s key; AKS accepts only ssh-rsa keys (Azure/AKS#4431); %s", key.Type(), sshKeyHelp)
	}
	if ck, ok := key.(ssh.CryptoPublicKey); ok {
		if rk, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rk.Size()*8 < 2048 {
			return "", fmt.Errorf("is a %d-bit RSA key; Azure needs at least 2048 bits; %s", rk.Size()*8, sshKeyHelp)
		}
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), nil
}

// parseTags reads a JSON map of tag names to strings (how `pulumi config set
// --path` stores it), adds StackTag and rejects overriding it; check returns
// the problem with one tag, or "".
func parseTags(key, raw, stackID string, errs *problems, check func(name, value string) string) map[string]string {
	tags := map[string]string{StackTag: stackID}
	if raw == "" {
		return tags
	}
	var parsed map[string]any
	if err := json.Unmarshal([]byte(raw), &parsed); err != nil {
		errs.add(key, "is not a map of tag names to strings; set one with `pulumi config set --path '%s.owner' alice`", qualify(key))
		return tags
	}
	names := make([]string, 0, len(parsed))
	for k := range parsed {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, ok := parsed[k].(string)
		switch {
		case !ok:
			errs.add(key, "tag %q has a %T value; tag values are strings", k, parsed[k])
		case k == StackTag:
			errs.add(key, "tag %q is set by the program itself to %q; remove it", k, stackID)
		case k == "":
			errs.add(key, "has a tag with an empty name")
		default:
			if problem := check(k, v); problem != "" {
				errs.add(key, "%s", problem)
				continue
			}
			tags[k] = v
		}
	}
	return tags
}

// parseBool reads an optional boolean key.
func parseBool(key, raw string, def bool, errs *problems, meaning string) bool {
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		errs.add(key, "%q is not a boolean; use true or false (%s)", raw, meaning)
		return def
	}
	return b
}
