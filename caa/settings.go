package caa

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/caa/upstream"
)

// PeerPodsSettings are the values of the peer-pods-cm ConfigMap.
type PeerPodsSettings struct {
	SubscriptionID string
	Region         string
	InstanceSize   string
	ResourceGroup  pulumi.StringInput
	SubnetID       pulumi.StringInput
	ImageID        string
	DisableCVM     bool
	// Optional CAA settings, written only when they differ from upstream.
	PeerPodsLimitPerNode int
	InstanceSizes        []string
	EnableSecureBoot     bool
	// Tags are the pod VMs' tags; StackTag, when set, is added to them: the
	// stack's own tag, so this stack's pod VMs can be found, whose value is
	// an output (it carries the stack's random suffix).
	Tags     map[string]string
	StackTag *OutputTag
	// Initdata is the global INITDATA, encoded as the release reads it: pod
	// VMs without their own initdata annotation boot with it. An output:
	// it pins the KBS's certificate, which comes from a seed in state.
	Initdata pulumi.StringInput
}

// ConfigMapData renders the settings as peer-pods-cm data. Values are plain
// strings: the guide's quotes are stripped by kustomize, so DISABLECVM is
// false, not "false".
func (s PeerPodsSettings) ConfigMapData() pulumi.StringMap {
	data := pulumi.StringMap{
		"CLOUD_PROVIDER":        pulumi.String("azure"),
		"AZURE_SUBSCRIPTION_ID": pulumi.String(s.SubscriptionID),
		"AZURE_REGION":          pulumi.String(s.Region),
		"AZURE_INSTANCE_SIZE":   pulumi.String(s.InstanceSize),
		"AZURE_RESOURCE_GROUP":  s.ResourceGroup,
		"AZURE_SUBNET_ID":       s.SubnetID,
		"AZURE_IMAGE_ID":        pulumi.String(s.ImageID),
		"DISABLECVM":            pulumi.String(fmt.Sprint(s.DisableCVM)),
	}
	for k, v := range s.optional() {
		data[k] = pulumi.String(v)
	}
	if s.Initdata != nil {
		data["INITDATA"] = s.Initdata
	}
	if t := s.StackTag; t != nil {
		user := s.Tags
		data["TAGS"] = t.Value.ToStringOutput().ApplyT(func(v string) string {
			all := map[string]string{t.Key: v}
			for k, uv := range user {
				all[k] = uv
			}
			return FormatTags(all)
		}).(pulumi.StringOutput)
	}
	return data
}

// OutputTag is a tag whose value is known only at deploy time.
type OutputTag struct {
	Key   string
	Value pulumi.StringInput
}

// ProviderConfig is the chart's providerConfigs.azure: the same settings
// without CLOUD_PROVIDER (the chart's `provider`). The chart's configmap
// template copies every key of it into peer-pods-cm.
func (s PeerPodsSettings) ProviderConfig() pulumi.StringMap {
	data := s.ConfigMapData()
	delete(data, "CLOUD_PROVIDER")
	return data
}

// optional returns the settings written only when the user changed them.
func (s PeerPodsSettings) optional() map[string]string {
	out := map[string]string{"TAGS": FormatTags(s.Tags)}
	if s.PeerPodsLimitPerNode != 0 && s.PeerPodsLimitPerNode != upstream.PeerPodsLimit {
		out["PEERPODS_LIMIT_PER_NODE"] = fmt.Sprint(s.PeerPodsLimitPerNode)
	}
	if len(s.InstanceSizes) > 0 {
		out["AZURE_INSTANCE_SIZES"] = strings.Join(s.InstanceSizes, ",")
	}
	if s.EnableSecureBoot {
		out["ENABLE_SECURE_BOOT"] = "true"
	}
	return out
}

// FormatTags renders tags as CAA's TAGS value, k1=v1,k2=v2, sorted so the
// ConfigMap never changes between runs.
func FormatTags(tags map[string]string) string {
	kv := make([]string, 0, len(tags))
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
