package caa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ConfigChecksumAnnotation sits on CAA's pod template. CAA reads
// peer-pods-cm and peer-pods-secret as environment variables when it starts
// (envFrom in the v0.10.0 overlay's DaemonSet and in the chart's), so a
// changed setting reaches it only through a new pod: the checksum of what
// it reads changes the template, and the DaemonSet rolls in the same run.
const ConfigChecksumAnnotation = "caa-azure/config-checksum"

// ConfigChecksum is a SHA-256 over the data CAA reads, in order. Maps are
// encoded as JSON (sorted keys, quoted strings), so no two different
// configurations give the same text.
func ConfigChecksum(data ...map[string]string) string {
	text, err := json.Marshal(data)
	if err != nil {
		// A slice of string maps always encodes.
		panic(err)
	}
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:])
}

// configChecksum resolves the data and checksums it. A secret among them
// (a service principal's password) keeps the checksum a Pulumi secret.
func configChecksum(data ...pulumi.StringMapInput) pulumi.StringOutput {
	inputs := make([]any, len(data))
	for i, d := range data {
		inputs[i] = d
	}
	return pulumi.All(inputs...).ApplyT(func(v []any) string {
		maps := make([]map[string]string, len(v))
		for i, m := range v {
			maps[i], _ = m.(map[string]string)
		}
		return ConfigChecksum(maps...)
	}).(pulumi.StringOutput)
}

// orEmpty is data, or an empty map for nil.
func orEmpty(data pulumi.StringMapInput) pulumi.StringMapInput {
	if data == nil {
		return pulumi.StringMap{}
	}
	return data
}

// The pulumi-kubernetes types the chart transform acts on.
const (
	typeDaemonSet = "kubernetes:apps/v1:DaemonSet"
	typeCRD       = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
)

// ChartTransform adjusts the chart's objects as the engine registers them
// (Helm v4 Chart renders them inside the Kubernetes provider, so a
// transform is the one place to reach them):
//   - CAA's DaemonSet gets the config checksum on its pod template (the
//     chart has no value for pod annotations);
//   - the chart's CRDs are kept on delete, as `helm uninstall` keeps a
//     chart's crds/: the PeerPod CRD cannot be deleted while a PeerPod holds
//     CAA's peer.pod/finalizer, which only peerpod-ctrl (deleted with the
//     same chart, and on 0.18–0.20 without an Azure login) removes. They go
//     with the cluster instead.
func ChartTransform(checksum pulumi.StringInput) pulumi.ResourceTransform {
	return func(_ context.Context, a *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		switch {
		case a.Type == typeCRD:
			opts := a.Opts
			opts.RetainOnDelete = true
			return &pulumi.ResourceTransformResult{Props: a.Props, Opts: opts}
		case a.Type == typeDaemonSet && mapName(a.Props) == DaemonSetName:
			return &pulumi.ResourceTransformResult{Props: withPodAnnotation(a.Props, ConfigChecksumAnnotation, checksum), Opts: a.Opts}
		}
		return nil
	}
}

// mapName is metadata.name of an object given as Pulumi inputs.
func mapName(props pulumi.Map) string {
	meta, _ := props["metadata"].(pulumi.Map)
	name, _ := meta["name"].(pulumi.String)
	return string(name)
}

// withPodAnnotation returns props with spec.template.metadata.annotations[key]
// set, creating the maps on the way; props itself is not changed.
func withPodAnnotation(props pulumi.Map, key string, value pulumi.Input) pulumi.Map {
	out := copyMap(props)
	spec := copyMap(asMap(out["spec"]))
	template := copyMap(asMap(spec["template"]))
	meta := copyMap(asMap(template["metadata"]))
	annotations := copyMap(asMap(meta["annotations"]))
	annotations[key] = value
	meta["annotations"] = annotations
	template["metadata"] = meta
	spec["template"] = template
	out["spec"] = spec
	return out
}

func asMap(v pulumi.Input) pulumi.Map {
	m, _ := v.(pulumi.Map)
	return m
}

func copyMap(m pulumi.Map) pulumi.Map {
	out := make(pulumi.Map, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
