package workload

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ReadyTimeout bounds the wait for the sample: a peer pod is Ready only
// after Azure has created and booted its VM.
const ReadyTimeout = "20m"

// deletionPropagation is pulumi-kubernetes' annotation that, set to
// "foreground", makes a delete return only once the object's pods (and so
// their pod VMs) are gone. The caa package sets it on CAA; this package
// depends on no other of the program's, so it names the key itself.
const deletionPropagation = "pulumi.com/deletionPropagationPolicy"

// NginxSampleArgs configures the guide's sample workload.
type NginxSampleArgs struct {
	Image    pulumi.StringInput
	Replicas pulumi.IntInput
	// RuntimeClassName is the peer-pods runtime class (kata-remote).
	RuntimeClassName pulumi.StringInput
	// DependsOn is everything the sample's pod VM needs to be created: the
	// runtime, CAA and the Azure rights and network CAA uses.
	DependsOn []pulumi.Resource
	// DeletedWith is the cluster: when it goes, the Deployment is not
	// deleted on its own, and its pod VM goes with the pod VM group. Nil
	// deletes it one by one.
	DeletedWith pulumi.Resource
}

// NginxSample is the guide's nginx Deployment running in peer pods.
type NginxSample struct {
	pulumi.ResourceState

	DeploymentName pulumi.StringOutput `pulumi:"deploymentName"`
	RuntimeClass   pulumi.StringOutput `pulumi:"runtimeClass"`

	Deployment *appsv1.Deployment
}

// NewNginxSample creates the Deployment and waits until its pods are Ready,
// which means their pod VMs booted. Deleted on its own (sample turned off),
// deletion is foreground, so the update returns only when the pods, and
// with them the VMs, are gone.
func NewNginxSample(ctx *pulumi.Context, name string, args *NginxSampleArgs, opts ...pulumi.ResourceOption) (*NginxSample, error) {
	if args == nil || args.Image == nil || args.Replicas == nil || args.RuntimeClassName == nil {
		return nil, fmt.Errorf("sample %q: Image, Replicas and RuntimeClassName are required", name)
	}
	s := &NginxSample{}
	if err := ctx.RegisterComponentResource("caa-azure:workload:NginxSample", name, s, opts...); err != nil {
		return nil, err
	}
	labels := pulumi.StringMap{"app": pulumi.String("nginx")}
	deployment, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String("nginx"),
			Namespace:   pulumi.String("default"),
			Labels:      labels,
			Annotations: pulumi.StringMap{deletionPropagation: pulumi.String("foreground")},
		},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: args.Replicas,
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					RuntimeClassName: args.RuntimeClassName,
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:            pulumi.String("nginx"),
						Image:           args.Image,
						ImagePullPolicy: pulumi.String("Always"),
						Ports:           corev1.ContainerPortArray{&corev1.ContainerPortArgs{ContainerPort: pulumi.Int(80)}},
					}},
				},
			},
		},
	}, sampleOptions(s, args)...)
	if err != nil {
		return nil, fmt.Errorf("creating the nginx sample: %w", err)
	}
	s.Deployment = deployment
	s.DeploymentName = deployment.Metadata.Name().Elem()
	s.RuntimeClass = args.RuntimeClassName.ToStringOutput()
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{
		"deploymentName": s.DeploymentName,
		"runtimeClass":   s.RuntimeClass,
	}); err != nil {
		return nil, err
	}
	return s, nil
}

func sampleOptions(s *NginxSample, args *NginxSampleArgs) []pulumi.ResourceOption {
	opts := []pulumi.ResourceOption{pulumi.Parent(s), pulumi.DependsOn(args.DependsOn),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: ReadyTimeout, Update: ReadyTimeout, Delete: ReadyTimeout})}
	if args.DeletedWith != nil {
		opts = append(opts, pulumi.DeletedWith(args.DeletedWith))
	}
	return opts
}
