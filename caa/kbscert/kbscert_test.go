package kbscert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net"
	"net/netip"
	"strings"
	"testing"
)

var (
	kbsAddress = netip.MustParseAddr("10.224.255.254")
	loopback   = netip.MustParseAddr("127.0.0.1")
)

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, SeedSize) }

func derive(t *testing.T, s []byte, addrs ...netip.Addr) Pair {
	t.Helper()
	p, err := Derive(s, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parse(t *testing.T, p Pair) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(p.Certificate))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", p.Certificate)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSameSeedSameCertificate: a second run derives byte-for-byte the same
// certificate and key, so nothing downstream (initdata, PCR 8) changes.
func TestSameSeedSameCertificate(t *testing.T) {
	a := derive(t, seed(1), kbsAddress, loopback)
	b := derive(t, seed(1), kbsAddress, loopback)
	if a != b {
		t.Fatalf("the same seed gave two certificates:\n%s\n%s", a.Certificate, b.Certificate)
	}
	c := derive(t, seed(2), kbsAddress, loopback)
	if c.Certificate == a.Certificate || c.PrivateKey == a.PrivateKey {
		t.Fatal("two seeds gave the same certificate or key")
	}
}

// TestCertificateShape: what the TLS stacks on both sides need of it.
func TestCertificateShape(t *testing.T) {
	p := derive(t, seed(3), kbsAddress, loopback)
	c := parse(t, p)
	if c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("the certificate must say it is not a CA (webpki refuses a CA as the server's own): IsCA=%v valid=%v", c.IsCA, c.BasicConstraintsValid)
	}
	if c.KeyUsage != 0 {
		t.Errorf("key usage %v: OpenSSL 1.1 would not treat the certificate as self-signed without keyCertSign", c.KeyUsage)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("extended key usage %v, want serverAuth only", c.ExtKeyUsage)
	}
	if !c.NotBefore.Equal(NotBefore) || !c.NotAfter.Equal(NotAfter) {
		t.Errorf("validity %v to %v, want the fixed %v to %v", c.NotBefore, c.NotAfter, NotBefore, NotAfter)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if strings.Join(ips, ",") != "10.224.255.254,127.0.0.1" {
		t.Errorf("IP addresses %v, want the KBS's and loopback", ips)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("key %T signed with %v, want ECDSA P-256 with SHA-256", c.PublicKey, c.SignatureAlgorithm)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() != 127 {
		t.Errorf("serial %v: want a positive 127-bit number", c.SerialNumber)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	block, _ := pem.Decode([]byte(p.PrivateKey))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("the key is not PKCS#8 PEM: %q", p.PrivateKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(c.PublicKey) {
		t.Error("the key is not the certificate's")
	}
}

// serve runs a TLS server with pair on loopback and returns its address.
func serve(t *testing.T, p Pair) string {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(p.Certificate), []byte(p.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	return l.Addr().String()
}

// dial connects to addr trusting only pinned, as the pod VM does with
// initdata's kbs_cert.
func dial(addr, pinned string) error {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(pinned))
	c, err := tls.DialWithDialer(&net.Dialer{}, "tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		return err
	}
	return c.Close()
}

// TestPinnedCertificateAdmitsOnlyTheKBS: a client pinning the stack's
// certificate talks to a server holding its key, and refuses a server with
// another seed's certificate for the same address (a host in the VNet
// posing as the KBS).
func TestPinnedCertificateAdmitsOnlyTheKBS(t *testing.T) {
	kbs := derive(t, seed(4), kbsAddress, loopback)
	if err := dial(serve(t, kbs), kbs.Certificate); err != nil {
		t.Fatalf("the pinned certificate's own server is refused: %v", err)
	}
	impostor := derive(t, seed(5), kbsAddress, loopback)
	if err := dial(serve(t, impostor), kbs.Certificate); err == nil {
		t.Fatal("a server with another certificate for the same address was trusted")
	}
	// The certificate names its addresses: for another one it is refused.
	elsewhere := derive(t, seed(4), kbsAddress)
	if err := dial(serve(t, elsewhere), elsewhere.Certificate); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("a certificate without 127.0.0.1 was accepted there: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	for name, run := range map[string]func() error{
		"short seed":   func() error { _, err := Derive(seed(1)[:31], kbsAddress); return err },
		"no address":   func() error { _, err := Derive(seed(1)); return err },
		"zero address": func() error { _, err := Derive(seed(1), netip.Addr{}); return err },
		"not base64":   func() error { _, err := DeriveBase64("%%%", "10.0.0.1"); return err },
		"bad address":  func() error { _, err := DeriveBase64(base64.StdEncoding.EncodeToString(seed(1)), "10.0.0"); return err },
	} {
		if err := run(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	out, err := DeriveBase64(base64.StdEncoding.EncodeToString(seed(6)), "10.224.255.254", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if want := derive(t, seed(6), kbsAddress, loopback); out[0] != want.Certificate || out[1] != want.PrivateKey {
		t.Error("DeriveBase64 differs from Derive")
	}
}

// TestDerivationIsStable: the certificate for a given seed never changes
// between versions of the program. If it did, the first `pulumi up` after
// upgrading would give every pod VM new initdata (and a new PCR 8), restart
// the KBS and roll CAA, with nothing in the stack's configuration changed.
func TestDerivationIsStable(t *testing.T) {
	p := derive(t, seed(1), kbsAddress, loopback)
	sum := sha256.Sum256([]byte(p.Certificate))
	if got, want := hex.EncodeToString(sum[:]), goldenCertificateSHA256; got != want {
		t.Fatalf("the certificate for a fixed seed changed: sha256 %s, was %s", got, want)
	}
	key, err := keyFromSeed(seed(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(mustBytes(t, key)); got != goldenScalar {
		t.Fatalf("the key for a fixed seed changed: %s, was %s", got, goldenScalar)
	}
}

// The certificate digest was computed once by this package (2026-12-01);
// the scalar independently, in Python: sha384(prefix || seed) mod (n-1) + 1.
const (
	goldenCertificateSHA256 = "c918ba807a7661e5ca677fd79030a0fbe23db88cce3dddf368bfb6a0559ed7c0"
	goldenScalar            = "b96d58ea869e0c40c4fee2dd0b89ce3b8860c84c690fc3c93c353bdf4c89184d"
)

func mustBytes(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
