// Package initdata builds the initdata document a pod VM reads at boot: where
// its attestation agent (AA) and confidential data hub (CDH) find the key
// broker, and the kata agent's policy. It also encodes the document as a
// CAA release expects and computes the PCR 8 value the pod VM image extends
// with its digest. It needs no SDK, so it is fuzzed cheaply.
package initdata

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/BurntSushi/toml"

	"caa-azure/caa/upstream"
)

// Version and Algorithm are the initdata specification's fields as CAA's
// e2e writes them (test/e2e/common.go); sha384 is the digest the az-vtpm
// attesters report.
const (
	Version   = "0.1.0"
	Algorithm = "sha384"
)

// Names of the documents inside [data].
const (
	AAConfig    = "aa.toml"
	CDHConfig   = "cdh.toml"
	AgentPolicy = "policy.rego"
)

// cdhSocket is where the kata agent expects the CDH (guest-components' default).
const cdhSocket = "unix:///run/confidential-containers/cdh.sock"

// MaxEncodedSize bounds the encoded document. Azure refuses userData over
// 64 KB after base64 (CAA's src/cloud-providers/azure/provider.go), and
// CAA's cloud-config around initdata needs some of it.
const MaxEncodedSize = 48 * 1024

type tokenConfig struct {
	URL string `toml:"url"`
}

// The attestation agent's KBS client takes the KBS's certificate as cert
// (attestation-agent/src/config/kbs.rs), the data hub's as kbs_cert
// (confidential-data-hub/hub/src/config), at every guest-components
// reference CAA 0.10.0 to 0.22.0 pins; both add it as the TLS root.
type aaConfig struct {
	TokenConfigs struct {
		CoCoAS tokenConfig `toml:"coco_as"`
		KBS    struct {
			URL  string `toml:"url"`
			Cert string `toml:"cert,omitempty"`
		} `toml:"kbs"`
	} `toml:"token_configs"`
}

type cdhConfig struct {
	Socket string `toml:"socket"`
	KBC    struct {
		Name    string `toml:"name"`
		URL     string `toml:"url"`
		KBSCert string `toml:"kbs_cert,omitempty"`
	} `toml:"kbc"`
}

// Document is the initdata TOML: the specification's header and the files
// the pod VM writes out.
type Document struct {
	Algorithm string            `toml:"algorithm"`
	Version   string            `toml:"version"`
	Data      map[string]string `toml:"data"`
}

// Build returns the initdata TOML pointing the AA and the CDH at kbsURL
// (the KBS serves the CoCo attestation service too) and pinning kbsCert
// (PEM; empty pins nothing), with Policy: what every pod VM without its own
// initdata boots with.
func Build(kbsURL, kbsCert string) ([]byte, error) { return BuildWithPolicy(kbsURL, kbsCert, Policy()) }

// BuildWithPolicy is Build with another kata agent policy, such as a
// SamplePolicy that pins what the pod VM may run.
func BuildWithPolicy(kbsURL, kbsCert, agentPolicy string) ([]byte, error) {
	var aa aaConfig
	aa.TokenConfigs.CoCoAS.URL = kbsURL
	aa.TokenConfigs.KBS.URL = kbsURL
	aa.TokenConfigs.KBS.Cert = kbsCert
	var cdh cdhConfig
	cdh.Socket = cdhSocket
	cdh.KBC.Name = "cc_kbc"
	cdh.KBC.URL = kbsURL
	cdh.KBC.KBSCert = kbsCert
	aaText, err := encodeTOML(aa)
	if err != nil {
		return nil, err
	}
	cdhText, err := encodeTOML(cdh)
	if err != nil {
		return nil, err
	}
	out, err := encodeTOML(Document{Algorithm: Algorithm, Version: Version, Data: map[string]string{
		AAConfig: aaText, CDHConfig: cdhText, AgentPolicy: agentPolicy,
	}})
	return []byte(out), err
}

func encodeTOML(v any) (string, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(v); err != nil {
		return "", fmt.Errorf("encoding initdata: %w", err)
	}
	return b.String(), nil
}

// Parse reads an initdata TOML and checks its header.
func Parse(doc []byte) (*Document, error) {
	var d Document
	if _, err := toml.Decode(string(doc), &d); err != nil {
		return nil, fmt.Errorf("initdata is not TOML: %w", err)
	}
	if d.Algorithm != Algorithm || d.Version != Version {
		return nil, fmt.Errorf("initdata header is algorithm %q version %q, want %q %q", d.Algorithm, d.Version, Algorithm, Version)
	}
	return &d, nil
}

// Encode encodes the TOML as the release's annotation and INITDATA take
// it. gzip writes no name and no time, so the same document always gives
// the same text.
func Encode(doc []byte, encoding string) (string, error) {
	var payload []byte
	switch encoding {
	case upstream.InitdataBase64:
		payload = doc
	case upstream.InitdataGzipBase64:
		var b bytes.Buffer
		w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err != nil {
			return "", err
		}
		if _, err := w.Write(doc); err != nil {
			return "", err
		}
		if err := w.Close(); err != nil {
			return "", err
		}
		payload = b.Bytes()
	default:
		return "", fmt.Errorf("unknown initdata encoding %q", encoding)
	}
	out := base64.StdEncoding.EncodeToString(payload)
	if len(out) > MaxEncodedSize {
		return "", fmt.Errorf("encoded initdata is %d bytes, over the %d CAA can put in Azure's 64 KB userData", len(out), MaxEncodedSize)
	}
	return out, nil
}

// Decode reverses Encode.
func Decode(s, encoding string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("initdata is not base64: %w", err)
	}
	switch encoding {
	case upstream.InitdataBase64:
		return raw, nil
	case upstream.InitdataGzipBase64:
		r, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("initdata is not gzip: %w", err)
		}
		// The document is small; a bound keeps a hostile value from filling memory.
		out, err := io.ReadAll(io.LimitReader(r, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("initdata is not gzip: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown initdata encoding %q", encoding)
	}
}

// PCR8 is the value PCR 8 (sha256 bank) holds after the pod VM image
// extends it once, from zero, with the initdata digest cut to 32 bytes
// (`tpm2_pcrextend 8:sha256=$(head -c64 /run/peerpod/initdata.digest)`,
// CAA's process-user-data drop-in from v0.12.0): sha256(0^32 ‖ sha384(doc)[:32]).
func PCR8(doc []byte) string {
	digest := sha512.Sum384(doc)
	var buf [64]byte
	copy(buf[32:], digest[:32])
	sum := sha256.Sum256(buf[:])
	return hex.EncodeToString(sum[:])
}
