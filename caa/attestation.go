package caa

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AttestationArgs configures trustee's KBS.
type AttestationArgs struct {
	// Manifests are the rendered KBS objects (RenderTrustee).
	Manifests *TrusteeManifests
	// Cluster is the AKS cluster: every KBS object goes with it (the
	// internal load balancer lives in the cluster's node resource group).
	// Nil deletes them one by one.
	Cluster pulumi.Resource
}

// Attestation is trustee's key broker (KBS) as CAA's e2e deploys it, behind
// an internal load balancer, with its admin key and one seeded secret.
type Attestation struct {
	pulumi.ResourceState

	// AdminPrivateKey is the KBS admin's Ed25519 key (PKCS#8 PEM), a secret:
	// kbs-client uses it to manage resources and policies.
	AdminPrivateKey pulumi.StringOutput `pulumi:"adminPrivateKey"`
	// SecretSHA256 is the sha256 of the seeded secret, which is not itself
	// shown: the sample compares what it is released against it.
	SecretSHA256 pulumi.StringOutput `pulumi:"secretSha256"`

	// Ready are the KBS objects: once registered the KBS is ready (its
	// readiness probe) and reachable (its load balancer has the address).
	Ready []pulumi.Resource
}

// Seed lengths: an Ed25519 seed, and a 256-bit secret.
const (
	adminSeedBytes = ed25519.SeedSize
	secretBytes    = 32
)

// NewAttestation registers the KBS: the namespace, then its configuration,
// the admin public key and the seeded secret, then the Deployment and the
// Service. Keys come from seeds Pulumi keeps in state, so every run
// deploys the same ones. The component must be given the cluster's
// Kubernetes provider with pulumi.Providers.
func NewAttestation(ctx *pulumi.Context, name string, args *AttestationArgs, opts ...pulumi.ResourceOption) (*Attestation, error) {
	if args == nil || args.Manifests == nil {
		return nil, fmt.Errorf("attestation %q: Manifests are required", name)
	}
	a := &Attestation{}
	if err := ctx.RegisterComponentResource("caa-azure:caa:Attestation", name, a, opts...); err != nil {
		return nil, err
	}
	adminSeed, err := random.NewRandomBytes(ctx, name+"-admin-seed", &random.RandomBytesArgs{Length: pulumi.Int(adminSeedBytes)}, pulumi.Parent(a))
	if err != nil {
		return nil, err
	}
	secret, err := random.NewRandomBytes(ctx, name+"-secret", &random.RandomBytesArgs{Length: pulumi.Int(secretBytes)}, pulumi.Parent(a))
	if err != nil {
		return nil, err
	}
	// The random provider marks these secret too; saying so here keeps them
	// secret whatever the provider does.
	seedText := pulumi.ToSecret(adminSeed.Base64).(pulumi.StringOutput)
	secretText := pulumi.ToSecret(secret.Base64).(pulumi.StringOutput)
	keys := seedText.ApplyT(AdminKeysFromSeed).(pulumi.StringArrayOutput)
	// The public half is no secret; showing it lets a reviewer see it is stable.
	publicKey := pulumi.Unsecret(keys.Index(pulumi.Int(0))).(pulumi.StringOutput)
	a.AdminPrivateKey = pulumi.ToSecret(keys.Index(pulumi.Int(1))).(pulumi.StringOutput)
	a.SecretSHA256 = pulumi.Unsecret(secretText.ApplyT(SecretDigest)).(pulumi.StringOutput)

	var withCluster []pulumi.ResourceOption
	if args.Cluster != nil {
		withCluster = append(withCluster, pulumi.DeletedWith(args.Cluster))
	}
	register := func(obj Object, deps []pulumi.Resource) (pulumi.Resource, error) {
		return registerObject(ctx, a, name, obj, deps, withCluster...)
	}
	var namespace, config []pulumi.Resource
	var workloads []Object
	for _, obj := range args.Manifests.Objects {
		switch {
		case kindOf(obj) == "Namespace":
			res, err := register(obj, nil)
			if err != nil {
				return nil, err
			}
			namespace = append(namespace, res)
			continue
		case kindOf(obj) == "Deployment" || kindOf(obj) == "Service":
			workloads = append(workloads, obj)
			continue
		case kindOf(obj) == "Secret" && nameOf(obj) == args.Manifests.AdminKeySecret:
			delete(obj, "data")
			obj["stringData"] = pulumi.StringMap{AdminKeyFile: publicKey}
		case kindOf(obj) == "Secret" && nameOf(obj) == args.Manifests.ResourceSecret:
			delete(obj, "data")
			obj["stringData"] = pulumi.StringMap{ResourceFile: secretText}
		}
		res, err := register(obj, namespace)
		if err != nil {
			return nil, err
		}
		config = append(config, res)
	}
	ready := append(append([]pulumi.Resource{}, namespace...), config...)
	// The KBS reads its configuration and keys at start.
	for _, obj := range workloads {
		res, err := register(obj, ready)
		if err != nil {
			return nil, err
		}
		a.Ready = append(a.Ready, res)
	}
	a.Ready = append(a.Ready, ready...)
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{
		"adminPrivateKey": a.AdminPrivateKey,
		"secretSha256":    a.SecretSHA256,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// AdminKeysFromSeed turns a base64 Ed25519 seed into the KBS admin's public
// key (PKIX PEM, what the KBS reads from kbs.pem) and private key (PKCS#8
// PEM, what kbs-client takes), as CAA's e2e writes them.
func AdminKeysFromSeed(seedBase64 string) ([]string, error) {
	seed, err := base64.StdEncoding.DecodeString(seedBase64)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("the KBS admin seed is not %d base64 bytes", ed25519.SeedSize)
	}
	private := ed25519.NewKeyFromSeed(seed)
	pub, err := x509.MarshalPKIXPublicKey(private.Public())
	if err != nil {
		return nil, err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		return nil, err
	}
	return []string{
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})),
	}, nil
}

// SecretDigest is the hex sha256 of the seeded secret as the KBS stores it
// (the text of its base64), what `sha256sum` prints in the sample.
func SecretDigest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
