//go:build engine

package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestStandinUnderEngine checks the stand-in with the real engine and no
// cluster: the SDKs' versions find it, its computed outputs survive a
// second run unchanged, the kubeconfig invoke answers, and destroy deletes
// in dependency order, which its log shows.
func TestStandinUnderEngine(t *testing.T) {
	bin := engineBin(t, []string{"pulumi", "standin"})
	dir := t.TempDir()
	home := filepath.Join(dir, "pulumi-home")
	versions := pluginVersions(t)
	delete(versions, "kubernetes")
	installPlugins(t, bin, home, versions)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	must(t, os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600))
	log := filepath.Join(dir, "standin.log")

	program := func(ctx *pulumi.Context) error {
		suffix, err := random.NewRandomString(ctx, "suffix", &random.RandomStringArgs{Length: pulumi.Int(6), Special: pulumi.Bool(false), Upper: pulumi.Bool(false)})
		if err != nil {
			return err
		}
		group, err := resources.NewResourceGroup(ctx, "group", &resources.ResourceGroupArgs{
			ResourceGroupName: pulumi.Sprintf("rg-%s", suffix.Result),
		})
		if err != nil {
			return err
		}
		aks, err := containerservice.NewManagedCluster(ctx, "aks", &containerservice.ManagedClusterArgs{
			ResourceGroupName: group.Name,
			ResourceName:      pulumi.Sprintf("aks-%s", suffix.Result),
		})
		if err != nil {
			return err
		}
		creds := containerservice.ListManagedClusterUserCredentialsOutput(ctx, containerservice.ListManagedClusterUserCredentialsOutputArgs{
			ResourceGroupName: group.Name, ResourceName: aks.Name,
		})
		ctx.Export("issuer", aks.OidcIssuerProfile.IssuerURL())
		ctx.Export("kubeconfig", creds.Kubeconfigs().Index(pulumi.Int(0)).Value())
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := auto.UpsertStackInlineSource(ctx, "standin", "standin-test", program,
		auto.Pulumi(pulumiCLI(t, bin, dir)), auto.PulumiHome(home), auto.SecretsProvider("passphrase"),
		auto.EnvVars(map[string]string{
			"PULUMI_HOME":              home,
			"PULUMI_BACKEND_URL":       fileBackend(t, dir),
			"PULUMI_CONFIG_PASSPHRASE": "engine-test",
			"PULUMI_SKIP_UPDATE_CHECK": "true",
			"CAA_STANDIN_LOG":          log,
			"CAA_STANDIN_KUBECONFIG":   kubeconfig,
		}))
	must(t, err)
	must(t, s.SetConfig(ctx, "azure-native:location", auto.ConfigValue{Value: "eastus"}))

	res, err := s.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v\n%s", err, res.StdErr)
	}
	only(t, "first up", changes(res.Summary.ResourceChanges), "create")
	if issuer, _ := res.Outputs["issuer"].Value.(string); issuer == "" {
		t.Errorf("no OIDC issuer: %v", res.Outputs)
	}
	if kc, _ := res.Outputs["kubeconfig"].Value.(string); kc == "" {
		t.Errorf("no kubeconfig from listManagedClusterUserCredentials: %v", res.Outputs)
	}

	pre, err := s.Preview(ctx, optpreview.ExpectNoChanges())
	if err != nil {
		t.Fatalf("second preview: %v\n%s", err, pre.StdOut)
	}

	if _, err := s.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	e := &env{t: t, standinLog: log}
	deletes := e.standinOps("delete")
	before(t, deletes, "azure-native:containerservice:ManagedCluster aks", "azure-native:resources:ResourceGroup group")
	before(t, deletes, "azure-native:resources:ResourceGroup group", "random:index/randomString:RandomString suffix")
	if creates := e.standinOps("create"); len(creates) != 3 {
		t.Errorf("creates: %v, want 3", creates)
	}
}
