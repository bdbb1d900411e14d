package upstream

import (
	"fmt"
	"os"
	"path/filepath"
)

// Upstream repositories, cloned as `kubectl apply -k github.com/...?ref=` would.
const (
	CAARepository      = "https://github.com/confidential-containers/cloud-api-adaptor"
	OperatorRepository = "https://github.com/confidential-containers/operator"
)

// Paths inside the repositories that the guide applies.
const (
	// CAAInstallDir is relative to the CAA repository root; a caaSourceDir
	// points at src/cloud-api-adaptor itself, as the guide's DIY path does.
	CAASubdir           = "src/cloud-api-adaptor"
	CAAInstallDir       = "install/yamls"
	OperatorReleaseDir  = "config/release"
	OperatorPeerPodsDir = "config/samples/ccruntime/peer-pods"
)

// CheckCAADir reports whether dir looks like src/cloud-api-adaptor.
func CheckCAADir(dir string) error {
	return needFile(dir, filepath.Join(CAAInstallDir, "kustomization.yaml"),
		"the src/cloud-api-adaptor directory of a cloud-api-adaptor checkout")
}

// ChartDir is the peerpods chart inside src/cloud-api-adaptor (v0.18.0 on).
const ChartDir = "install/charts/peerpods"

// CheckChartDir reports whether dir (src/cloud-api-adaptor) holds the chart.
func CheckChartDir(dir string) error {
	return needFile(dir, filepath.Join(ChartDir, "Chart.yaml"),
		"the src/cloud-api-adaptor directory of a cloud-api-adaptor checkout of v0.18.0 or later")
}

// CheckOperatorDir reports whether dir looks like an operator checkout.
func CheckOperatorDir(dir string) error {
	if err := needFile(dir, filepath.Join(OperatorReleaseDir, "kustomization.yaml"), "the root of an operator checkout"); err != nil {
		return err
	}
	return needFile(dir, filepath.Join(OperatorPeerPodsDir, "kustomization.yaml"), "the root of an operator checkout")
}

func needFile(dir, rel, what string) error {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("%q is not a directory; it must be %s", dir, what)
	}
	if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
		return fmt.Errorf("%q has no %s; it must be %s", dir, rel, what)
	}
	return nil
}
