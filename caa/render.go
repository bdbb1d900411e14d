package caa

import (
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"caa-azure/caa/upstream"
)

// Object is one rendered Kubernetes object, as kustomize emits it.
type Object = map[string]any

// Annotations that drive pulumi-kubernetes' await logic.
const (
	WaitForAnnotation = "pulumi.com/waitFor"
	TimeoutAnnotation = "pulumi.com/timeoutSeconds"
)

// Workload-identity wiring the AKS webhook looks for.
const (
	WorkloadIdentityUseLabel           = "azure.workload.identity/use"
	WorkloadIdentityClientIDAnnotation = "azure.workload.identity/client-id"
)

// Names of upstream objects the overlay edits.
const (
	DaemonSetName       = "cloud-api-adaptor-daemonset"
	ConfigMapName       = "peer-pods-cm"
	SecretName          = "peer-pods-secret"
	SSHKeySecretName    = "ssh-key-secret"
	caaImagePlaceholder = "cloud-api-adaptor"
	rbacProxyImageName  = "gcr.io/kubebuilder/kube-rbac-proxy"
)

// Sources are the local directories the manifests are rendered from.
type Sources struct {
	// CAADir is a checkout's src/cloud-api-adaptor directory.
	CAADir string
	// OperatorDir is the root of an operator checkout.
	OperatorDir string
}

// RenderOptions are the plain (known at render time) overlay values.
type RenderOptions struct {
	// CAAImage replaces the upstream image placeholder, as the guide's
	// kustomization `images:` entry does.
	CAAImage string
	// RBACProxyImage replaces the operator's unavailable sidecar image.
	RBACProxyImage string
	// RuntimeClassWaitTimeout bounds the wait for the operator to install
	// the kata-remote runtime class, in seconds.
	RuntimeClassWaitTimeout int
	// NoWorkloadIdentity leaves out the workload-identity pod label, for
	// CAA authenticating as a service principal.
	NoWorkloadIdentity bool
}

// Manifests are the rendered objects, grouped in the order they install.
type Manifests struct {
	Operator  []Object
	CcRuntime Object
	CAA       []Object
}

// Render builds the guide's three kustomizations from local directories
// and applies every overlay rule that needs no Pulumi output.
func Render(src Sources, opts RenderOptions) (*Manifests, error) {
	if err := upstream.CheckOperatorDir(src.OperatorDir); err != nil {
		return nil, err
	}
	if err := upstream.CheckCAADir(src.CAADir); err != nil {
		return nil, err
	}
	operator, err := build(filepath.Join(src.OperatorDir, upstream.OperatorReleaseDir))
	if err != nil {
		return nil, err
	}
	samples, err := build(filepath.Join(src.OperatorDir, upstream.OperatorPeerPodsDir))
	if err != nil {
		return nil, err
	}
	caaObjs, err := build(filepath.Join(src.CAADir, upstream.CAAInstallDir))
	if err != nil {
		return nil, err
	}

	m := &Manifests{}
	if m.Operator, err = repairOperator(operator, opts.RBACProxyImage); err != nil {
		return nil, err
	}
	if m.CcRuntime, err = peerPodsRuntime(samples, opts.RuntimeClassWaitTimeout); err != nil {
		return nil, err
	}
	if m.CAA, err = overlayCAA(caaObjs, opts.CAAImage, !opts.NoWorkloadIdentity); err != nil {
		return nil, err
	}
	return m, nil
}

// build runs kustomize on one directory, like `kubectl kustomize dir`.
func build(dir string) ([]Object, error) {
	return kustomize(filesys.MakeFsOnDisk(), dir, dir)
}

// kustomize renders dir of fs; name is how errors call it.
func kustomize(fs filesys.FileSystem, dir, name string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %s with kustomize: %w", name, err)
	}
	var objs []Object
	for _, r := range resMap.Resources() {
		obj, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", name, err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// repairOperator swaps the kube-rbac-proxy sidecar image, which gcr.io no
// longer serves: without it the operator never becomes Available and
// `pulumi up` waits forever (CAA PRs #2906/#2921 made the same move).
func repairOperator(objs []Object, rbacProxyImage string) ([]Object, error) {
	var hasNamespace, hasCRD, hasDeployment bool
	for _, o := range objs {
		switch kindOf(o) {
		case "Namespace":
			hasNamespace = nameOf(o) == Namespace
		case "CustomResourceDefinition":
			hasCRD = hasCRD || strings.HasPrefix(nameOf(o), "ccruntimes.")
		case "Deployment":
			hasDeployment = true
			for _, c := range Containers(o) {
				if image, _ := c["image"].(string); upstream.SplitImage(image).Name == rbacProxyImageName && rbacProxyImage != "" {
					c["image"] = rbacProxyImage
				}
			}
		case "RuntimeClass":
			return nil, fmt.Errorf("the operator manifests declare RuntimeClass %s, which the operator creates itself", nameOf(o))
		}
	}
	if !hasNamespace || !hasCRD || !hasDeployment {
		return nil, fmt.Errorf("the operator's %s does not render the %s namespace, the ccruntimes CRD and the operator Deployment; is it an operator checkout?",
			upstream.OperatorReleaseDir, Namespace)
	}
	return objs, nil
}

// peerPodsRuntime picks the CcRuntime and makes Pulumi wait until the
// operator reports the kata-remote runtime class: the guide's
// `kubectl get runtimeclass` check.
func peerPodsRuntime(objs []Object, timeoutSeconds int) (Object, error) {
	var found Object
	for _, o := range objs {
		if kindOf(o) == "CcRuntime" {
			if found != nil {
				return nil, fmt.Errorf("%s renders more than one CcRuntime", upstream.OperatorPeerPodsDir)
			}
			found = o
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%s renders no CcRuntime", upstream.OperatorPeerPodsDir)
	}
	annotations := mapAt(found, "metadata", "annotations")
	// status.runtimeClass is the comma-joined list of classes the operator
	// installed; the peer-pods sample installs exactly kata-remote.
	annotations[WaitForAnnotation] = "jsonpath={.status.runtimeClass}=" + RuntimeClass
	if timeoutSeconds > 0 {
		annotations[TimeoutAnnotation] = fmt.Sprint(timeoutSeconds)
	}
	return found, nil
}

// overlayCAA applies the guide's overlay rules that need no output: the
// image and the workload-identity pod label.
func overlayCAA(objs []Object, image string, workloadIdentity bool) ([]Object, error) {
	var hasSA, hasDaemonSet bool
	for _, o := range objs {
		switch {
		case kindOf(o) == "ServiceAccount" && nameOf(o) == ServiceAccountName:
			hasSA = true
		case kindOf(o) == "DaemonSet" && nameOf(o) == DaemonSetName:
			hasDaemonSet = true
			if workloadIdentity {
				mapAt(o, "spec", "template", "metadata", "labels")[WorkloadIdentityUseLabel] = "true"
			}
		}
		for _, c := range Containers(o) {
			if img, _ := c["image"].(string); upstream.SplitImage(img).Name == caaImagePlaceholder && image != "" {
				c["image"] = image
			}
		}
	}
	if !hasSA || !hasDaemonSet {
		return nil, fmt.Errorf("%s does not render ServiceAccount %s and DaemonSet %s; is it src/cloud-api-adaptor of a CAA checkout?",
			upstream.CAAInstallDir, ServiceAccountName, DaemonSetName)
	}
	return objs, nil
}

func kindOf(o Object) string { s, _ := o["kind"].(string); return s }

func nameOf(o Object) string { s, _ := mapAt(o, "metadata")["name"].(string); return s }

func namespaceOf(o Object) string { s, _ := mapAt(o, "metadata")["namespace"].(string); return s }

// mapAt returns the nested map at path, creating missing levels.
func mapAt(o Object, path ...string) map[string]any {
	cur := o
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	return cur
}

// Containers returns the containers of a workload's pod template.
func Containers(o Object) []map[string]any {
	spec, ok := o["spec"].(map[string]any)
	if !ok {
		return nil
	}
	tmpl, ok := spec["template"].(map[string]any)
	if !ok {
		return nil
	}
	podSpec, ok := tmpl["spec"].(map[string]any)
	if !ok {
		return nil
	}
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := podSpec[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}
