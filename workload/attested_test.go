package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAttestedScript runs the sample's script with /bin/sh and a stand-in
// wget (the CDH's answer), for every outcome it must tell apart.
func TestAttestedScript(t *testing.T) {
	bin := t.TempDir()
	fake := map[string]string{
		"wget": "#!/bin/sh\ncase \"$*\" in *evidence*) echo '{\"pcrs\":[]}'; exit 0;; *aa/token*) [ -n \"$FAKE_TOKEN\" ]; exit $?;; esac\n" +
			"[ -n \"$FAKE_BODY\" ] && { printf '%s' \"$FAKE_BODY\"; exit 0; }\nexit 1\n",
		"sleep": "#!/bin/sh\nexit 0\n",
	}
	for name, body := range fake {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte("the-secret"))
	digest := hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		expect, released, token string
		ok                      bool
	}{
		{ExpectReleased, "the-secret", "t", true},
		{ExpectReleased, "another-secret", "t", false},
		{ExpectReleased, "", "t", false},
		{ExpectReleased, "", "", false},
		{ExpectRefused, "", "t", true},
		// Unreachable (no token): not a refusal.
		{ExpectRefused, "", "", false},
		{ExpectRefused, "the-secret", "t", false},
	} {
		cmd := exec.Command("/bin/sh", "-c", attestedScript)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "EXPECT=" + tc.expect, "FAKE_BODY=" + tc.released, "FAKE_TOKEN=" + tc.token,
			"SECRET_SHA256=" + digest, "RESOURCE_URL=http://127.0.0.1:8006/cdh/resource/r/t/k"}
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("expect %s, token %q, KBS released %q: succeeded %v, want %v\n%s", tc.expect, tc.token, tc.released, err == nil, tc.ok, out)
		}
	}
}
