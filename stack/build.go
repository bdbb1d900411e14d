package stack

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa"
	"caa-azure/caa/upstream"
	"caa-azure/infra"
	"caa-azure/infra/azname"
	"caa-azure/workload"
)

// stackNames are the resource group and cluster names, fixed for the
// stack's life.
type stackNames struct {
	resourceGroup, cluster pulumi.StringOutput
}

// build registers the components from what resolve found, then exports
// the stack outputs from them.
func build(ctx *pulumi.Context, r *resolved) error {
	c, err := compose(ctx, r)
	if err != nil {
		return err
	}
	exportOutputs(ctx, r, c)
	return nil
}

// composed holds the components the stack outputs are read from.
type composed struct {
	cluster     *infra.Cluster
	network     *infra.PeerPodNetwork
	identity    *infra.WorkloadIdentity
	attestation *caa.Attestation
}

// compose registers the components, each feeding the next.
func compose(ctx *pulumi.Context, r *resolved) (composed, error) {
	names, err := buildNames(r.identity)
	if err != nil {
		return composed{}, err
	}
	// AKS needs the node subnet, and the network grants rights on it to the
	// cluster's identity: the subnet id is fed back once the network exists.
	nodeSubnetID, resolveNodeSubnetID := pulumi.DeferredOutput[string](ctx.Context())
	cluster, err := buildCluster(ctx, r, names, pulumi.StringOutput(nodeSubnetID))
	if err != nil {
		return composed{}, err
	}
	net, err := buildNetwork(ctx, r, names, cluster)
	if err != nil {
		return composed{}, err
	}
	resolveNodeSubnetID(net.NodeSubnetID)
	identity, err := buildIdentity(ctx, r, names, cluster, net)
	if err != nil {
		return composed{}, err
	}
	// CAA must outlive everything it uses to create and delete pod VMs, and
	// be deleted (not skipped) before the pod VM group, so no CAA is left
	// to create a VM in a group being deleted.
	azureDeps := append(identity.Dependencies(), net.PeerPodSubnet, net.NatGateway, net.PodVMResourceGroup)
	// The KBS comes first: CAA's global initdata pins its certificate.
	attestation, err := buildAttestation(ctx, r, cluster)
	if err != nil {
		return composed{}, err
	}
	release, err := buildCAA(ctx, r, cluster, net, identity, attestation, azureDeps)
	if err != nil {
		return composed{}, err
	}
	// A pod VM needs what CAA needs to create it and, with attestation, a
	// KBS that answers: it boots with initdata naming the KBS.
	podVMDeps := azureDeps
	if attestation != nil {
		podVMDeps = append(append([]pulumi.Resource{}, azureDeps...), attestation.Ready...)
	}
	if _, err := buildSample(ctx, r, cluster, release, podVMDeps); err != nil {
		return composed{}, err
	}
	if _, err := buildAttestedSample(ctx, r, cluster, release, attestation, podVMDeps); err != nil {
		return composed{}, err
	}
	return composed{cluster: cluster, network: net, identity: identity, attestation: attestation}, nil
}

// exportOutputs is the stack's outputs (docs/operations.md lists them).
func exportOutputs(ctx *pulumi.Context, r *resolved, c composed) {
	cluster, net := c.cluster, c.network
	ctx.Export("stackTag", r.identity.tagValue())
	ctx.Export("resourceGroupName", cluster.ResourceGroupName)
	ctx.Export("clusterName", cluster.ClusterName)
	ctx.Export("nodeResourceGroup", cluster.NodeResourceGroup)
	ctx.Export("oidcIssuerUrl", cluster.OIDCIssuerURL)
	ctx.Export("kubeconfig", cluster.Kubeconfig)
	ctx.Export("identityClientId", c.identity.ClientID)
	ctx.Export("peerpodSubnetId", net.PeerPodSubnetID)
	ctx.Export("peerpodSubnetCidr", net.PeerPodSubnetCIDR)
	ctx.Export("podVmResourceGroupName", net.PodVMResourceGroupName)
	ctx.Export("podVmListCommand", net.PodVMResourceGroupName.ApplyT(azname.PodVMListCommand).(pulumi.StringOutput))
	if plan := r.attestation; plan != nil {
		ctx.Export("kbsUrl", pulumi.String(plan.URL))
		ctx.Export("kbsCertificate", c.attestation.Certificate)
		ctx.Export("kbsAdminPrivateKey", c.attestation.AdminPrivateKey)
		if plan.bindsPCR8() {
			ctx.Export("initdataPcr8", plan.boundOutput(c.attestation.Certificate, func(b boundAttestation) string { return b.PCR8 }))
		}
	}
}

// buildNames returns the configured names, or ones built from the stack's
// random suffix, which Pulumi keeps in state, so they stay the same on
// every run.
func buildNames(id *stackIdentity) (stackNames, error) {
	cfg := id.cfg
	n := stackNames{
		resourceGroup: pulumi.String(cfg.ResourceGroupName).ToStringOutput(),
		cluster:       pulumi.String(cfg.ClusterName).ToStringOutput(),
	}
	if err := id.register(); err != nil {
		return n, err
	}
	if cfg.ResourceGroupName == "" {
		n.resourceGroup = id.suffix.Result.ApplyT(azname.GeneratedResourceGroupName).(pulumi.StringOutput)
	}
	if cfg.ClusterName == "" {
		n.cluster = id.suffix.Result.ApplyT(azname.GeneratedClusterName).(pulumi.StringOutput)
	}
	return n, nil
}

func optionalString(v string) pulumi.StringPtrInput {
	if v == "" {
		return nil
	}
	return pulumi.String(v)
}

func buildCluster(ctx *pulumi.Context, r *resolved, names stackNames, nodeSubnetID pulumi.StringOutput) (*infra.Cluster, error) {
	cfg := r.cfg
	var podCIDR pulumi.StringPtrInput
	if cfg.PodCIDR.IsValid() {
		podCIDR = pulumi.String(cfg.PodCIDR.String())
	}
	return infra.NewCluster(ctx, "cluster", &infra.ClusterArgs{
		ExistingResourceGroup: r.existingGroup,
		ResourceGroupName:     names.resourceGroup,
		Location:              pulumi.String(cfg.Location),
		ClusterName:           names.cluster,
		KubernetesVersion:     optionalString(cfg.KubernetesVersion),
		NodeCount:             pulumi.Int(cfg.NodeCount),
		NodeVMSize:            pulumi.String(cfg.NodeVMSize),
		AdminUsername:         pulumi.String(cfg.AdminUsername),
		SSHPublicKey:          pulumi.String(cfg.SSHPublicKey),
		NodeSubnetID:          nodeSubnetID,
		NetworkPlugin:         pulumi.String(cfg.NetworkPlugin),
		NetworkPluginMode:     optionalString(cfg.NetworkPluginMode),
		PodCIDR:               podCIDR,
		Tags:                  r.identity.tags(cfg.Tags),
		Entra:                 r.entra,
	})
}

func buildNetwork(ctx *pulumi.Context, r *resolved, names stackNames, cluster *infra.Cluster) (*infra.PeerPodNetwork, error) {
	args := &infra.PeerPodNetworkArgs{
		ResourceGroupName:  cluster.ResourceGroupName,
		Location:           pulumi.String(r.cfg.Location),
		ClusterName:        names.cluster,
		ExistingNodeSubnet: r.existingSubnet,
		PeerPodSubnetName:  r.identity.peerPodSubnetName(),
		PeerPodSubnetCIDR:  pulumi.String(r.peerPodCIDR.String()),
		ClusterPrincipalID: cluster.ControlPlanePrincipalID,
		SubscriptionID:     pulumi.String(r.subscriptionID),
		SubnetRoleName:     roleName(r, cluster, names, azname.SubnetJoinRoleName),
		Tags:               r.identity.tags(r.cfg.Tags),
	}
	if r.existingSubnet == nil {
		args.NodeSubnetCIDR = pulumi.String(r.cfg.ClusterSubnetCIDR.String())
	}
	return infra.NewPeerPodNetwork(ctx, "network", args)
}

// roleName names one of the stack's custom roles after its cluster.
func roleName(r *resolved, cluster *infra.Cluster, names stackNames, name func(sub, rg, cluster string) string) pulumi.StringOutput {
	return pulumi.All(cluster.ResourceGroupName, names.cluster).ApplyT(func(v []any) string {
		return name(r.subscriptionID, v[0].(string), v[1].(string))
	}).(pulumi.StringOutput)
}

func buildIdentity(ctx *pulumi.Context, r *resolved, names stackNames, cluster *infra.Cluster,
	net *infra.PeerPodNetwork) (*infra.WorkloadIdentity, error) {
	cfg := r.cfg
	args := &infra.WorkloadIdentityArgs{
		ResourceGroupName:    cluster.ResourceGroupName,
		Location:             pulumi.String(cfg.Location),
		IdentityName:         names.cluster.ApplyT(azname.CAAIdentityName).(pulumi.StringOutput),
		PodVMResourceGroupID: net.PodVMResourceGroupID,
		PeerPodSubnetID:      net.PeerPodSubnetID,
		SubscriptionID:       pulumi.String(r.subscriptionID),
		OIDCIssuerURL:        cluster.OIDCIssuerURL,
		Subject:              pulumi.String(caa.ServiceAccountSubject()),
		Tags:                 r.identity.tags(cfg.Tags),
		GrantVMSizeRead:      cfg.GrantVMSizeRead,
		VMSizeRoleName:       roleName(r, cluster, names, azname.VMSizeRoleName),
		SubnetRoleID:         net.SubnetRoleID,
	}
	if img := cfg.PodVMImage; len(img.ReadActions()) > 0 {
		args.ImageRead = &infra.ImageReadGrant{ImageID: img.ID, RoleScope: img.ResourceGroupScope(), Actions: img.ReadActions(),
			RoleName: roleName(r, cluster, names, azname.ImageReadRoleName)}
	}
	for _, s := range caa.MoreFederatedSubjects(cfg.Release, cfg.CAAAuth == CAAAuthWorkloadIdentity) {
		args.MoreSubjects = append(args.MoreSubjects, pulumi.String(s))
	}
	if cfg.CAAAuth == CAAAuthServicePrincipal {
		args.ServicePrincipal = &infra.ServicePrincipalMode{
			DisplayName:   pulumi.String("caa-azure cloud-api-adaptor (" + cfg.StackID() + ")"),
			LifetimeHours: cfg.CredentialLifetimeHours,
			Generation:    cfg.CredentialGeneration,
		}
	}
	return infra.NewWorkloadIdentity(ctx, "caa-identity", args)
}

func buildCAA(ctx *pulumi.Context, r *resolved, cluster *infra.Cluster, net *infra.PeerPodNetwork,
	identity *infra.WorkloadIdentity, attestation *caa.Attestation, azureDeps []pulumi.Resource) (*caa.CAARelease, error) {
	cfg := r.cfg
	settings := caa.PeerPodsSettings{
		SubscriptionID:       r.subscriptionID,
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
		StackTag:             &caa.OutputTag{Key: StackTag, Value: r.identity.tagValue()},
	}
	if r.attestation != nil {
		settings.Initdata = r.attestation.boundOutput(attestation.Certificate, func(b boundAttestation) string { return b.Encoded })
	}
	args := &caa.CAAReleaseArgs{AzureDependencies: azureDeps, Cluster: cluster.ManagedCluster}
	if r.manifests != nil {
		args.Manifests = r.manifests
		args.PeerPodsConfig = settings.ConfigMapData()
		args.SSHPublicKey = pulumi.String(cfg.SSHPublicKey)
	} else {
		chart, err := caa.ChartInstallOf(cfg.Release, caa.ChartOptions{
			SourceDir:        cfg.CAASourceDir,
			Settings:         settings,
			WorkloadIdentity: cfg.CAAAuth == CAAAuthWorkloadIdentity,
			ClientID:         identity.ClientID,
			Webhook:          cfg.Webhook,
			RBACProxyImage:   cfg.RBACProxyImage,
		})
		if err != nil {
			return nil, fmt.Errorf("caaVersion %s: %w", cfg.Release.CAAVersion, err)
		}
		args.Chart = chart
	}
	if cfg.CAAAuth == CAAAuthServicePrincipal {
		args.Credentials = pulumi.ToSecret(pulumi.StringMap{
			"AZURE_CLIENT_ID":     identity.ClientID,
			"AZURE_CLIENT_SECRET": identity.ClientSecret,
			"AZURE_TENANT_ID":     pulumi.String(r.tenantID),
		}).(pulumi.StringMapOutput)
	} else {
		args.ClientID = identity.ClientID
	}
	return caa.NewCAARelease(ctx, "caa", args, pulumi.Providers(cluster.Provider))
}

// buildSample is the guide's nginx in a peer pod; podVMDeps are what its
// pod VM needs.
func buildSample(ctx *pulumi.Context, r *resolved, cluster *infra.Cluster, release *caa.CAARelease,
	podVMDeps []pulumi.Resource) (*workload.NginxSample, error) {
	if !r.cfg.Sample {
		return nil, nil
	}
	return workload.NewNginxSample(ctx, "nginx", &workload.NginxSampleArgs{
		Image:            pulumi.String(r.cfg.SampleImage),
		Replicas:         pulumi.Int(r.cfg.SampleReplicas),
		RuntimeClassName: release.RuntimeClass,
		DependsOn:        append(release.Dependencies(), podVMDeps...),
		// The sample's pod VM goes with the pod VM group; destroy never
		// waits on a pod that cannot terminate.
		DeletedWith: cluster.ManagedCluster,
	}, pulumi.Providers(cluster.Provider))
}

func buildAttestation(ctx *pulumi.Context, r *resolved, cluster *infra.Cluster) (*caa.Attestation, error) {
	if r.attestation == nil {
		return nil, nil
	}
	plan := r.attestation
	return caa.NewAttestation(ctx, "attestation", &caa.AttestationArgs{
		Manifests: plan.Trustee,
		Cluster:   cluster.ManagedCluster,
		Address:   plan.Address,
		ResourcePolicy: func(cert string) (string, error) {
			b, err := plan.bind(cert)
			return b.ResourcePolicy, err
		},
	}, pulumi.Providers(cluster.Provider))
}

// buildAttestedSample is the Job that shows the KBS releasing its secret
// to an attested pod VM, or refusing it on a pod VM without a TEE.
func buildAttestedSample(ctx *pulumi.Context, r *resolved, cluster *infra.Cluster, release *caa.CAARelease,
	attestation *caa.Attestation, podVMDeps []pulumi.Resource) (*workload.AttestedSample, error) {
	if attestation == nil || !r.cfg.Sample {
		return nil, nil
	}
	expect := workload.ExpectReleased
	if r.cfg.DisableCVM {
		expect = workload.ExpectRefused
	}
	return workload.NewAttestedSample(ctx, "attested-sample", &workload.AttestedSampleArgs{
		Image:              pulumi.String(upstream.SampleImage),
		RuntimeClassName:   release.RuntimeClass,
		InitdataAnnotation: r.cfg.Release.InitdataFormat().Annotation,
		Initdata:           r.attestation.boundOutput(attestation.Certificate, func(b boundAttestation) string { return b.SampleEncoded }),
		ResourceURL:        "http://127.0.0.1:8006/cdh/resource/" + caa.ResourcePath(),
		SecretSHA256:       attestation.SecretSHA256,
		Expect:             expect,
		DependsOn:          append(release.Dependencies(), podVMDeps...),
		DeletedWith:        cluster.ManagedCluster,
	}, pulumi.Providers(cluster.Provider))
}
