package workload

import (
	"fmt"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// What the attested sample expects of the KBS.
const (
	// ExpectReleased: a pod VM in a TEE must be given the secret.
	ExpectReleased = "released"
	// ExpectRefused: a pod VM without a TEE (disableCvm) attests with the
	// sample attester, which the KBS's resource policy refuses.
	ExpectRefused = "refused"
)

// AttestedJobDeadlineSeconds bounds the Job: a pod VM boots in minutes,
// and a refused or unreachable KBS must fail the Job, not hang the deploy.
const AttestedJobDeadlineSeconds = 15 * 60

// attestedScript first attests (an attestation token from the KBS, through
// the attestation agent: it shows the pod VM reached the KBS and passed its
// attestation service), then asks the CDH inside the pod VM for the
// resource, retrying while the guest components start, and exits 0 only on
// the expected outcome. A refusal counts only after a token: an unreachable
// KBS is a failure, not a refusal. It also prints the attestation evidence
// (it holds PCR 8 on az-vtpm pod VMs), since the agent policy refuses
// `kubectl exec`.
const attestedScript = `
echo "evidence: $(wget -q -T 60 -O- "http://127.0.0.1:8006/aa/evidence?runtime_data=caa-azure" 2>/dev/null | tr -d '\n')"
attested=no
for try in 1 2 3 4 5 6; do
  if wget -q -T 60 -O /dev/null "http://127.0.0.1:8006/aa/token?token_type=kbs"; then attested=yes; break; fi
  sleep 10
done
echo "attestation token from the KBS: $attested"
got=none
for try in 1 2 3 4 5 6; do
  if body=$(wget -q -T 60 -O- "$RESOURCE_URL"); then
    got=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
    break
  fi
  sleep 10
done
case "$EXPECT:$attested:$got" in
  released:*:"$SECRET_SHA256") echo "the KBS released the secret to this attested pod VM"; exit 0 ;;
  released:*) echo "the KBS did not release the seeded secret (got: $got)"; exit 1 ;;
  refused:yes:none) echo "the KBS refused the secret, as it must without a TEE"; exit 0 ;;
  refused:no:none) echo "the pod VM got no attestation token: the KBS was not reached or refused to attest"; exit 1 ;;
  *) echo "the KBS released a secret to a pod VM without a TEE"; exit 1 ;;
esac
`

// AttestedCommand is the sample container's full command line; its agent
// policy allows no other.
func AttestedCommand() []string { return []string{"/bin/sh", "-c", attestedScript} }

// AttestedSampleArgs configures the attested sample.
type AttestedSampleArgs struct {
	// Image must be the one the Initdata's agent policy pins.
	Image pulumi.StringInput
	// RuntimeClassName is the peer-pods runtime class (kata-remote).
	RuntimeClassName pulumi.StringInput
	// InitdataAnnotation and Initdata point the pod VM at the KBS; from CAA
	// 0.12.0 the KBS releases the secret only to the measurement of this
	// initdata, whose agent policy must pin Image and AttestedCommand.
	InitdataAnnotation string
	Initdata           pulumi.StringInput
	// ResourceURL is the secret behind the CDH's local endpoint.
	ResourceURL string
	// SecretSHA256 is the seeded secret's sha256; Expect is ExpectReleased
	// or ExpectRefused.
	SecretSHA256 pulumi.StringInput
	Expect       string
	// DependsOn is what the pod VM needs: CAA, the runtime class, the KBS.
	DependsOn []pulumi.Resource
	// DeletedWith is the cluster, as for the nginx sample.
	DeletedWith pulumi.Resource
}

// AttestedSample is a Job in a peer pod that succeeds only when the KBS
// treats its pod VM as it should: the secret for a TEE, a refusal without one.
type AttestedSample struct {
	pulumi.ResourceState

	JobName pulumi.StringOutput `pulumi:"jobName"`

	Job *batchv1.Job
}

// NewAttestedSample creates the Job; Pulumi waits for it to complete and
// fails the update when it fails.
func NewAttestedSample(ctx *pulumi.Context, name string, args *AttestedSampleArgs, opts ...pulumi.ResourceOption) (*AttestedSample, error) {
	if args == nil || args.Image == nil || args.RuntimeClassName == nil || args.SecretSHA256 == nil || args.Initdata == nil ||
		args.InitdataAnnotation == "" || args.ResourceURL == "" || (args.Expect != ExpectReleased && args.Expect != ExpectRefused) {
		return nil, fmt.Errorf("attested sample %q: Image, RuntimeClassName, Initdata, InitdataAnnotation, ResourceURL, SecretSHA256 "+
			"and Expect (%s or %s) are required", name, ExpectReleased, ExpectRefused)
	}
	s := &AttestedSample{}
	if err := ctx.RegisterComponentResource("caa-azure:workload:AttestedSample", name, s, opts...); err != nil {
		return nil, err
	}
	jobOpts := []pulumi.ResourceOption{pulumi.Parent(s), pulumi.DependsOn(args.DependsOn),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: ReadyTimeout, Update: ReadyTimeout, Delete: ReadyTimeout})}
	if args.DeletedWith != nil {
		jobOpts = append(jobOpts, pulumi.DeletedWith(args.DeletedWith))
	}
	env := func(k string, v pulumi.StringInput) *corev1.EnvVarArgs {
		return &corev1.EnvVarArgs{Name: pulumi.String(k), Value: v}
	}
	job, err := batchv1.NewJob(ctx, name, &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String("attested-sample"),
			Namespace: pulumi.String("default"),
			Annotations: pulumi.StringMap{
				// A failed Job is replaced on the next run, not waited on again.
				"pulumi.com/replaceUnready": pulumi.String("true"),
				// Deleted on its own (sample or attestation turned off), the
				// delete returns once its pod, and any pod VM, is gone; the
				// API's default for Jobs would orphan the pod.
				deletionPropagation: pulumi.String("foreground"),
			},
		},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(0),
			ActiveDeadlineSeconds: pulumi.Int(AttestedJobDeadlineSeconds),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Annotations: pulumi.StringMap{args.InitdataAnnotation: args.Initdata},
				},
				Spec: &corev1.PodSpecArgs{
					RuntimeClassName: args.RuntimeClassName,
					RestartPolicy:    pulumi.String("Never"),
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:    pulumi.String("fetch-secret"),
						Image:   args.Image,
						Command: pulumi.ToStringArray(AttestedCommand()),
						Env: corev1.EnvVarArray{
							env("RESOURCE_URL", pulumi.String(args.ResourceURL)),
							env("EXPECT", pulumi.String(args.Expect)),
							env("SECRET_SHA256", args.SecretSHA256),
						},
					}},
				},
			},
		},
	}, jobOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating the attested sample: %w", err)
	}
	s.Job = job
	s.JobName = job.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{"jobName": s.JobName}); err != nil {
		return nil, err
	}
	return s, nil
}
