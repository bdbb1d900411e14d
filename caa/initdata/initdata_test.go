package initdata

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"caa-azure/caa/upstream"
)

const (
	kbsURL = "https://10.0.255.254:8080"
	// kbsCert stands for the KBS's certificate: PEM, several lines.
	kbsCert = "-----BEGIN CERTIFICATE-----\nMIIBfake\n\"quoted\" '''\n-----END CERTIFICATE-----\n"
)

// TestPCR8Golden: the value was computed outside Go, as the pod VM does it:
// d=$(sha384sum doc | head -c64); (head -c32 /dev/zero; echo -n $d | xxd -r -p) | sha256sum
func TestPCR8Golden(t *testing.T) {
	doc := []byte("algorithm = \"sha384\"\nversion = \"0.1.0\"\n")
	if got, want := PCR8(doc), "ca62ce3d356842836ea6cc637f3cd6ad7ed8afe3aff43982749d78a573bb7961"; got != want {
		t.Fatalf("PCR8 = %s, want %s", got, want)
	}
}

func TestBuildPointsEveryClientAtKBS(t *testing.T) {
	doc, err := Build(kbsURL, kbsCert)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	var aa aaConfig
	if _, err := toml.Decode(d.Data[AAConfig], &aa); err != nil {
		t.Fatalf("aa.toml: %v", err)
	}
	var cdh cdhConfig
	if _, err := toml.Decode(d.Data[CDHConfig], &cdh); err != nil {
		t.Fatalf("cdh.toml: %v", err)
	}
	if aa.TokenConfigs.KBS.URL != kbsURL || aa.TokenConfigs.CoCoAS.URL != kbsURL || cdh.KBC.URL != kbsURL || cdh.KBC.Name != "cc_kbc" ||
		cdh.Socket != cdhSocket {
		t.Errorf("clients not pointed at %s: aa %+v cdh %+v", kbsURL, aa, cdh)
	}
	if aa.TokenConfigs.KBS.Cert != kbsCert || cdh.KBC.KBSCert != kbsCert {
		t.Errorf("the KBS certificate is not pinned as given: aa cert %q, cdh kbs_cert %q", aa.TokenConfigs.KBS.Cert, cdh.KBC.KBSCert)
	}
	unpinned, _ := Build(kbsURL, "")
	if strings.Contains(string(unpinned), "cert") {
		t.Errorf("without a certificate nothing may name one:\n%s", unpinned)
	}
	policy := d.Data[AgentPolicy]
	if !strings.HasPrefix(policy, "package agent_policy\n") || !strings.Contains(policy, "default ExecProcessRequest := false\n") ||
		!strings.Contains(policy, "default CreateContainerRequest := true\n") || strings.Count(policy, "default ") != len(AgentRequests) {
		t.Errorf("agent policy:\n%s", policy)
	}
	again, _ := Build(kbsURL, kbsCert)
	if string(again) != string(doc) {
		t.Error("the same address must give the same document")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	doc, err := Build(kbsURL, kbsCert)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{upstream.InitdataBase64, upstream.InitdataGzipBase64} {
		s, err := Encode(doc, enc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(s, "\n ") {
			t.Errorf("%s: the chart quotes values without escaping, so the text must be one line", enc)
		}
		back, err := Decode(s, enc)
		if err != nil || string(back) != string(doc) {
			t.Errorf("%s: round trip failed: %v", enc, err)
		}
		if again, _ := Encode(doc, enc); again != s {
			t.Errorf("%s: encoding is not deterministic", enc)
		}
	}
	plain, _ := Encode(doc, upstream.InitdataBase64)
	zipped, _ := Encode(doc, upstream.InitdataGzipBase64)
	if _, err := Decode(plain, upstream.InitdataGzipBase64); err == nil {
		t.Error("plain base64 must not pass as gzip")
	}
	if plain == zipped {
		t.Error("the two encodings must differ")
	}
	if _, err := Encode(doc, "zstd"); err == nil {
		t.Error("an unknown encoding must be an error")
	}
}

// TestEncodeRefusesOversizeDocument: the budget is 48 KiB of base64 (Azure's
// 64 KB userData less CAA's cloud-config around it), written out here
// rather than read from MaxEncodedSize, so changing the constant fails.
func TestEncodeRefusesOversizeDocument(t *testing.T) {
	const budget = 48 * 1024
	// 36,864 bytes encode to exactly 49,152 base64 characters; 3 more to 49,156.
	fits := []byte(strings.Repeat("x", budget/4*3))
	if out, err := Encode(fits, upstream.InitdataBase64); err != nil || len(out) != budget {
		t.Errorf("an initdata of exactly %d encoded bytes must be accepted: %d, %v", budget, len(out), err)
	}
	over := []byte(strings.Repeat("x", budget/4*3+3))
	if _, err := Encode(over, upstream.InitdataBase64); err == nil || !strings.Contains(err.Error(), "64 KB") {
		t.Errorf("an initdata of %d encoded bytes is over the userData budget and must be refused: %v", budget+4, err)
	}
}

func TestParseChecksHeader(t *testing.T) {
	if _, err := Parse([]byte("algorithm = \"sha256\"\nversion = \"0.1.0\"\n")); err == nil {
		t.Error("a sha256 document is not what the az-vtpm attesters measure")
	}
	if _, err := Parse([]byte("not toml [")); err == nil {
		t.Error("broken TOML must be an error")
	}
}

// FuzzDecode: whatever a pod annotation holds, Decode returns or fails; it
// never panics, and what it accepts Encode gives back.
func FuzzDecode(f *testing.F) {
	doc, _ := Build(kbsURL, kbsCert)
	for _, enc := range []string{upstream.InitdataBase64, upstream.InitdataGzipBase64} {
		s, _ := Encode(doc, enc)
		f.Add(s, enc == upstream.InitdataGzipBase64)
	}
	f.Add("H4sI", true)
	f.Fuzz(func(t *testing.T, s string, gzipped bool) {
		enc := upstream.InitdataBase64
		if gzipped {
			enc = upstream.InitdataGzipBase64
		}
		out, err := Decode(s, enc)
		if err != nil || len(out) > MaxEncodedSize/2 {
			return
		}
		again, err := Encode(out, enc)
		if err != nil {
			t.Fatalf("re-encoding %d decoded bytes: %v", len(out), err)
		}
		back, err := Decode(again, enc)
		if err != nil || string(back) != string(out) {
			t.Fatalf("round trip of decoded bytes failed: %v", err)
		}
	})
}
