// Package stack loads and validates the stack configuration and composes
// the components into the whole caa-azure deployment. It is the only
// package that reads Pulumi configuration.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"caa-azure/caa/upstream"
	"caa-azure/infra"
	"caa-azure/infra/azname"
	"caa-azure/infra/cidr"
)

// namespace is the Pulumi project name and so the namespace of every key.
const namespace = "caa-azure"

// locationKey is the provider's region key; it is the only key outside namespace.
const locationKey = "azure-native:location"

// StackTag is the Azure tag that every resource of the stack carries, so a
// user (and the pod-VM safety net) can find what one stack created.
const StackTag = "caa-azure-stack"

// The keys of the caa-azure namespace.
const (
	keyTEE               = "tee"
	keyInstanceSize      = "instanceSize"
	keyDisableCVM        = "disableCvm"
	keyResourceGroupName = "resourceGroupName"
	keyClusterName       = "clusterName"
	keyNodeCount         = "nodeCount"
	keyNodeVMSize        = "nodeVmSize"
	keyAdminUsername     = "adminUsername"
	keySSHPublicKey      = "sshPublicKey"
	keyKubernetesVersion = "kubernetesVersion"
	keyVNetSubnetID      = "vnetSubnetId"
	keyClusterSubnetCIDR = "clusterSubnetCidr"
	keyPeerPodSubnetCIDR = "peerpodSubnetCidr"
	keyPeerPodSubnetName = "peerpodSubnetName"
	keyNetworkPlugin     = "networkPlugin"
	keyNetworkPluginMode = "networkPluginMode"
	keyPodCIDR           = "podCidr"
	keyTags              = "tags"

	keyCAAVersion           = "caaVersion"
	keyOperatorVersion      = "operatorVersion"
	keyCAAImage             = "caaImage"
	keyCAATag               = "caaTag"
	keyPodVMImageID         = "podVmImageId"
	keyCAASourceDir         = "caaSourceDir"
	keyOperatorSourceDir    = "operatorSourceDir"
	keyRBACProxyImage       = "rbacProxyImage"
	keySample               = "sample"
	keySampleImage          = "sampleImage"
	keySampleReplicas       = "sampleReplicas"
	keyPeerPodsLimitPerNode = "peerpodsLimitPerNode"
	keyInstanceSizes        = "instanceSizes"
	keyEnableSecureBoot     = "enableSecureBoot"
	keyPodVMTags            = "podVmTags"
	keyGrantVMSizeRead      = "grantVmSizeRead"
	keyPreflight            = "preflight"

	keyClusterAuth          = "clusterAuth"
	keyClusterAdminGroups   = "clusterAdminGroups"
	keyClusterAdmins        = "clusterAdmins"
	keyCAAAuth              = "caaAuth"
	keyCredentialLifetime   = "credentialLifetime"
	keyCredentialGeneration = "credentialGeneration"
	keyChartVersion         = "chartVersion"
	keyWebhook              = "webhook"
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
	VNetSubnet *azname.SubnetID
	// ClusterSubnetCIDR is the node subnet we create (unused with VNetSubnet).
	ClusterSubnetCIDR netip.Prefix
	// PeerPodSubnetCIDR is the pod-VM subnet; invalid (zero) means "the next
	// network of the node subnet's size", resolved once the node subnet is known.
	PeerPodSubnetCIDR netip.Prefix
	// PeerPodSubnetName keeps the name of a peer-pod subnet an earlier
	// version created in the user's VNet; empty means the stack's own
	// (see stackIdentity.peerPodSubnetName).
	PeerPodSubnetName string

	NetworkPlugin     string
	NetworkPluginMode string
	PodCIDR           netip.Prefix

	// Tags are the user's tags; the program adds StackTag.
	Tags map[string]string

	// Release is the CAA version with everything derived from it.
	Release upstream.Release
	// PodVMImage is Release.PodVMImageID, parsed: a user's image needs
	// CAA's read on it.
	PodVMImage azname.ImageID
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
	// PodVMTags are the user's pod VM tags (CAA's TAGS); the program adds StackTag.
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
	// ClusterAdmins are users and service principals made cluster admins,
	// by object id.
	ClusterAdmins []ClusterAdmin
	// CAAAuth is workloadIdentity (the guide) or servicePrincipal.
	CAAAuth string
	// CredentialLifetimeHours and CredentialGeneration shape the service
	// principal's password.
	CredentialLifetimeHours int
	CredentialGeneration    int

	// Attestation deploys trustee's KBS and the attested sample.
	Attestation bool
	// TrusteeSourceDir is a local trustee checkout; empty means clone Trustee.Ref.
	TrusteeSourceDir string
	// KBSAddress is the KBS load balancer's address; invalid (zero) means
	// the node subnet's last assignable address, resolved with the subnet.
	KBSAddress netip.Addr
}

// StackID is "<project>/<stack>", how people name the stack; the stack tag
// adds the stack's random suffix (StackTagValue).
func (c *Config) StackID() string { return c.Project + "/" + c.Stack }

// ConfigError lists every configuration problem found. It is returned
// before anything is registered, so the run changes nothing.
type ConfigError struct {
	Problems []string
	// Deployed says the stack's cluster exists from an earlier run.
	Deployed bool
	// FromAzure says the problems are what preflight found in Azure
	// (quota, sizes, rights, the image), not values to correct.
	FromAzure bool
}

func (e *ConfigError) Error() string {
	// Worded so it is true whether or not the stack was deployed before:
	// a Parse error cannot know, and "nothing was created" would be false
	// for a stack that runs.
	outcome := "this run changed nothing"
	if e.Deployed {
		outcome += "; what earlier runs created is still there, untouched"
	}
	if e.FromAzure {
		return "Azure cannot take this stack as configured (preflight checks); " + outcome + ":\n  - " +
			strings.Join(e.Problems, "\n  - ") + "\nrequest the quota (portal: Subscriptions → Usage + quotas) or the role at the " +
			"scope each line names, or change the setting it names; set caa-azure:preflight warn to deploy anyway " +
			"(docs/operations.md, Preflight checks)"
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
	r := &reader{get: get}
	c := &Config{Project: project, Stack: stackName}
	var warnings []string

	c.Location = r.str(locationKey)
	switch {
	case c.Location == "":
		r.fail(locationKey, "is not set; set the region with `pulumi config set azure-native:location eastus`")
	case !locationPattern.MatchString(c.Location):
		r.fail(locationKey, "%q is not an Azure region name; use the lower-case name such as eastus (`az account list-locations -o table`)", c.Location)
	}
	warnings = append(warnings, parseTEE(c, r)...)
	parseCluster(c, r)
	parseNetwork(c, r)
	c.Tags = parseTags(r, keyTags, func(string, string) string { return "" })
	warnings = append(warnings, parseCAA(c, r)...)
	parseIdentity(c, r)
	warnings = append(warnings, parseAttestation(c, r)...)
	if c.VNetSubnet == nil { // a user's node subnet is checked once it is read
		checkCapacity(c, c.ClusterSubnetCIDR, c.PeerPodSubnetCIDR, keyClusterSubnetCIDR, r.fail)
	}
	c.GrantVMSizeRead = r.boolean(keyGrantVMSizeRead, true,
		"true creates a custom role with only "+infra.VMSizeReadAction+"; false skips it if you cannot create role definitions")
	c.Preflight = r.oneOf(keyPreflight, PreflightError, []string{PreflightError, PreflightWarn, PreflightOff},
		"use error (problems stop the run), warn or off")
	for key, why := range RemovedKeys {
		if r.isSet(key) {
			r.fail(key, "was removed: %s; remove it with `pulumi config rm %s`", why, qualify(key))
		}
	}
	if err := r.err(); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

// parseTEE reads the TEE, DISABLECVM and the pod VM size, which must agree.
func parseTEE(c *Config, r *reader) (warnings []string) {
	c.TEE = TEE(r.str(keyTEE))
	teeValid := true
	switch c.TEE {
	case TEESNP, TEETDX, TEENone:
	case "":
		teeValid = false
		r.fail(keyTEE, "is not set; use snp (AMD SEV-SNP), tdx (Intel TDX) or none (no TEE, with disableCvm true)")
	default:
		teeValid = false
		r.fail(keyTEE, "%q is not a known TEE; use snp (AMD SEV-SNP), tdx (Intel TDX) or none (no TEE, with disableCvm true)", string(c.TEE))
	}

	if raw := r.str(keyDisableCVM); raw == "" {
		r.fail(keyDisableCVM, "is not set; use false for a confidential pod VM (snp, tdx) or true for tee none")
	} else if b, err := strconv.ParseBool(raw); err != nil {
		r.fail(keyDisableCVM, "%q is not a boolean; use true or false", raw)
	} else {
		c.DisableCVM = b
		switch {
		case teeValid && c.TEE == TEENone && !b:
			r.fail(keyDisableCVM, "is false but tee is none: a confidential VM needs a TEE; set disableCvm true, or tee snp/tdx")
		case teeValid && c.TEE != TEENone && b:
			r.fail(keyDisableCVM, "is true but tee is %s: the pod VM would not be confidential; set disableCvm false, or tee none", c.TEE)
		}
	}

	c.InstanceSize = r.str(keyInstanceSize)
	switch {
	case c.InstanceSize == "":
		r.fail(keyInstanceSize, "is not set; use a pod VM size such as Standard_DC2as_v5 (snp), Standard_DC2es_v6 (tdx) or Standard_D2as_v5 (none)")
	case teeValid:
		if w, err := checkInstanceSizeForTEE(c.TEE, c.InstanceSize); err != nil {
			r.fail(keyInstanceSize, "%v", err)
		} else if w != "" {
			warnings = append(warnings, w)
		}
	default:
		if err := checkVMSize(c.InstanceSize); err != nil {
			r.fail(keyInstanceSize, "%v", err)
		}
	}
	return warnings
}

// parseCluster reads the names, the node pool and its access.
func parseCluster(c *Config, r *reader) {
	if c.ResourceGroupName = r.str(keyResourceGroupName); c.ResourceGroupName != "" {
		if err := azname.ValidateResourceGroupName(c.ResourceGroupName); err != nil {
			r.fail(keyResourceGroupName, "%v", err)
		}
	}
	if c.ClusterName = r.str(keyClusterName); c.ClusterName != "" {
		if err := azname.ValidateClusterName(c.ClusterName); err != nil {
			r.fail(keyClusterName, "%v", err)
		}
	}
	c.NodeCount = r.integer(keyNodeCount, DefaultNodeCount, "use 1 to 1000 (an AKS node pool holds at most 1000 nodes)", func(n int) string {
		if n < 1 {
			return "is too small: the system node pool needs at least 1 node"
		}
		if n > 1000 {
			return "is too large"
		}
		return ""
	})
	c.NodeVMSize = r.strOr(keyNodeVMSize, DefaultNodeVMSize)
	if err := checkVMSize(c.NodeVMSize); err != nil {
		r.fail(keyNodeVMSize, "%v", err)
	}
	c.AdminUsername = r.strOr(keyAdminUsername, DefaultAdminUsername)
	if err := azname.ValidateAdminUsername(c.AdminUsername); err != nil {
		r.fail(keyAdminUsername, "%v", err)
	}
	if key, err := parseSSHPublicKey(r.str(keySSHPublicKey)); err != nil {
		r.fail(keySSHPublicKey, "%v", err)
	} else {
		c.SSHPublicKey = key
	}
	c.KubernetesVersion = r.str(keyKubernetesVersion)
	if c.KubernetesVersion != "" && !k8sVersion.MatchString(c.KubernetesVersion) {
		r.fail(keyKubernetesVersion, "%q is not major.minor such as 1.33; leave it empty for the AKS default "+
			"(a patch version makes AKS report drift on every upgrade)", c.KubernetesVersion)
	}
}

// parseNetwork reads the network plugin and the address ranges, and checks
// that no two ranges overlap.
func parseNetwork(c *Config, r *reader) {
	if raw := r.str(keyVNetSubnetID); raw != "" {
		if id, err := azname.ParseSubnetID(raw); err != nil {
			r.fail(keyVNetSubnetID, "%v", err)
		} else {
			c.VNetSubnet = &id
		}
	}
	if c.PeerPodSubnetName = r.str(keyPeerPodSubnetName); c.PeerPodSubnetName != "" {
		if err := azname.ValidateSubnetName(c.PeerPodSubnetName); err != nil {
			r.fail(keyPeerPodSubnetName, "%v", err)
		}
	}
	c.NetworkPlugin = r.strOr(keyNetworkPlugin, DefaultNetworkPlugin)
	c.NetworkPluginMode = r.str(keyNetworkPluginMode)
	if !r.isSet(keyNetworkPluginMode) && c.NetworkPlugin == "azure" {
		c.NetworkPluginMode = DefaultNetworkPluginMode
	}
	switch c.NetworkPlugin {
	case "azure":
		if c.NetworkPluginMode != "" && c.NetworkPluginMode != "overlay" {
			r.fail(keyNetworkPluginMode, "%q is not valid; use overlay, or empty for Azure CNI with pod IPs from the node subnet", c.NetworkPluginMode)
		}
	case "kubenet":
		if c.NetworkPluginMode != "" {
			r.fail(keyNetworkPluginMode, "%q is only valid with networkPlugin azure; leave it empty for kubenet", c.NetworkPluginMode)
		}
	default:
		r.fail(keyNetworkPlugin, "%q is not supported; use azure (the AKS default, with networkPluginMode overlay) or kubenet", c.NetworkPlugin)
	}

	rangesOK := true
	parseCIDR := func(key, raw string) netip.Prefix {
		p, err := cidr.ParseNetwork(raw)
		if err != nil {
			r.fail(key, "%v", err)
			rangesOK = false
			return netip.Prefix{}
		}
		if p.Bits() > 29 {
			r.fail(key, "%v is smaller than /29, the smallest subnet Azure allows", p)
			rangesOK = false
		}
		return p
	}
	if c.VNetSubnet == nil {
		c.ClusterSubnetCIDR = parseCIDR(keyClusterSubnetCIDR, r.strOr(keyClusterSubnetCIDR, DefaultClusterSubnetCIDR))
	}
	if raw := r.str(keyPeerPodSubnetCIDR); raw != "" {
		c.PeerPodSubnetCIDR = parseCIDR(keyPeerPodSubnetCIDR, raw)
	} else if c.VNetSubnet == nil && c.ClusterSubnetCIDR.IsValid() {
		next, err := cidr.NextPrivateNetwork(c.ClusterSubnetCIDR)
		switch {
		case errors.Is(err, cidr.ErrNextIsPublic):
			r.fail(keyPeerPodSubnetCIDR, "%v (clusterSubnetCidr); set peerpodSubnetCidr to a private range (RFC 1918 or RFC 6598) "+
				"such as 10.225.0.0/16", err)
			rangesOK = false
		case err != nil:
			r.fail(keyPeerPodSubnetCIDR, "cannot be derived from clusterSubnetCidr: %v; set it explicitly", err)
			rangesOK = false
		default:
			c.PeerPodSubnetCIDR = next
		}
	}
	if c.NetworkPlugin == "kubenet" || c.NetworkPluginMode == "overlay" {
		c.PodCIDR = parseCIDR(keyPodCIDR, r.strOr(keyPodCIDR, DefaultPodCIDR))
	} else if r.str(keyPodCIDR) != "" {
		r.fail(keyPodCIDR, "is only used by overlay and kubenet clusters; with Azure CNI pods take node-subnet addresses, so leave it empty")
	}
	if !rangesOK {
		return
	}
	// Each range is checked against the ones before it, so a clash is
	// reported once, on the range the user is likelier to change.
	var ranges []cidr.Range
	for _, rg := range []struct {
		key string
		p   netip.Prefix
	}{{"the AKS service range", cidr.AKSServiceCIDR}, {keyPodCIDR, c.PodCIDR},
		{keyClusterSubnetCIDR, c.ClusterSubnetCIDR}, {keyPeerPodSubnetCIDR, c.PeerPodSubnetCIDR}} {
		if !rg.p.IsValid() {
			continue
		}
		if clash, ok := cidr.FirstOverlap(rg.p, ranges); ok {
			r.fail(rg.key, "%v overlaps %s %v; %s", rg.p, clash.Name, clash.Prefix, rangeAdvice(rg.key, c))
		}
		ranges = append(ranges, cidr.Range{Name: rg.key, Prefix: rg.p})
	}
}

// rangeAdvice says which range to pick instead.
func rangeAdvice(key string, c *Config) string {
	switch key {
	case keyPeerPodSubnetCIDR:
		return "use a separate range such as " + suggestNext(c.ClusterSubnetCIDR)
	case keyPodCIDR:
		return "use a range such as 10.244.0.0/16; pod and VNet ranges must be separate"
	}
	return "choose a range outside it such as 10.224.0.0/16; pod, service and VNet ranges must be separate"
}

func suggestNext(p netip.Prefix) string {
	if n, err := cidr.NextNetwork(p); err == nil {
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
// --path` stores it), leaving room for StackTag and refusing to override it;
// check returns the problem with one tag, or "".
func parseTags(r *reader, key string, check func(name, value string) string) map[string]string {
	tags := map[string]string{}
	raw := r.str(key)
	if raw == "" {
		return tags
	}
	var parsed map[string]any
	if err := json.Unmarshal([]byte(raw), &parsed); err != nil {
		r.fail(key, "is not a map of tag names to strings; set one with `pulumi config set --path '%s.owner' alice`", qualify(key))
		return tags
	}
	names := make([]string, 0, len(parsed))
	for k := range parsed {
		names = append(names, k)
	}
	sort.Strings(names)
	// Azure compares tag names without case: Owner and owner are one tag,
	// and one of the two values would be lost (or the request refused).
	seen := map[string]string{strings.ToLower(StackTag): StackTag}
	for _, k := range names {
		v, ok := parsed[k].(string)
		switch {
		case !ok:
			r.fail(key, "tag %q has a %T value; tag values are strings", k, parsed[k])
		case strings.EqualFold(k, StackTag):
			r.fail(key, "tag %q is set by the program itself (to <project>/<stack>/<suffix>); remove it", k)
		case k == "":
			r.fail(key, "has a tag with an empty name")
		case seen[strings.ToLower(k)] != "":
			r.fail(key, "tags %q and %q are one tag to Azure, which ignores case in tag names; keep one of them", seen[strings.ToLower(k)], k)
		default:
			seen[strings.ToLower(k)] = k
			if problem := azureTagProblem(k, v); problem != "" {
				r.fail(key, "%s", problem)
				continue
			}
			if problem := check(k, v); problem != "" {
				r.fail(key, "%s", problem)
				continue
			}
			tags[k] = v
		}
	}
	if len(parsed) >= maxTags {
		r.fail(key, "has %d tags; with the program's own tag %s that makes %d, but Azure allows %d on a resource, so set at most %d",
			len(parsed), StackTag, len(parsed)+1, maxTags, maxTags-1)
	}
	return tags
}

// Azure's tag limits ("Tag resources, resource groups, and subscriptions",
// Microsoft Learn): 50 tags a resource, names of at most 512 characters
// (128 on storage accounts, which this program neither creates nor tags),
// values of at most 256.
const (
	maxTags        = 50
	maxTagNameLen  = 512
	maxTagValueLen = 256
)

// azureTagProblem is what Azure would refuse about one tag, or "".
func azureTagProblem(name, value string) string {
	switch {
	case utf8.RuneCountInString(name) > maxTagNameLen || strings.ContainsAny(name, badTagChars):
		return fmt.Sprintf("tag name %q is not allowed; Azure needs 1-%d characters without any of %s", name, maxTagNameLen, badTagChars)
	case utf8.RuneCountInString(value) > maxTagValueLen:
		return fmt.Sprintf("tag %q has a %d-character value; Azure allows at most %d", name, utf8.RuneCountInString(value), maxTagValueLen)
	}
	return ""
}
