package caa

import (
	"fmt"
	"path/filepath"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa/upstream"
)

// PeerPodCtrlServiceAccount is the account the chart's peerpod-ctrl (the
// VM garbage collector) runs as: namePrefix "peerpodctrl-" plus
// "controller-manager" (src/peerpod-ctrl/chart, values.yaml and
// templates/deployment.yaml).
const PeerPodCtrlServiceAccount = "peerpodctrl-controller-manager"

// PeerPodCtrlSubject is peerpod-ctrl's federated token subject.
func PeerPodCtrlSubject() string {
	return "system:serviceaccount:" + Namespace + ":" + PeerPodCtrlServiceAccount
}

// Cert-manager, which the chart's webhook needs; the version CAA's own
// tooling pins (src/cloud-api-adaptor/versions.yaml, tools.cert-manager).
const (
	CertManagerChart     = "oci://quay.io/jetstack/charts/cert-manager"
	CertManagerVersion   = "v1.15.3"
	CertManagerNamespace = "cert-manager"
)

// ChartSource is the peerpods chart: the published OCI chart at a
// version, or a local chart directory.
type ChartSource struct {
	Chart   string
	Version string
}

// ChartValues are the values this program sets on the peerpods chart. Each
// field names the key of install/charts/peerpods/values.yaml it fills.
type ChartValues struct {
	// image.name, image.tag (upstream.ImageRef.ChartNameTag)
	Image, Tag string
	// providerConfigs.azure.*: the peer-pods-cm settings, which the chart's
	// configmap template copies key by key (PEERPODS_LIMIT_PER_NODE
	// included: the chart's top-level `limit` is read by no template).
	// CLOUD_PROVIDER is the chart's `provider`.
	ProviderConfig pulumi.StringMapInput
	// SubchartTag and RBACProxyImage, when set, pin resourceCtrl.image.tag
	// and webhook.image.tag (`latest` in charts before 0.2.0) and replace
	// resourceCtrl.authProxy.image and webhook.authProxy.image
	// (gcr.io/kubebuilder/kube-rbac-proxy, which gcr.io no longer serves,
	// in chart 0.1.1).
	SubchartTag, RBACProxyImage string
	// secrets.mode reference + secrets.existingSecretName: the program owns
	// peer-pods-secret, so no credential passes through chart values.
	ExistingSecretName string
	// daemonset.podLabels and resourceCtrl.podLabels get the workload
	// identity label; daemonset.serviceAccount.annotations and
	// resourceCtrl.serviceAccount.annotations the client id, where the chart
	// has them (WorkloadIdentityAnnotations).
	WorkloadIdentity            bool
	WorkloadIdentityAnnotations bool
	ClientID                    pulumi.StringInput
	// resourceCtrl.enabled: peerpod-ctrl.
	PeerPodCtrl bool
	// webhook.enabled: the peer-pods webhook (needs cert-manager).
	Webhook bool
}

// Map renders the values as chart input.
func (v ChartValues) Map() pulumi.Map {
	podLabels := pulumi.Map{}
	saAnnotations := pulumi.Map{}
	if v.WorkloadIdentity {
		podLabels[WorkloadIdentityUseLabel] = pulumi.String("true")
		if v.WorkloadIdentityAnnotations && v.ClientID != nil {
			saAnnotations[WorkloadIdentityClientIDAnnotation] = v.ClientID
		}
	}
	daemonset := pulumi.Map{"podLabels": podLabels}
	resourceCtrl := pulumi.Map{"enabled": pulumi.Bool(v.PeerPodCtrl)}
	webhook := pulumi.Map{"enabled": pulumi.Bool(v.Webhook)}
	if v.SubchartTag != "" {
		resourceCtrl["image"] = pulumi.Map{"tag": pulumi.String(v.SubchartTag)}
		webhook["image"] = pulumi.Map{"tag": pulumi.String(v.SubchartTag)}
	}
	if v.RBACProxyImage != "" {
		resourceCtrl["authProxy"] = pulumi.Map{"image": pulumi.String(v.RBACProxyImage)}
		webhook["authProxy"] = pulumi.Map{"image": pulumi.String(v.RBACProxyImage)}
	}
	if v.WorkloadIdentityAnnotations {
		daemonset["serviceAccount"] = pulumi.Map{"annotations": saAnnotations}
		resourceCtrl["podLabels"] = podLabels
		resourceCtrl["serviceAccount"] = pulumi.Map{"annotations": saAnnotations}
	}
	values := pulumi.Map{
		"provider":        pulumi.String("azure"),
		"providerConfigs": pulumi.Map{"azure": v.ProviderConfig},
		"secrets": pulumi.Map{
			"mode":               pulumi.String("reference"),
			"existingSecretName": pulumi.String(v.ExistingSecretName),
		},
		"daemonset":    daemonset,
		"resourceCtrl": resourceCtrl,
		"webhook":      webhook,
	}
	if v.Image != "" {
		image := pulumi.Map{"name": pulumi.String(v.Image)}
		if v.Tag != "" {
			image["tag"] = pulumi.String(v.Tag)
		}
		values["image"] = image
	}
	return values
}

// ChartOptions are the stack's choices that shape a chart install.
type ChartOptions struct {
	// SourceDir is a local checkout's src/cloud-api-adaptor, or "" for the
	// published chart.
	SourceDir string
	Settings  PeerPodsSettings
	// WorkloadIdentity labels CAA's pods (and annotates its service
	// accounts where the chart can) to act as ClientID.
	WorkloadIdentity bool
	ClientID         pulumi.StringInput
	Webhook          bool
	// RBACProxyImage replaces the subcharts' vanished sidecar where the
	// release needs it (upstream.Release.SubchartTag).
	RBACProxyImage string
}

// ChartInstallOf is the release's peerpods chart with the stack's values;
// it fails when the chart cannot render the release's image.
func ChartInstallOf(r upstream.Release, o ChartOptions) (*ChartInstall, error) {
	name, tag, err := r.ImageRef().ChartNameTag()
	if err != nil {
		return nil, err
	}
	source := ChartSource{Chart: upstream.ChartRepository, Version: r.ChartVersion}
	if o.SourceDir != "" {
		source = ChartSource{Chart: filepath.Join(o.SourceDir, upstream.ChartDir)}
	}
	c := &ChartInstall{
		Source: source,
		Values: ChartValues{
			Image:                       name,
			Tag:                         tag,
			ProviderConfig:              o.Settings.ProviderConfig(),
			ExistingSecretName:          SecretName,
			WorkloadIdentity:            o.WorkloadIdentity,
			WorkloadIdentityAnnotations: o.WorkloadIdentity && r.ChartSupportsWorkloadIdentity(),
			ClientID:                    o.ClientID,
			PeerPodCtrl:                 true,
			Webhook:                     o.Webhook,
		},
		CertManager: o.Webhook,
	}
	if r.SubchartTag != "" {
		c.Values.SubchartTag = r.SubchartTag
		c.Values.RBACProxyImage = o.RBACProxyImage
	}
	return c, nil
}

// MoreFederatedSubjects are the service accounts besides CAA's that act as
// CAA's identity: peerpod-ctrl, where the chart can label it for workload
// identity.
func MoreFederatedSubjects(r upstream.Release, workloadIdentity bool) []string {
	if !workloadIdentity || !r.ChartSupportsWorkloadIdentity() {
		return nil
	}
	return []string{PeerPodCtrlSubject()}
}

// ChartInstall configures the chart path of CAARelease.
type ChartInstall struct {
	Source ChartSource
	Values ChartValues
	// CertManager installs cert-manager first (for the webhook).
	CertManager bool
}

// installChart registers the namespace, peer-pods-secret, cert-manager if
// asked, and the peerpods chart, in that order.
func (r *CAARelease) installChart(ctx *pulumi.Context, name string, args *CAAReleaseArgs,
	register func(Object, []pulumi.Resource) (pulumi.Resource, error)) error {
	chart := args.Chart
	namespace, err := register(Object{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": Namespace}}, nil)
	if err != nil {
		return err
	}
	// The client id is no secret; chart releases before 0.3.0 cannot
	// annotate the service account, so CAA reads it from here.
	secret, err := register(providerSecret(args, true), append([]pulumi.Resource{namespace}, args.AzureDependencies...))
	if err != nil {
		return err
	}
	deps := append([]pulumi.Resource{namespace, secret}, args.AzureDependencies...)
	if chart.CertManager {
		cmNamespace, err := register(Object{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": CertManagerNamespace}}, nil)
		if err != nil {
			return err
		}
		certManager, err := helmv4.NewChart(ctx, name+"-cert-manager", &helmv4.ChartArgs{
			Chart:     pulumi.String(CertManagerChart),
			Version:   pulumi.String(CertManagerVersion),
			Namespace: pulumi.String(CertManagerNamespace),
			Values:    pulumi.Map{"crds": pulumi.Map{"enabled": pulumi.Bool(true)}},
		}, pulumi.Parent(r), pulumi.DependsOn([]pulumi.Resource{cmNamespace}))
		if err != nil {
			return fmt.Errorf("installing cert-manager: %w", err)
		}
		deps = append(deps, certManager)
		r.CAA = append(r.CAA, cmNamespace, certManager)
	}
	chartArgs := &helmv4.ChartArgs{
		Chart:     pulumi.String(chart.Source.Chart),
		Namespace: pulumi.String(Namespace),
		Values:    chart.Values.Map(),
		// A local chart's subcharts (kata-deploy from OCI, peerpod-ctrl and
		// the webhook from file://) must be fetched before rendering.
		DependencyUpdate: pulumi.Bool(chart.Source.Version == ""),
	}
	if chart.Source.Version != "" {
		chartArgs.Version = pulumi.String(chart.Source.Version)
	}
	// CAA reads the chart's peer-pods-cm (rendered from ProviderConfig) and
	// our peer-pods-secret; the secret holds the client id when CAA does not
	// use a service principal.
	checksum := configChecksum(chart.Values.ProviderConfig, orEmpty(secretData(args, true)))
	// The chart runs CAA and peerpod-ctrl, so it is deleted (never skipped
	// with the cluster) before the pod VM group in deps; its CRDs stay for
	// the cluster to take (ChartTransform).
	release, err := helmv4.NewChart(ctx, name+"-peerpods", chartArgs, pulumi.Parent(r), pulumi.DependsOn(deps),
		pulumi.Transforms([]pulumi.ResourceTransform{ChartTransform(checksum)}))
	if err != nil {
		return fmt.Errorf("installing the peerpods chart: %w", err)
	}
	r.CAA = append(r.CAA, namespace, secret, release)
	return nil
}
