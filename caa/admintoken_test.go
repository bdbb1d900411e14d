package caa

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminTokenScript runs scripts/kbs-admin-token.sh, the documented way
// to turn the exported admin key into the token kbs-client takes from
// trustee v0.21.0, and checks the token as the KBS does: an EdDSA JWT whose
// signature verifies with the admin public key the KBS is given, with role
// admin and an expiry (jsonwebtoken's default validation requires exp).
func TestAdminTokenScript(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skipf("the script needs openssl, which is not on PATH; skipped")
	}
	keys, err := AdminKeysFromSeed(base64.StdEncoding.EncodeToString(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "admin.pem")
	if err := os.WriteFile(keyFile, []byte(keys[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "../scripts/kbs-admin-token.sh", keyFile, "600").CombinedOutput()
	if err != nil {
		t.Fatalf("the script failed: %v\n%s", err, out)
	}
	parts := strings.Split(strings.TrimSpace(string(out)), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", out)
	}
	block, _ := pem.Decode([]byte(keys[0]))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(pub.(ed25519.PublicKey), []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatalf("the signature does not verify with the KBS's admin public key: %v", err)
	}
	var header struct{ Alg string }
	var claims struct {
		Role string
		Exp  int64
	}
	for i, v := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, v) != nil {
			t.Fatalf("part %d is not base64url JSON: %v", i, err)
		}
	}
	now := time.Now().Unix()
	if header.Alg != "EdDSA" || claims.Role != "admin" || claims.Exp <= now || claims.Exp > now+600+5 {
		t.Errorf("header %+v claims %+v: want EdDSA, role admin, exp within 600 s", header, claims)
	}
}
