package caa

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa/kbscert"
)

// AttestationArgs configures trustee's KBS.
type AttestationArgs struct {
	// Manifests are the rendered KBS objects (RenderTrustee).
	Manifests *TrusteeManifests
	// Cluster is the AKS cluster: every KBS object goes with it (the
	// internal load balancer lives in the cluster's node resource group).
	// Nil deletes them one by one.
	Cluster pulumi.Resource
	// Address is the KBS's address in the VNet, which its certificate
	// names.
	Address string
	// ResourcePolicy gives the KBS's resource policy for its certificate
	// (PEM), where Manifests bind the policy: the policy names a PCR 8,
	// which measures initdata, which pins the certificate.
	ResourcePolicy func(certificate string) (string, error)
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
	// Certificate is the KBS's https certificate (PEM), derived from a seed
	// in state: initdata pins it, kbs-client takes it as --cert-file.
	Certificate pulumi.StringOutput `pulumi:"certificate"`

	// Ready are the KBS objects: once registered the KBS is ready (its
	// readiness probe) and reachable (its load balancer has the address).
	Ready []pulumi.Resource
}

// Seed lengths: an Ed25519 seed, a 256-bit secret, and the TLS key's seed.
const (
	adminSeedBytes = ed25519.SeedSize
	secretBytes    = 32
	tlsSeedBytes   = kbscert.SeedSize
)

// KBSLoopback is in the certificate too: `kubectl port-forward` reaches
// the KBS at https://127.0.0.1:8080.
const KBSLoopback = "127.0.0.1"

// NewAttestation registers the KBS: the namespace, then its configuration,
// the admin public key and the seeded secret, then the Deployment and the
// Service. Keys come from seeds Pulumi keeps in state, so every run
// deploys the same ones. The component must be given the cluster's
// Kubernetes provider with pulumi.Providers.
func NewAttestation(ctx *pulumi.Context, name string, args *AttestationArgs, opts ...pulumi.ResourceOption) (*Attestation, error) {
	if args == nil || args.Manifests == nil {
		return nil, fmt.Errorf("attestation %q: Manifests are required", name)
	}
	if err := checkAttestationArgs(args); err != nil {
		return nil, fmt.Errorf("attestation %q: %w", name, err)
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
	tlsKey, err := a.deriveCertificate(ctx, name, args.Address)
	if err != nil {
		return nil, err
	}
	fillKBS := a.kbsFiller(args, tlsKey)

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
			fillKBS(obj)
			workloads = append(workloads, obj)
			continue
		case kindOf(obj) == "Secret" && nameOf(obj) == args.Manifests.AdminKeySecret:
			delete(obj, "data")
			obj["stringData"] = pulumi.StringMap{AdminKeyFile: publicKey}
		case kindOf(obj) == "Secret" && nameOf(obj) == args.Manifests.ResourceSecret:
			delete(obj, "data")
			obj["stringData"] = pulumi.StringMap{ResourceFile: secretText}
		default:
			fillKBS(obj)
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
		"certificate":     a.Certificate,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// deriveCertificate sets Certificate from a seed kept in state and returns
// the private key, a secret. The seed, not the certificate, is the state:
// the derivation is deterministic, so every run deploys the same pair.
func (a *Attestation) deriveCertificate(ctx *pulumi.Context, name, address string) (pulumi.StringOutput, error) {
	seed, err := random.NewRandomBytes(ctx, name+"-tls-seed", &random.RandomBytesArgs{Length: pulumi.Int(tlsSeedBytes)}, pulumi.Parent(a))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	pair := pulumi.ToSecret(seed.Base64).(pulumi.StringOutput).ApplyT(func(s string) ([]string, error) {
		return kbscert.DeriveBase64(s, address, KBSLoopback)
	}).(pulumi.StringArrayOutput)
	// The certificate is public: it is in every pod VM's initdata.
	a.Certificate = pulumi.Unsecret(pair.Index(pulumi.Int(0))).(pulumi.StringOutput)
	return pulumi.ToSecret(pair.Index(pulumi.Int(1))).(pulumi.StringOutput), nil
}

// kbsFiller returns what fills the rendered KBS objects from state: the
// https secret, the bound resource policy, and on the KBS's pod template
// the digests of both, so that a new certificate or policy restarts the KBS
// (it reads them at start; a secret volume would change under it unseen).
func (a *Attestation) kbsFiller(args *AttestationArgs, tlsKey pulumi.StringOutput) func(Object) {
	m := args.Manifests
	var policy pulumi.StringOutput
	if m.ResourcePolicy != "" {
		policy = a.Certificate.ApplyT(args.ResourcePolicy).(pulumi.StringOutput)
	}
	return func(obj Object) {
		switch {
		case kindOf(obj) == "Secret" && nameOf(obj) == m.TLSSecret:
			obj["stringData"] = pulumi.StringMap{TLSKeyFile: tlsKey, TLSCertFile: a.Certificate}
		case kindOf(obj) == "ConfigMap" && nameOf(obj) == m.ResourcePolicy:
			obj["data"] = pulumi.StringMap{ResourcePolicyFile: policy}
		case kindOf(obj) == "Deployment" && nameOf(obj) == KBSName:
			annotations := mapAt(obj, "spec", "template", "metadata", "annotations")
			annotations[TLSCertAnnotation] = a.Certificate.ApplyT(digest)
			if m.ResourcePolicy != "" {
				annotations[ResourcePolicyAnnotation] = policy.ApplyT(digest)
			}
		}
	}
}

// checkAttestationArgs refuses, before anything is registered, what would
// otherwise fail only once the certificate's seed is known.
func checkAttestationArgs(args *AttestationArgs) error {
	if _, err := netip.ParseAddr(args.Address); err != nil {
		return fmt.Errorf("Address %q is not the KBS's IP address (its certificate names it): %w", args.Address, err)
	}
	if args.Manifests.TLSSecret == "" {
		return errors.New("the KBS manifests have no https secret: render them with RenderTrustee")
	}
	if args.Manifests.ResourcePolicy != "" && args.ResourcePolicy == nil {
		return errors.New("the manifests bind the resource policy, but no ResourcePolicy is given")
	}
	return nil
}

// digest is the hex sha256 of a text.
func digest(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
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
func SecretDigest(secret string) string { return digest(secret) }
