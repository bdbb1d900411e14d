package stack

import (
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa"
	"caa-azure/infra"
	"caa-azure/infra/azauth"
	"caa-azure/workload"
)

// providerSetting reads the azure-native provider's settings as the
// provider does: its config keys, then the environment.
func providerSetting(ctx *pulumi.Context) azauth.Lookup {
	return func(name string) (string, bool) {
		if strings.HasPrefix(name, "azure-native:") {
			return ctx.GetConfig(name)
		}
		return os.LookupEnv(name)
	}
}

// LoadConfig reads the stack's configuration from the Pulumi context.
func LoadConfig(ctx *pulumi.Context) (*Config, []string, error) {
	return Parse(ctx.Project(), ctx.Stack(), func(key string) (string, bool) {
		return ctx.GetConfig(key)
	})
}

// Deployment is everything Deploy composed.
type Deployment struct {
	Config   *Config
	Cluster  *infra.Cluster
	Network  *infra.PeerPodNetwork
	Identity *infra.WorkloadIdentity
	CAA      *caa.CAARelease
	// Sample is nil when the sample is disabled.
	Sample *workload.NginxSample
}

// Deploy is the whole stack: it validates the configuration, resolves the
// user's existing resources and renders the upstream manifests, then
// composes the components and exports the outputs. Nothing is registered
// unless every check passes.
func Deploy(ctx *pulumi.Context) error {
	_, err := DeployWith(ctx, Options{Sources: defaultSourceCache(), Preflight: azurePreflight})
	return err
}

// MinimumPulumiVersion is the oldest Pulumi CLI the program runs on: the
// first with the RequirePulumiVersion call (pulumi/pulumi#21429) and
// `requiredPulumiVersion` in Pulumi.yaml (3.219.0); it also has
// `deletedWith`, on which teardown relies.
const MinimumPulumiVersion = ">=3.219.0"

// Options are the outside world Deploy talks to, replaceable in tests.
type Options struct {
	// Sources caches upstream clones; nil allows only local checkouts.
	Sources *caa.SourceCache
	// Preflight opens the Azure API for the preflight checks; nil skips them.
	Preflight PreflightFactory
	// LookPath finds programs the deployment runs (kubelogin); nil means exec.LookPath.
	LookPath func(string) (string, error)
}

// DeployWith is Deploy with explicit Options.
func DeployWith(ctx *pulumi.Context, opts Options) (*Deployment, error) {
	if err := ctx.RequirePulumiVersion(MinimumPulumiVersion); err != nil {
		return nil, fmt.Errorf("caa-azure needs Pulumi CLI %s (`pulumi version`; upgrade with `pulumi upgrade` or your package manager): %w",
			MinimumPulumiVersion, err)
	}
	cfg, warnings, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return nil, err
		}
	}

	client, err := authorization.GetClientConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the Azure subscription of the deploying identity (run `az login`): %w", err)
	}
	// The subscription the provider deploys to; the program's own Azure
	// calls (preflight) use the same one.
	subscriptionID, _ := azauth.Subscription(providerSetting(ctx), client.SubscriptionId)

	var existingGroup *infra.ExistingResourceGroup
	if cfg.ResourceGroupName != "" {
		if existingGroup, err = lookupResourceGroup(ctx, cfg.ResourceGroupName); err != nil {
			return nil, err
		}
	}
	var existingSubnet *infra.ExistingSubnet
	peerPodCIDR := cfg.PeerPodSubnetCIDR
	if cfg.VNetSubnet != nil {
		vnet, err := lookupVNet(ctx, *cfg.VNetSubnet)
		if err != nil {
			return nil, err
		}
		if peerPodCIDR, err = placePeerPodSubnet(cfg, subscriptionID, vnet); err != nil {
			return nil, err
		}
		existingSubnet = &infra.ExistingSubnet{ID: *cfg.VNetSubnet}
	}
	var manifests *caa.Manifests
	if cfg.Release.InstallMethod == caa.InstallOperator {
		if manifests, err = renderManifests(ctx.Context(), cfg, opts.Sources); err != nil {
			return nil, err
		}
	}
	entra, err := entraAccess(ctx, cfg, opts.LookPath)
	if err != nil {
		return nil, err
	}
	if err := runPreflight(ctx, cfg, subscriptionID, providerSetting(ctx), opts.Preflight); err != nil {
		return nil, err
	}

	resourceGroupName, clusterName, err := names(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tags := pulumi.ToStringMap(cfg.Tags)
	location := pulumi.String(cfg.Location)

	// AKS needs the node subnet, and the network grants rights on it to the
	// cluster's identity: the subnet id is fed back once the network exists.
	nodeSubnetID, resolveNodeSubnetID := pulumi.DeferredOutput[string](ctx.Context())
	var kubernetesVersion pulumi.StringPtrInput
	if cfg.KubernetesVersion != "" {
		kubernetesVersion = pulumi.String(cfg.KubernetesVersion)
	}
	var pluginMode, podCIDR pulumi.StringPtrInput
	if cfg.NetworkPluginMode != "" {
		pluginMode = pulumi.String(cfg.NetworkPluginMode)
	}
	if cfg.PodCIDR.IsValid() {
		podCIDR = pulumi.String(cfg.PodCIDR.String())
	}
	cluster, err := infra.NewCluster(ctx, "cluster", &infra.ClusterArgs{
		ExistingResourceGroup: existingGroup,
		ResourceGroupName:     resourceGroupName,
		Location:              location,
		ClusterName:           clusterName,
		KubernetesVersion:     kubernetesVersion,
		NodeCount:             pulumi.Int(cfg.NodeCount),
		NodeVMSize:            pulumi.String(cfg.NodeVMSize),
		AdminUsername:         pulumi.String(cfg.AdminUsername),
		SSHPublicKey:          pulumi.String(cfg.SSHPublicKey),
		NodeSubnetID:          pulumi.StringOutput(nodeSubnetID),
		NetworkPlugin:         pulumi.String(cfg.NetworkPlugin),
		NetworkPluginMode:     pluginMode,
		PodCIDR:               podCIDR,
		Tags:                  tags,
		Entra:                 entra,
	})
	if err != nil {
		return nil, err
	}

	networkArgs := &infra.PeerPodNetworkArgs{
		ResourceGroupName:  cluster.ResourceGroupName,
		Location:           location,
		ClusterName:        clusterName,
		ExistingNodeSubnet: existingSubnet,
		PeerPodSubnetName:  pulumi.String(infra.PeerPodSubnetName(cfg.Stack)),
		PeerPodSubnetCIDR:  pulumi.String(peerPodCIDR.String()),
		ClusterPrincipalID: cluster.ControlPlanePrincipalID,
		SubscriptionID:     pulumi.String(subscriptionID),
		Tags:               tags,
	}
	if existingSubnet == nil {
		networkArgs.NodeSubnetCIDR = pulumi.String(cfg.ClusterSubnetCIDR.String())
	}
	net, err := infra.NewPeerPodNetwork(ctx, "network", networkArgs)
	if err != nil {
		return nil, err
	}
	resolveNodeSubnetID(net.NodeSubnetID)

	identity, err := infra.NewWorkloadIdentity(ctx, "caa-identity", &infra.WorkloadIdentityArgs{
		ResourceGroupName:    cluster.ResourceGroupName,
		Location:             location,
		IdentityName:         clusterName.ApplyT(infra.CAAIdentityName).(pulumi.StringOutput),
		PodVMResourceGroupID: net.PodVMResourceGroupID,
		PeerPodSubnetID:      net.PeerPodSubnetID,
		SubscriptionID:       pulumi.String(subscriptionID),
		OIDCIssuerURL:        cluster.OIDCIssuerURL,
		Subject:              pulumi.String(caa.ServiceAccountSubject()),
		Tags:                 tags,
		MoreSubjects:         peerPodCtrlSubjects(cfg),
		GrantVMSizeRead:      cfg.GrantVMSizeRead,
		ServicePrincipal:     servicePrincipalMode(cfg),
		VMSizeRoleName: cluster.ResourceGroupName.ApplyT(func(rg string) string {
			return VMSizeRoleName(subscriptionID, rg)
		}).(pulumi.StringOutput),
	})
	if err != nil {
		return nil, err
	}

	// CAA must outlive everything it uses to create and delete pod VMs, and
	// be deleted (not skipped) before the pod VM group, so no CAA is left
	// to create a VM in a group being deleted.
	azureDeps := append(identity.Dependencies(), net.PeerPodSubnet, net.NatGateway, net.PodVMResourceGroup)
	k8s := pulumi.Providers(cluster.Provider)
	settings := caa.PeerPodsSettings{
		SubscriptionID:       subscriptionID,
		Region:               cfg.Location,
		InstanceSize:         cfg.InstanceSize,
		ResourceGroup:        net.PodVMResourceGroupName,
		SubnetID:             net.PeerPodSubnetID,
		ImageID:              cfg.Release.PodVMImageID,
		DisableCVM:           cfg.DisableCVM,
		PeerPodsLimitPerNode: cfg.PeerPodsLimitPerNode,
		InstanceSizes:        cfg.InstanceSizes,
		EnableSecureBoot:     cfg.EnableSecureBoot,
		Tags:                 cfg.PodVMTags,
	}
	releaseArgs := &caa.CAAReleaseArgs{AzureDependencies: azureDeps, Cluster: cluster.ManagedCluster}
	if manifests != nil {
		releaseArgs.Manifests = manifests
		releaseArgs.PeerPodsConfig = settings.ConfigMapData()
		releaseArgs.SSHPublicKey = pulumi.String(cfg.SSHPublicKey)
	} else {
		releaseArgs.Chart = chartInstall(cfg, settings, identity.ClientID)
	}
	if cfg.CAAAuth == CAAAuthServicePrincipal {
		releaseArgs.Credentials = pulumi.ToSecret(pulumi.StringMap{
			"AZURE_CLIENT_ID":     identity.ClientID,
			"AZURE_CLIENT_SECRET": identity.ClientSecret,
			"AZURE_TENANT_ID":     pulumi.String(client.TenantId),
		}).(pulumi.StringMapOutput)
	} else {
		releaseArgs.ClientID = identity.ClientID
	}
	release, err := caa.NewCAARelease(ctx, "caa", releaseArgs, k8s)
	if err != nil {
		return nil, err
	}
	var sample *workload.NginxSample
	if cfg.Sample {
		sample, err = workload.NewNginxSample(ctx, "nginx", &workload.NginxSampleArgs{
			Image:            pulumi.String(cfg.SampleImage),
			Replicas:         pulumi.Int(cfg.SampleReplicas),
			RuntimeClassName: release.RuntimeClass,
			DependsOn:        append(release.Dependencies(), azureDeps...),
			// The sample's pod VM goes with the pod VM group; destroy never
			// waits on a pod that cannot terminate.
			DeletedWith: cluster.ManagedCluster,
		}, k8s)
		if err != nil {
			return nil, err
		}
	}

	ctx.Export("resourceGroupName", cluster.ResourceGroupName)
	ctx.Export("clusterName", cluster.ClusterName)
	ctx.Export("nodeResourceGroup", cluster.NodeResourceGroup)
	ctx.Export("oidcIssuerUrl", cluster.OIDCIssuerURL)
	ctx.Export("kubeconfig", cluster.Kubeconfig)
	ctx.Export("identityClientId", identity.ClientID)
	ctx.Export("peerpodSubnetId", net.PeerPodSubnetID)
	ctx.Export("peerpodSubnetCidr", net.PeerPodSubnetCIDR)
	ctx.Export("podVmResourceGroupName", net.PodVMResourceGroupName)
	ctx.Export("podVmListCommand", net.PodVMResourceGroupName.ApplyT(PodVMListCommand).(pulumi.StringOutput))

	return &Deployment{Config: cfg, Cluster: cluster, Network: net, Identity: identity, CAA: release, Sample: sample}, nil
}

// VMSizeRoleName names the custom role; role names are unique in a tenant,
// so it carries the subscription and resource group.
func VMSizeRoleName(subscriptionID, resourceGroup string) string {
	return fmt.Sprintf("caa-azure VM size reader (%s/%s)", subscriptionID, resourceGroup)
}

// PodVMListCommand is the guide's command to see the pod VMs CAA created.
func PodVMListCommand(resourceGroup string) string {
	return fmt.Sprintf("az vm list --resource-group %s --output table", resourceGroup)
}

// names returns the resource group and cluster names: the configured ones,
// or ones built from a random suffix that Pulumi keeps in state, so they
// stay the same on every run.
func names(ctx *pulumi.Context, cfg *Config) (resourceGroup, cluster pulumi.StringOutput, err error) {
	if cfg.ResourceGroupName != "" && cfg.ClusterName != "" {
		return pulumi.String(cfg.ResourceGroupName).ToStringOutput(), pulumi.String(cfg.ClusterName).ToStringOutput(), nil
	}
	suffix, err := random.NewRandomString(ctx, "name-suffix", &random.RandomStringArgs{
		Length:  pulumi.Int(infra.SuffixLength),
		Special: pulumi.Bool(false),
		Upper:   pulumi.Bool(false),
		Lower:   pulumi.Bool(true),
		Numeric: pulumi.Bool(true),
	})
	if err != nil {
		return pulumi.StringOutput{}, pulumi.StringOutput{}, fmt.Errorf("creating the name suffix: %w", err)
	}
	resourceGroup = suffix.Result.ApplyT(infra.GeneratedResourceGroupName).(pulumi.StringOutput)
	if cfg.ResourceGroupName != "" {
		resourceGroup = pulumi.String(cfg.ResourceGroupName).ToStringOutput()
	}
	cluster = suffix.Result.ApplyT(infra.GeneratedClusterName).(pulumi.StringOutput)
	if cfg.ClusterName != "" {
		cluster = pulumi.String(cfg.ClusterName).ToStringOutput()
	}
	return resourceGroup, cluster, nil
}
