package workload

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type mocks struct{ deployments int }

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if args.TypeToken == "kubernetes:apps/v1:Deployment" {
		m.deployments++
	}
	return args.Name + "-id", args.Inputs, nil
}

func (m *mocks) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func TestNginxSample(t *testing.T) {
	m := &mocks{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if _, err := NewNginxSample(ctx, "bad", &NginxSampleArgs{}); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("missing args: %v", err)
		}
		s, err := NewNginxSample(ctx, "nginx", &NginxSampleArgs{
			Image: pulumi.String("nginx"), Replicas: pulumi.Int(1), RuntimeClassName: pulumi.String("kata-remote"),
		})
		if err != nil {
			return err
		}
		pulumi.All(s.DeploymentName, s.RuntimeClass).ApplyT(func(v []any) error {
			if v[0] != "nginx" || v[1] != "kata-remote" {
				t.Errorf("outputs = %v", v)
			}
			return nil
		})
		return nil
	}, pulumi.WithMocks("caa-azure", "test", m))
	if err != nil {
		t.Fatal(err)
	}
	if m.deployments != 1 {
		t.Errorf("deployments = %d", m.deployments)
	}
}
