package caa

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// CAAReleaseArgs configures the Kubernetes half of the guide.
type CAAReleaseArgs struct {
	// Manifests are the rendered operator, CcRuntime and CAA objects (the
	// operator path); nil with Chart.
	Manifests *Manifests
	// Chart installs CAA with the peerpods Helm chart instead.
	Chart *ChartInstall
	// PeerPodsConfig is the data of the peer-pods-cm ConfigMap.
	PeerPodsConfig pulumi.StringMapInput
	// ClientID is the workload identity CAA's service account acts as; nil
	// when CAA authenticates with Credentials instead.
	ClientID pulumi.StringInput
	// Credentials go into peer-pods-secret (AZURE_CLIENT_ID,
	// AZURE_CLIENT_SECRET, AZURE_TENANT_ID) in service-principal mode; they
	// must be Pulumi secrets.
	Credentials pulumi.StringMapInput
	// SSHPublicKey goes into ssh-key-secret as id_rsa.pub.
	SSHPublicKey pulumi.StringInput
	// AzureDependencies are what CAA must outlive: its identity, role
	// assignments, federated credential, peer-pod subnet and NAT gateway.
	AzureDependencies []pulumi.Resource
	// Cluster is the AKS cluster the objects live in. Objects that hold no
	// pod VM are deleted with it (Pulumi skips their deletes when the
	// cluster goes too); CAA itself is always deleted, before what it
	// depends on in Azure. Nil deletes everything one by one.
	Cluster pulumi.Resource
}

// CAARelease is the CoCo operator, the peer-pods CcRuntime and the CAA
// DaemonSet with its configuration, installed in the guide's order.
type CAARelease struct {
	pulumi.ResourceState

	// RuntimeClass is the runtime class peer pods use, once it exists.
	RuntimeClass pulumi.StringOutput `pulumi:"runtimeClass"`

	// CcRuntime is set on the operator path.
	CcRuntime pulumi.Resource
	// CAA holds what CAA runs from: the overlay's objects, or the chart and
	// what it needs.
	CAA []pulumi.Resource
}

// Dependencies are what a peer-pod workload must wait for, so that destroy
// deletes the workload while CAA can still delete its pod VM.
func (r *CAARelease) Dependencies() []pulumi.Resource {
	if r.CcRuntime == nil {
		return append([]pulumi.Resource{}, r.CAA...)
	}
	return append([]pulumi.Resource{r.CcRuntime}, r.CAA...)
}

// object is any Kubernetes object registered through the cluster provider.
type object struct {
	pulumi.CustomResourceState
}

// NewCAARelease registers the operator (namespace and CRD first), then the
// CcRuntime, which waits for the kata-remote runtime class, then CAA: its
// ConfigMap, secrets and RBAC before the DaemonSet. The component must be
// given the cluster's Kubernetes provider with pulumi.Providers.
func NewCAARelease(ctx *pulumi.Context, name string, args *CAAReleaseArgs, opts ...pulumi.ResourceOption) (*CAARelease, error) {
	if args == nil || (args.Manifests == nil) == (args.Chart == nil) || (args.ClientID == nil) == (args.Credentials == nil) ||
		(args.Manifests != nil && (args.PeerPodsConfig == nil || args.SSHPublicKey == nil)) {
		return nil, fmt.Errorf("CAA release %q: one of Manifests (with PeerPodsConfig and SSHPublicKey) or Chart, "+
			"and one of ClientID or Credentials, are required", name)
	}
	r := &CAARelease{}
	if err := ctx.RegisterComponentResource("caa-azure:caa:CAARelease", name, r, opts...); err != nil {
		return nil, err
	}
	// withCluster deletes an object with the cluster: nothing in it can
	// leave a pod VM behind, and destroy need not wait on it.
	var withCluster []pulumi.ResourceOption
	if args.Cluster != nil {
		withCluster = append(withCluster, pulumi.DeletedWith(args.Cluster))
	}
	register := func(obj Object, deps []pulumi.Resource, extra ...pulumi.ResourceOption) (pulumi.Resource, error) {
		return registerObject(ctx, r, name, obj, deps, extra...)
	}

	if args.Chart != nil {
		if err := r.installChart(ctx, name, args, func(obj Object, deps []pulumi.Resource) (pulumi.Resource, error) {
			return register(obj, deps, withCluster...)
		}); err != nil {
			return nil, err
		}
		return r, r.finish(ctx)
	}

	// The namespace and CRDs come first: every other operator object lives
	// in the namespace, and the CcRuntime needs its CRD.
	var foundation, operator []pulumi.Resource
	for _, obj := range args.Manifests.Operator {
		if k := kindOf(obj); k == "Namespace" || k == "CustomResourceDefinition" {
			res, err := register(obj, nil, withCluster...)
			if err != nil {
				return nil, err
			}
			foundation = append(foundation, res)
		}
	}
	operator = append(operator, foundation...)
	for _, obj := range args.Manifests.Operator {
		if k := kindOf(obj); k != "Namespace" && k != "CustomResourceDefinition" {
			res, err := register(obj, foundation, withCluster...)
			if err != nil {
				return nil, err
			}
			operator = append(operator, res)
		}
	}

	// Depending on the whole operator means the CcRuntime is deleted while
	// the operator still runs: its finalizer needs the operator.
	ccRuntime, err := register(args.Manifests.CcRuntime, operator, withCluster...)
	if err != nil {
		return nil, err
	}
	r.CcRuntime = ccRuntime

	// CAA's configuration waits for the operator (its namespace) and for
	// what CAA uses in Azure, so destroy removes it while those still exist;
	// it need not wait for the runtime install, which is the slow part.
	configDeps := append(append([]pulumi.Resource{}, operator...), args.AzureDependencies...)
	var config, daemonSets []Object
	for _, obj := range args.Manifests.CAA {
		if kindOf(obj) == "DaemonSet" {
			daemonSets = append(daemonSets, obj)
			continue
		}
		if kindOf(obj) == "ServiceAccount" && nameOf(obj) == ServiceAccountName && args.ClientID != nil {
			mapAt(obj, "metadata", "annotations")[WorkloadIdentityClientIDAnnotation] = args.ClientID
		}
		config = append(config, obj)
	}
	config = append(config, generatedObjects(args)...)
	var configured []pulumi.Resource
	for _, obj := range config {
		res, err := register(obj, configDeps, withCluster...)
		if err != nil {
			return nil, err
		}
		configured = append(configured, res)
	}
	caa := append([]pulumi.Resource{}, configured...)
	// The DaemonSet runs CAA: after the runtime is installed (the guide's
	// order) and after the ConfigMap and secrets it reads at start. It is
	// never deleted with the cluster: destroy deletes it first, waiting for
	// CAA's pods to stop (foreground), so no CAA creates a VM once the pod
	// VM group, which it depends on, starts to go.
	daemonDeps := append(append(append([]pulumi.Resource{}, configDeps...), ccRuntime), configured...)
	checksum := configChecksum(args.PeerPodsConfig, orEmpty(secretData(args, false)), pulumi.StringMap{"id_rsa.pub": args.SSHPublicKey})
	for _, obj := range daemonSets {
		mapAt(obj, "metadata", "annotations")[DeletionPropagationAnnotation] = "foreground"
		if nameOf(obj) == DaemonSetName {
			mapAt(obj, "spec", "template", "metadata", "annotations")[ConfigChecksumAnnotation] = checksum
		}
		res, err := register(obj, daemonDeps)
		if err != nil {
			return nil, err
		}
		caa = append(caa, res)
	}
	r.CAA = caa
	return r, r.finish(ctx)
}

// registerObject registers a rendered object as a child of parent, named
// "<component>-<namespace>/<name>", after deps.
func registerObject(ctx *pulumi.Context, parent pulumi.Resource, component string, obj Object, deps []pulumi.Resource,
	extra ...pulumi.ResourceOption) (pulumi.Resource, error) {
	res := &object{}
	opts := append([]pulumi.ResourceOption{pulumi.Parent(parent), pulumi.DependsOn(deps)}, extra...)
	if err := ctx.RegisterResource(TypeToken(obj), component+"-"+ObjectKey(obj), ToInput(obj), res, opts...); err != nil {
		return nil, fmt.Errorf("registering %s %s: %w", kindOf(obj), ObjectKey(obj), err)
	}
	return res, nil
}

// finish sets the outputs: the runtime class is known once what installs
// it (the CcRuntime, or the chart's kata-deploy) is ready.
func (r *CAARelease) finish(ctx *pulumi.Context) error {
	deps := r.Dependencies()
	urns := make([]any, len(deps))
	for i, d := range deps {
		urns[i] = d.URN()
	}
	r.RuntimeClass = pulumi.All(urns...).ApplyT(func([]any) string { return RuntimeClass }).(pulumi.StringOutput)
	return ctx.RegisterResourceOutputs(r, pulumi.Map{
		"runtimeClass": r.RuntimeClass,
	})
}

// generatedObjects are what the guide's kustomization generates: the
// peer-pods-cm ConfigMap and the two secrets.
func generatedObjects(args *CAAReleaseArgs) []Object {
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": Namespace}
	}
	return []Object{
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(ConfigMapName), "data": args.PeerPodsConfig},
		// With workload identity the secret stays empty, but the
		// DaemonSet's envFrom requires it to exist.
		providerSecret(args, false),
		// CAA v0.10.0 refuses to create a pod VM without this key.
		{"apiVersion": "v1", "kind": "Secret", "metadata": meta(SSHKeySecretName), "type": "Opaque",
			"stringData": pulumi.StringMap{"id_rsa.pub": args.SSHPublicKey}},
	}
}

// secretData is what peer-pods-secret holds: the service principal's
// credentials when CAA uses one; else the client id when clientID says CAA
// reads it from there; else nothing (nil).
func secretData(args *CAAReleaseArgs, clientID bool) pulumi.StringMapInput {
	switch {
	case args.Credentials != nil:
		return args.Credentials
	case clientID:
		return pulumi.StringMap{"AZURE_CLIENT_ID": args.ClientID}
	}
	return nil
}

// providerSecret is peer-pods-secret, holding secretData. With workload
// identity it may stay empty, but CAA's envFrom requires it to exist.
func providerSecret(args *CAAReleaseArgs, clientID bool) Object {
	secret := Object{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": SecretName, "namespace": Namespace}}
	if data := secretData(args, clientID); data != nil {
		secret["stringData"] = data
	}
	return secret
}

// TypeToken is the pulumi-kubernetes type of an object: the API group and
// version ("core" for the legacy group) and the kind.
func TypeToken(obj Object) string {
	apiVersion, _ := obj["apiVersion"].(string)
	if !strings.Contains(apiVersion, "/") {
		apiVersion = "core/" + apiVersion
	}
	return "kubernetes:" + apiVersion + ":" + kindOf(obj)
}

// ObjectKey is "<namespace>/<name>", or "<name>" for cluster-scoped objects.
func ObjectKey(obj Object) string {
	if ns := namespaceOf(obj); ns != "" {
		return ns + "/" + nameOf(obj)
	}
	return nameOf(obj)
}

// ToInput turns a rendered object, whose leaves may already be Pulumi
// inputs, into a Pulumi input map; keys are sorted so the same object
// always produces the same inputs.
func ToInput(v any) pulumi.Input {
	switch x := v.(type) {
	case pulumi.Input:
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := pulumi.Map{}
		for _, k := range keys {
			// kustomize keeps nulls such as a CRD's creationTimestamp;
			// leaving them out is what kubectl apply sends too.
			if x[k] != nil {
				m[k] = ToInput(x[k])
			}
		}
		return m
	case []any:
		a := make(pulumi.Array, len(x))
		for i, e := range x {
			a[i] = ToInput(e)
		}
		return a
	case string:
		return pulumi.String(x)
	case bool:
		return pulumi.Bool(x)
	case int:
		return pulumi.Int(x)
	case int64:
		return pulumi.Int(int(x))
	case float64:
		return pulumi.Float64(x)
	default:
		return pulumi.Any(x)
	}
}
