package caa

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestConfigChecksumChangesWithEverySetting(t *testing.T) {
	base := []map[string]string{
		{"AZURE_INSTANCE_SIZE": "Standard_DC2as_v5", "AZURE_IMAGE_ID": "/img/1"},
		{"AZURE_CLIENT_SECRET": "s1"},
		{"id_rsa.pub": "ssh-rsa AAAA"},
	}
	sum := ConfigChecksum(base...)
	if len(sum) != 64 {
		t.Fatalf("checksum %q is not a hex SHA-256", sum)
	}
	if again := ConfigChecksum(base...); again != sum {
		t.Fatalf("the same data gave %s and %s", sum, again)
	}
	variants := map[string][]map[string]string{
		"instance size": {{"AZURE_INSTANCE_SIZE": "Standard_DC4as_v5", "AZURE_IMAGE_ID": "/img/1"}, base[1], base[2]},
		"image":         {{"AZURE_INSTANCE_SIZE": "Standard_DC2as_v5", "AZURE_IMAGE_ID": "/img/2"}, base[1], base[2]},
		"secret":        {base[0], {"AZURE_CLIENT_SECRET": "s2"}, base[2]},
		"ssh key":       {base[0], base[1], {"id_rsa.pub": "ssh-rsa BBBB"}},
		"a new key":     {base[0], {"AZURE_CLIENT_SECRET": "s1", "X": ""}, base[2]},
		// The same pairs in another object: a key moved from the
		// ConfigMap to the Secret is another configuration.
		"key moved": {{"AZURE_INSTANCE_SIZE": "Standard_DC2as_v5"}, {"AZURE_IMAGE_ID": "/img/1", "AZURE_CLIENT_SECRET": "s1"}, base[2]},
		// Separators inside values cannot fake another split.
		"joined": {{"AZURE_INSTANCE_SIZE": "Standard_DC2as_v5\",\"AZURE_IMAGE_ID\":\"/img/1"}, base[1], base[2]},
	}
	for name, data := range variants {
		if ConfigChecksum(data...) == sum {
			t.Errorf("%s: the checksum did not change", name)
		}
	}
}

func transformProps(kind, name string) pulumi.Map {
	return pulumi.Map{
		"apiVersion": pulumi.String("apps/v1"),
		"kind":       pulumi.String(kind),
		"metadata":   pulumi.Map{"name": pulumi.String(name), "namespace": pulumi.String(Namespace)},
		"spec": pulumi.Map{"template": pulumi.Map{
			"metadata": pulumi.Map{"labels": pulumi.Map{"app": pulumi.String("x")}},
		}},
	}
}

func TestChartTransform(t *testing.T) {
	apply := ChartTransform(pulumi.String("sum-1"))
	run := func(typ string, props pulumi.Map) *pulumi.ResourceTransformResult {
		return apply(context.Background(), &pulumi.ResourceTransformArgs{Custom: true, Type: typ, Name: "x", Props: props})
	}

	t.Run("CAA's DaemonSet gets the checksum on its pod template", func(t *testing.T) {
		props := transformProps("DaemonSet", DaemonSetName)
		res := run(typeDaemonSet, props)
		if res == nil {
			t.Fatal("CAA's DaemonSet was left as the chart rendered it")
		}
		meta := res.Props["spec"].(pulumi.Map)["template"].(pulumi.Map)["metadata"].(pulumi.Map)
		if got := meta["annotations"].(pulumi.Map)[ConfigChecksumAnnotation]; got != pulumi.String("sum-1") {
			t.Errorf("pod template annotation = %v, want sum-1", got)
		}
		if meta["labels"].(pulumi.Map)["app"] != pulumi.String("x") {
			t.Error("the pod template lost its labels")
		}
		if res.Opts.RetainOnDelete {
			t.Error("CAA's DaemonSet must be deleted on destroy, before the pod VM group")
		}
		orig := props["spec"].(pulumi.Map)["template"].(pulumi.Map)["metadata"].(pulumi.Map)
		if _, changed := orig["annotations"]; changed {
			t.Error("the transform changed the props it was given")
		}
	})
	t.Run("a DaemonSet without pod metadata", func(t *testing.T) {
		res := run(typeDaemonSet, pulumi.Map{"metadata": pulumi.Map{"name": pulumi.String(DaemonSetName)}})
		if res == nil || res.Props["spec"].(pulumi.Map)["template"].(pulumi.Map)["metadata"].(pulumi.Map)["annotations"].(pulumi.Map)[ConfigChecksumAnnotation] == nil {
			t.Fatal("no checksum where the template had no metadata")
		}
	})
	t.Run("kata-deploy does not roll with CAA's settings", func(t *testing.T) {
		if res := run(typeDaemonSet, transformProps("DaemonSet", "kata-deploy")); res != nil {
			t.Errorf("kata-deploy was changed: %v", res.Props)
		}
	})
	t.Run("CRDs are kept for the cluster to take", func(t *testing.T) {
		props := pulumi.Map{"metadata": pulumi.Map{"name": pulumi.String("peerpods.confidentialcontainers.org")}}
		res := run(typeCRD, props)
		if res == nil || !res.Opts.RetainOnDelete {
			t.Fatal("a chart CRD would be deleted through the API on destroy")
		}
		if len(res.Props) != len(props) {
			t.Error("the CRD's props changed")
		}
	})
	t.Run("everything else is untouched", func(t *testing.T) {
		for _, typ := range []string{"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap", "kubernetes:helm.sh/v4:Chart"} {
			if res := run(typ, transformProps("X", DaemonSetName)); res != nil {
				t.Errorf("%s was transformed", typ)
			}
		}
	})
}
