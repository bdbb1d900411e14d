package stack

import (
	"fmt"
	"regexp"
	"strings"

	"caa-azure/caa/upstream"
	"caa-azure/infra/azname"
)

// Defaults of the Kubernetes half.
const (
	DefaultSampleImage    = "nginx"
	DefaultSampleReplicas = 1
)

var (
	versionPattern = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+$`)
	imagePattern   = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	tagPattern     = regexp.MustCompile(`^([\w][\w.-]{0,127}(@sha256:[a-f0-9]{64})?|sha256:[a-f0-9]{64})$`)
)

// parseCAA reads and checks the keys of the Kubernetes half. The order of
// the steps is the order the user sees the problems in.
func parseCAA(c *Config, r *reader) (warnings []string) {
	warnings = parseRelease(c, r)
	parseInstall(c, r)
	parseSample(c, r)
	parsePodVMs(c, r)
	return warnings
}

// parseRelease resolves the CAA release with the user's overrides. A bad
// key skips the resolution, whose problems would only repeat it.
func parseRelease(c *Config, r *reader) (warnings []string) {
	version, overrides, ok := readRelease(r)
	if !ok {
		return nil
	}
	release, problems := upstream.ResolveRelease(version, overrides)
	for _, p := range problems {
		r.fail(keyCAAVersion, "%s", p)
	}
	c.Release = release
	checkRelease(c, r)
	if release.Unverified != "" {
		warnings = append(warnings, fmt.Sprintf("caaVersion %s: not verified at the release tag: %s", release.CAAVersion, release.Unverified))
	}
	return warnings
}

// readRelease reads the release version and its overrides; ok is false when
// any of them is malformed.
func readRelease(r *reader) (version string, overrides upstream.ReleaseOverrides, ok bool) {
	version = r.strOr(keyCAAVersion, upstream.DefaultVersion)
	overrides = upstream.ReleaseOverrides{
		OperatorVersion: r.str(keyOperatorVersion),
		Image:           r.strOr(keyCAAImage, upstream.DefaultImage),
		Tag:             r.str(keyCAATag),
		PodVMImageID:    r.str(keyPodVMImageID),
		ChartVersion:    r.str(keyChartVersion),
	}
	ok = true
	if !versionPattern.MatchString(version) {
		r.fail(keyCAAVersion, "%q is not a release version such as %s", version, upstream.DefaultVersion)
		ok = false
	}
	if v := overrides.OperatorVersion; v != "" && !versionPattern.MatchString(v) {
		r.fail(keyOperatorVersion, "%q is not a release version such as %s", v, upstream.DefaultVersion)
		ok = false
	}
	if !imagePattern.MatchString(overrides.Image) {
		r.fail(keyCAAImage, "%q is not a container image reference such as %s", overrides.Image, upstream.DefaultImage)
		ok = false
	}
	if t := overrides.Tag; t != "" && !tagPattern.MatchString(t) {
		r.fail(keyCAATag, "%q is not an image tag (letters, digits, '_', '.', '-'), a sha256 digest, or tag@sha256:<digest>", t)
		ok = false
	}
	if id := overrides.PodVMImageID; id != "" {
		if _, err := azname.ParseImageID(id); err != nil {
			r.fail(keyPodVMImageID, "%v", err)
			ok = false
		}
	}
	return version, overrides, ok
}

// parseInstall reads how the release is installed: local sources, the
// chart's webhook and the operator's RBAC proxy. What fits depends on the
// release's install method, so it comes after parseRelease.
func parseInstall(c *Config, r *reader) {
	c.CAASourceDir = r.str(keyCAASourceDir)
	if c.CAASourceDir != "" {
		check := upstream.CheckCAADir
		if c.Release.InstallMethod == upstream.InstallChart {
			check = upstream.CheckChartDir
		}
		if err := check(c.CAASourceDir); err != nil {
			r.fail(keyCAASourceDir, "%v", err)
		}
	}
	if v := r.str(keyChartVersion); v != "" && !versionPattern.MatchString(v) {
		r.fail(keyChartVersion, "%q is not a chart version such as 0.4.0", v)
	}
	c.Webhook = r.boolean(keyWebhook, false, "true installs the chart's peer-pods webhook, and cert-manager before it")
	if c.Webhook && c.Release.InstallMethod != upstream.InstallChart && c.Release.InstallMethod != "" {
		r.fail(keyWebhook, "is true but caaVersion %s installs with the operator, which has no webhook; use caaVersion 0.18.0 or later", c.Release.CAAVersion)
	}
	c.OperatorSourceDir = r.str(keyOperatorSourceDir)
	if c.OperatorSourceDir != "" {
		if err := upstream.CheckOperatorDir(c.OperatorSourceDir); err != nil {
			r.fail(keyOperatorSourceDir, "%v", err)
		}
	}
	c.RBACProxyImage = r.strOr(keyRBACProxyImage, upstream.DefaultRBACProxyImage)
	if !imagePattern.MatchString(c.RBACProxyImage) {
		r.fail(keyRBACProxyImage, "%q is not a container image reference such as %s", c.RBACProxyImage, upstream.DefaultRBACProxyImage)
	}
}

// parseSample reads the sample workload; each replica is an Azure VM, hence
// the bound.
func parseSample(c *Config, r *reader) {
	c.Sample = r.boolean(keySample, true, "true deploys the nginx sample, false skips it")
	c.SampleImage = r.strOr(keySampleImage, DefaultSampleImage)
	if !imagePattern.MatchString(c.SampleImage) {
		r.fail(keySampleImage, "%q is not a container image reference such as nginx or nginx:1.27", c.SampleImage)
	}
	c.SampleReplicas = r.integer(keySampleReplicas, DefaultSampleReplicas, "use 1 to 100 (each replica is an Azure VM), or sample false for none",
		func(n int) string {
			if n < 1 || n > 100 {
				return "is out of range"
			}
			return ""
		})
}

// parsePodVMs reads what CAA is told about the pod VMs it creates.
func parsePodVMs(c *Config, r *reader) {
	c.PeerPodsLimitPerNode = r.integer(keyPeerPodsLimitPerNode, upstream.PeerPodsLimit,
		"use the pod VMs allowed per node (CAA's default is 10), or a negative number to not advertise a limit", func(n int) string {
			if n == 0 {
				return "would forbid every peer pod"
			}
			return ""
		})
	for _, size := range r.list(keyInstanceSizes) {
		if _, err := checkInstanceSizeForTEE(c.TEE, size); err != nil {
			r.fail(keyInstanceSizes, "%v", err)
			continue
		}
		c.InstanceSizes = append(c.InstanceSizes, size)
	}
	c.EnableSecureBoot = r.boolean(keyEnableSecureBoot, false, "ENABLE_SECURE_BOOT for confidential pod VMs")
	if c.EnableSecureBoot && c.DisableCVM {
		r.fail(keyEnableSecureBoot, "is true but disableCvm is true; CAA enables secure boot only on confidential VMs")
		c.EnableSecureBoot = false
	}
	c.PodVMTags = parsePodVMTags(r)
}

// parsePodVMTags reads the tags CAA puts on each pod VM.
func parsePodVMTags(r *reader) map[string]string {
	return parseTags(r, keyPodVMTags, func(k, v string) string {
		// CAA's entrypoint passes `-tags ${TAGS}` unquoted (v0.10.0's
		// entrypoint.sh), so a space would split the value and drop every
		// flag after it.
		if strings.ContainsAny(k, ",= \t\n"+badTagChars) || strings.ContainsAny(v, ",= \t\n") {
			return fmt.Sprintf("tag %q=%q cannot be passed to CAA; names and values must not contain ',', '=' or spaces "+
				"(and names none of %s); use '-' or '_' instead, such as cost-center=team_a", k, v, badTagChars)
		}
		return ""
	})
}

// checkRelease refuses what the release cannot do with these settings.
func checkRelease(c *Config, r *reader) {
	rel := c.Release
	if rel.PodVMImageID == "" && rel.CAAVersion != "" && rel.InstallMethod != "" {
		r.fail(keyPodVMImageID, "is required with caaVersion %s: %s", rel.CAAVersion, upstream.NoPodVMImage)
	}
	if rel.PodVMImageID != "" {
		img, err := azname.ParseImageID(rel.PodVMImageID)
		if err != nil {
			r.fail(keyPodVMImageID, "caaVersion %s's default: %v", rel.CAAVersion, err)
		}
		c.PodVMImage = img
	}
	if rel.InstallMethod != upstream.InstallChart {
		return
	}
	if _, _, err := rel.ImageRef().ChartNameTag(); err != nil {
		r.fail(keyCAATag, "%v", err)
	}
	// The chart path has no operator: a value for it would be ignored.
	if r.str(keyOperatorVersion) != "" {
		r.fail(keyOperatorVersion, "is set but caaVersion %s installs with CAA's peerpods chart, which has no operator; "+
			"remove it (`pulumi config rm %s`), or use caaVersion 0.17.0 or earlier for the operator", rel.CAAVersion, qualify(keyOperatorVersion))
	}
	if r.str(keyOperatorSourceDir) != "" {
		r.fail(keyOperatorSourceDir, "is set but caaVersion %s installs with CAA's peerpods chart, which has no operator; "+
			"remove it (`pulumi config rm %s`)", rel.CAAVersion, qualify(keyOperatorSourceDir))
	}
}
