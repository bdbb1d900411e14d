package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"caa-azure/caa"
)

// The mocks play the part of the Kubernetes provider and the engine for a
// Helm v4 Chart: the real one renders the chart inside the provider and
// registers each object as a child, running the program's transforms on
// it. Mocks see only the Chart itself, so without this the tests could not
// see what a chart install deletes, keeps or rolls.

// peerpodsChartFixture is a chart of our own shaped like CAA's peerpods
// chart (CAA's DaemonSet and peer-pods-cm, kata-deploy, peerpod-ctrl and its
// PeerPod CRD in crds/).
const peerpodsChartFixture = "testdata/peerpods-chart"

// chartChild is one object a Chart registers, after the program's transforms.
type chartChild struct {
	chart, typ, name string
	props            resource.PropertyMap
	// retainOnDelete: destroy drops it from state and leaves it to the
	// cluster's deletion instead of deleting it through the API.
	retainOnDelete bool
}

// kind, objName and podAnnotation read the child's object.
func (c chartChild) kind() string {
	return c.typ[strings.LastIndex(c.typ, ":")+1:]
}

func (c chartChild) objName() string {
	if m := c.props["metadata"]; m.IsObject() {
		if n := m.ObjectValue()["name"]; n.IsString() {
			return n.StringValue()
		}
	}
	return ""
}

func (c chartChild) podAnnotation(key string) (resource.PropertyValue, bool) {
	v := resource.NewObjectProperty(c.props)
	for _, p := range []string{"spec", "template", "metadata", "annotations", key} {
		if !v.IsObject() {
			return resource.PropertyValue{}, false
		}
		var ok bool
		if v, ok = v.ObjectValue()[resource.PropertyKey(p)]; !ok {
			return resource.PropertyValue{}, false
		}
	}
	return v, true
}

// playChart renders the fixture chart with the values the program gave the
// Chart and runs every object through the Chart's transforms, as the
// engine does, over the program's own callback server.
func (m *mocks) playChart(args pulumi.MockResourceArgs) error {
	if !strings.HasSuffix(args.Name, "-peerpods") {
		return nil // cert-manager: nothing of it holds a pod VM or a finalizer
	}
	objs, err := renderChartFixture(plainValue(args.Inputs["values"]), plainValue(args.Inputs["namespace"]))
	if err != nil {
		return err
	}
	for _, obj := range objs {
		child := chartChild{chart: args.Name, typ: caa.TypeToken(obj),
			name: args.Name + ":" + caa.ObjectKey(obj), props: resource.NewPropertyMapFromMap(obj)}
		for _, cb := range args.RegisterRPC.GetTransforms() {
			if err := transform(cb, &child); err != nil {
				return fmt.Errorf("transforming %s: %w", child.name, err)
			}
		}
		m.mu.Lock()
		m.chartChildren = append(m.chartChildren, child)
		m.mu.Unlock()
	}
	return nil
}

// transform calls one transform callback on child and applies its answer.
func transform(cb *pulumirpc.Callback, child *chartChild) error {
	props, err := plugin.MarshalProperties(child.props, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		return err
	}
	req, err := proto.Marshal(&pulumirpc.TransformRequest{Type: child.typ, Name: child.name, Custom: true,
		Properties: props, Options: &pulumirpc.TransformResourceOptions{}})
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(cb.GetTarget(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := pulumirpc.NewCallbacksClient(conn).Invoke(ctx, &pulumirpc.CallbackInvokeRequest{Token: cb.GetToken(), Request: req})
	if err != nil {
		return err
	}
	var out pulumirpc.TransformResponse
	if err := proto.Unmarshal(resp.GetResponse(), &out); err != nil {
		return err
	}
	if out.GetProperties() != nil {
		if child.props, err = plugin.UnmarshalProperties(out.GetProperties(),
			plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}); err != nil {
			return err
		}
	}
	if o := out.GetOptions(); o != nil {
		child.retainOnDelete = o.GetRetainOnDelete()
	}
	return nil
}

// renderChartFixture renders the fixture with Helm's own library: the
// templates and the crds/ directory, as a Helm v4 Chart installs them.
func renderChartFixture(values, namespace any) ([]caa.Object, error) {
	chart, err := loader.Load(filepath.FromSlash(peerpodsChartFixture))
	if err != nil {
		return nil, err
	}
	vals, _ := values.(map[string]any)
	ns, _ := namespace.(string)
	top, err := chartutil.ToRenderValues(chart, vals, chartutil.ReleaseOptions{Name: "peerpods", Namespace: ns, IsInstall: true},
		chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(chart, top)
	if err != nil {
		return nil, err
	}
	var docs []string
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		docs = append(docs, files[name])
	}
	for _, crd := range chart.CRDObjects() {
		docs = append(docs, string(crd.File.Data))
	}
	var objs []caa.Object
	for _, doc := range docs {
		dec := yaml.NewDecoder(strings.NewReader(doc))
		for {
			var o map[string]any
			if err := dec.Decode(&o); err != nil {
				break
			}
			if len(o) > 0 {
				objs = append(objs, caa.Object(o))
			}
		}
	}
	return objs, nil
}

// plainValue turns a property value into plain Go values, secrets
// unwrapped (the chart sees their values).
func plainValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plainValue(v.SecretValue().Element)
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plainValue(e)
		}
		return out
	case v.IsArray():
		out := make([]any, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = plainValue(e)
		}
		return out
	case v.IsString(), v.IsBool(), v.IsNumber():
		return v.V
	}
	return nil
}
