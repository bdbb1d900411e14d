// Package kbscert derives the key broker's (KBS's) TLS certificate and key
// from a seed the stack keeps in Pulumi state. The pod VM pins that
// certificate (initdata's kbs_cert and cert), so only the holder of the key,
// the stack's KBS, can answer at the KBS's address. The derivation is
// deterministic: the same seed gives the same certificate on every run, so a
// second `pulumi up` changes nothing and the initdata (and its PCR 8) stays
// the same. It needs no SDK, so it is tested and fuzzed cheaply.
package kbscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"time"
)

// SeedSize is the seed's length in bytes.
const SeedSize = 32

// Fixed validity: a time in the certificate would change it on every run.
// The end is RFC 5280's "no well-defined expiration date": the certificate
// is pinned, not issued by an authority, so expiry would only stop every pod
// VM of a long-lived stack at once. It is rotated by replacing the seed.
var (
	NotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// CommonName is the certificate's subject; clients match the IP addresses.
const CommonName = "caa-azure KBS"

// Pair is a certificate and its private key, both PEM.
type Pair struct {
	// Certificate is the self-signed certificate (CERTIFICATE).
	Certificate string
	// PrivateKey is the ECDSA P-256 key (PKCS#8, PRIVATE KEY): both TLS
	// stacks trustee's KBS builds with read it (openssl's
	// set_private_key_file and rustls_pemfile).
	PrivateKey string
}

// Derive returns the pair for seed, valid for the given addresses. ECDSA
// P-256 because every TLS stack on both sides takes it (rustls/webpki and
// OpenSSL in guest-components and trustee); its signature is RFC 6979's
// deterministic one.
func Derive(seed []byte, addresses ...netip.Addr) (Pair, error) {
	if len(seed) != SeedSize {
		return Pair{}, fmt.Errorf("the KBS certificate seed is %d bytes, want %d", len(seed), SeedSize)
	}
	if len(addresses) == 0 {
		return Pair{}, errors.New("the KBS certificate needs at least one address")
	}
	key, err := keyFromSeed(seed)
	if err != nil {
		return Pair{}, err
	}
	template := &x509.Certificate{
		SerialNumber: serialOf(&key.PublicKey),
		Subject:      pkix.Name{CommonName: CommonName},
		NotBefore:    NotBefore,
		NotAfter:     NotAfter,
		// Not a CA: rustls (webpki) refuses a CA certificate as the
		// server's own. No key usage extension: OpenSSL 1.1 treats a
		// self-signed certificate whose key usage lacks keyCertSign as not
		// self-signed, and then does not trust it as its own anchor.
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, a := range addresses {
		if !a.IsValid() {
			return Pair{}, errors.New("the KBS certificate was given an invalid address")
		}
		template.IPAddresses = append(template.IPAddresses, a.AsSlice())
	}
	// A nil random source makes the signature deterministic (RFC 6979).
	der, err := x509.CreateCertificate(nil, template, template, &key.PublicKey, key)
	if err != nil {
		return Pair{}, fmt.Errorf("creating the KBS certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		PrivateKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}, nil
}

// DeriveBase64 is Derive for a base64 seed (random.RandomBytes's base64) and
// textual addresses, returning the certificate and the key: the shape a
// Pulumi apply takes.
func DeriveBase64(seedBase64 string, addresses ...string) ([]string, error) {
	seed, err := base64.StdEncoding.DecodeString(seedBase64)
	if err != nil {
		return nil, fmt.Errorf("the KBS certificate seed is not base64: %w", err)
	}
	addrs := make([]netip.Addr, len(addresses))
	for i, s := range addresses {
		if addrs[i], err = netip.ParseAddr(s); err != nil {
			return nil, fmt.Errorf("the KBS certificate's address: %w", err)
		}
	}
	p, err := Derive(seed, addrs...)
	if err != nil {
		return nil, err
	}
	return []string{p.Certificate, p.PrivateKey}, nil
}

// keyFromSeed maps the seed to a P-256 private key: a 384-bit hash of the
// seed reduced into [1, n-1] (its bias, under 2^-128, does not matter for a
// key), so every seed gives a key and no loop is needed.
func keyFromSeed(seed []byte) (*ecdsa.PrivateKey, error) {
	h := sha512.New384()
	h.Write([]byte("caa-azure kbs tls key"))
	h.Write(seed)
	order := elliptic.P256().Params().N
	d := new(big.Int).SetBytes(h.Sum(nil))
	d.Mod(d, new(big.Int).Sub(order, big.NewInt(1)))
	d.Add(d, big.NewInt(1))
	return ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(make([]byte, 32)))
}

// serialOf is a positive 128-bit serial from the public key: unique per
// key, the same on every run.
func serialOf(pub *ecdsa.PublicKey) *big.Int {
	raw, _ := pub.Bytes()
	sum := sha256.Sum256(raw)
	sum[0] &= 0x7f
	sum[0] |= 0x40 // never zero, always 16 bytes
	return new(big.Int).SetBytes(sum[:16])
}
