package caa

import (
	"testing"

	"caa-azure/caa/upstream"
)

func TestPeerPodsOptionalSettings(t *testing.T) {
	s := PeerPodsSettings{Tags: map[string]string{"caa-azure-stack": "caa-azure/snp", "team": "a"}}
	if got := s.optional(); len(got) != 1 || got["TAGS"] != "caa-azure-stack=caa-azure/snp,team=a" {
		t.Errorf("defaults write only TAGS: %v", got)
	}
	s.PeerPodsLimitPerNode = upstream.PeerPodsLimit
	if _, ok := s.optional()["PEERPODS_LIMIT_PER_NODE"]; ok {
		t.Error("the upstream default limit need not be written")
	}
	s.PeerPodsLimitPerNode, s.InstanceSizes, s.EnableSecureBoot = 4, []string{"Standard_DC2as_v5", "Standard_DC4as_v5"}, true
	got := s.optional()
	if got["PEERPODS_LIMIT_PER_NODE"] != "4" || got["AZURE_INSTANCE_SIZES"] != "Standard_DC2as_v5,Standard_DC4as_v5" || got["ENABLE_SECURE_BOOT"] != "true" {
		t.Errorf("optional settings: %v", got)
	}
}
