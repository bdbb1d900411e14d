package stack

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"caa-azure/caa"
)

// Defaults of the Kubernetes half.
const (
	DefaultSampleImage    = "nginx"
	DefaultSampleReplicas = 1
)

var (
	versionPattern = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+$`)
	imagePattern   = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	tagPattern     = regexp.MustCompile(`^([\w][\w.-]{0,127}|sha256:[a-f0-9]{64})$`)
	imageIDPattern = regexp.MustCompile(`^/(CommunityGalleries|subscriptions)/[^\s]+$`)
)

// parseCAA reads and checks the keys of the Kubernetes half.
func parseCAA(c *Config, value func(string) string, orDefault func(string, string) string, errs *problems) {
	version := orDefault(KeyCAAVersion, caa.DefaultVersion)
	overrides := caa.ReleaseOverrides{
		OperatorVersion: value(KeyOperatorVersion),
		Image:           orDefault(KeyCAAImage, caa.DefaultImage),
		Tag:             value(KeyCAATag),
		PodVMImageID:    value(KeyPodVMImageID),
		ChartVersion:    value(KeyChartVersion),
	}
	versionOK := true
	if !versionPattern.MatchString(version) {
		errs.add(KeyCAAVersion, "%q is not a release version such as %s", version, caa.DefaultVersion)
		versionOK = false
	}
	if v := overrides.OperatorVersion; v != "" && !versionPattern.MatchString(v) {
		errs.add(KeyOperatorVersion, "%q is not a release version such as %s", v, caa.DefaultVersion)
		versionOK = false
	}
	if !imagePattern.MatchString(overrides.Image) {
		errs.add(KeyCAAImage, "%q is not a container image reference such as %s", overrides.Image, caa.DefaultImage)
		versionOK = false
	}
	if t := overrides.Tag; t != "" && !tagPattern.MatchString(t) {
		errs.add(KeyCAATag, "%q is not an image tag (letters, digits, '_', '.', '-') or sha256 digest", t)
		versionOK = false
	}
	if id := overrides.PodVMImageID; id != "" && !imageIDPattern.MatchString(id) {
		errs.add(KeyPodVMImageID, "%q is not an image id; use a community gallery id (/CommunityGalleries/...) "+
			"or a managed image or gallery version id (/subscriptions/...)", id)
		versionOK = false
	}
	if versionOK {
		release, problems := caa.ResolveRelease(version, overrides)
		for _, p := range problems {
			errs.add(KeyCAAVersion, "%s", p)
		}
		c.Release = release
	}

	c.CAASourceDir = value(KeyCAASourceDir)
	if c.CAASourceDir != "" {
		check := caa.CheckCAADir
		if c.Release.InstallMethod == caa.InstallChart {
			check = caa.CheckChartDir
		}
		if err := check(c.CAASourceDir); err != nil {
			errs.add(KeyCAASourceDir, "%v", err)
		}
	}
	if v := value(KeyChartVersion); v != "" && !versionPattern.MatchString(v) {
		errs.add(KeyChartVersion, "%q is not a chart version such as 0.4.0", v)
	}
	c.Webhook = parseBool(KeyWebhook, value(KeyWebhook), false, errs,
		"true installs the chart's peer-pods webhook, and cert-manager before it")
	if c.Webhook && c.Release.InstallMethod != caa.InstallChart && c.Release.InstallMethod != "" {
		errs.add(KeyWebhook, "is true but caaVersion %s installs with the operator, which has no webhook; use caaVersion 0.18.0 or later", c.Release.CAAVersion)
	}
	c.OperatorSourceDir = value(KeyOperatorSourceDir)
	if c.OperatorSourceDir != "" {
		if err := caa.CheckOperatorDir(c.OperatorSourceDir); err != nil {
			errs.add(KeyOperatorSourceDir, "%v", err)
		}
	}
	c.RBACProxyImage = orDefault(KeyRBACProxyImage, caa.DefaultRBACProxyImage)
	if !imagePattern.MatchString(c.RBACProxyImage) {
		errs.add(KeyRBACProxyImage, "%q is not a container image reference such as %s", c.RBACProxyImage, caa.DefaultRBACProxyImage)
	}

	c.Sample = parseBool(KeySample, value(KeySample), true, errs, "true deploys the nginx sample, false skips it")
	c.SampleImage = orDefault(KeySampleImage, DefaultSampleImage)
	if !imagePattern.MatchString(c.SampleImage) {
		errs.add(KeySampleImage, "%q is not a container image reference such as nginx or nginx:1.27", c.SampleImage)
	}
	c.SampleReplicas = DefaultSampleReplicas
	if raw := value(KeySampleReplicas); raw != "" {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			errs.add(KeySampleReplicas, "%q is not a whole number", raw)
		case n < 1 || n > 100:
			errs.add(KeySampleReplicas, "%d is out of range; use 1 to 100 (each replica is an Azure VM), or sample false for none", n)
		default:
			c.SampleReplicas = n
		}
	}

	c.PeerPodsLimitPerNode = caa.UpstreamPeerPodsLimit
	if raw := value(KeyPeerPodsLimitPerNode); raw != "" {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			errs.add(KeyPeerPodsLimitPerNode, "%q is not a whole number; use the pod VMs allowed per node (CAA's default is 10)", raw)
		case n == 0:
			errs.add(KeyPeerPodsLimitPerNode, "0 would forbid every peer pod; use a positive number, or a negative one to not advertise a limit")
		default:
			c.PeerPodsLimitPerNode = n
		}
	}
	if raw := value(KeyInstanceSizes); raw != "" {
		for _, size := range strings.Split(raw, ",") {
			size = strings.TrimSpace(size)
			if _, err := checkInstanceSizeForTEE(c.TEE, size); err != nil {
				errs.add(KeyInstanceSizes, "%v", err)
				continue
			}
			c.InstanceSizes = append(c.InstanceSizes, size)
		}
	}
	c.EnableSecureBoot = parseBool(KeyEnableSecureBoot, value(KeyEnableSecureBoot), false, errs, "ENABLE_SECURE_BOOT for confidential pod VMs")
	if c.EnableSecureBoot && c.DisableCVM {
		errs.add(KeyEnableSecureBoot, "is true but disableCvm is true; CAA enables secure boot only on confidential VMs")
		c.EnableSecureBoot = false
	}

	c.PodVMTags = parseTags(KeyPodVMTags, value(KeyPodVMTags), c.StackID(), errs, func(k, v string) string {
		if strings.ContainsAny(k, ",="+badTagChars) || strings.ContainsAny(v, ",=") {
			return fmt.Sprintf("tag %q=%q cannot be passed to CAA; names and values must not contain ',' or '=' (and names none of %s)", k, v, badTagChars)
		}
		return ""
	})
}
