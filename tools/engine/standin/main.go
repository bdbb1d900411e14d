// Command standin answers for the azure-native, azuread and random providers
// when the program runs under the real Pulumi engine offline (tests/engine).
// None of those providers is served by the Go module proxy, and Azure is out
// of reach anyway: the stand-in echoes inputs as outputs, adds the computed
// outputs the program reads (ids, names, principal and client ids, the OIDC
// issuer, random values) derived only from the resource's URN so that a
// second run sees the same values, answers the few invokes the program makes,
// and appends every create, update and delete to a log file so a test can
// check the order the engine ran them in.
//
// One binary serves as every plugin: its name comes from the file name the
// engine starts (pulumi-resource-<name>), which `pulumi plugin install
// resource <name> <version> --file standin` chooses.
//
// Environment:
//
//	CAA_STANDIN_LOG         file the create/update/delete lines are appended to
//	CAA_STANDIN_KUBECONFIG  kubeconfig returned by listManagedClusterUserCredentials
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "pulumi-resource-")
	err := provider.Main(name, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &standin{version: installedVersion(name)}, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// installedVersion is the version the plugin was installed as: `pulumi
// plugin install` puts it in .../plugins/resource-<name>-v<version>/, and
// the engine asks for the version the program's SDK pins.
func installedVersion(name string) string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(filepath.Base(filepath.Dir(exe)), "resource-"+name+"-v")
}

type standin struct {
	pulumirpc.UnimplementedResourceProviderServer
	version string
}

func (s *standin) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: s.version}, nil
}

func (s *standin) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: "{}"}, nil
}

func (s *standin) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *standin) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *standin) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *standin) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// Diff reports the input keys whose values changed; nothing is ever
// replaced, as no test changes an input Azure would replace on.
func (s *standin) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds := req.GetOldInputs()
	if olds == nil {
		olds = req.GetOlds()
	}
	var diffs []string
	seen := map[string]bool{}
	for k, v := range req.GetNews().GetFields() {
		seen[k] = true
		if !proto.Equal(v, olds.GetFields()[k]) {
			diffs = append(diffs, k)
		}
	}
	for k := range olds.GetFields() {
		if !seen[k] {
			diffs = append(diffs, k)
		}
	}
	if len(diffs) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: diffs}, nil
}

func (s *standin) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	id, outs := outputs(req.GetType(), req.GetUrn(), req.GetName(), req.GetProperties())
	if !req.GetPreview() {
		if err := record("create", req.GetType(), req.GetName()); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: outs}, nil
}

func (s *standin) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	_, outs := outputs(req.GetType(), req.GetUrn(), req.GetName(), req.GetNews())
	if !req.GetPreview() {
		if err := record("update", req.GetType(), req.GetName()); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.UpdateResponse{Properties: outs}, nil
}

// Read returns the state as the engine holds it: the stand-in has no cloud
// that could have drifted.
func (s *standin) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (s *standin) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, record("delete", req.GetType(), req.GetName())
}

func (s *standin) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (s *standin) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	ret, err := invoke(req.GetTok(), req.GetArgs())
	if err != nil {
		return nil, err
	}
	out, err := structpb.NewStruct(ret)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: out}, nil
}

const (
	subscriptionID = "00000000-0000-0000-0000-00000000c0de"
	tenantID       = "00000000-0000-0000-0000-0000000ten7"
	callerID       = "00000000-0000-0000-0000-0000000ca11e"
)

func invoke(tok string, args *structpb.Struct) (map[string]any, error) {
	switch tok {
	case "azure-native:authorization:getClientConfig":
		return map[string]any{"clientId": callerID, "objectId": callerID, "subscriptionId": subscriptionID, "tenantId": tenantID}, nil
	case "azuread:index/getClientConfig:getClientConfig":
		return map[string]any{"clientId": callerID, "objectId": callerID, "tenantId": tenantID}, nil
	case "azure-native:containerservice:listManagedClusterUserCredentials":
		path := os.Getenv("CAA_STANDIN_KUBECONFIG")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("standin: listManagedClusterUserCredentials returns the file CAA_STANDIN_KUBECONFIG names (%q): %w", path, err)
		}
		return map[string]any{"kubeconfigs": []any{map[string]any{
			"name": "clusterUser", "value": base64.StdEncoding.EncodeToString(raw),
		}}}, nil
	}
	return nil, fmt.Errorf("standin: no answer for %s (args %v): the test config must not need it", tok, args.AsMap())
}

// armTypes maps a resource token to the input holding its name and its ARM
// type path below the resource group ({key} is another input's value).
var armTypes = map[string]struct{ nameKey, path string }{
	"azure-native:containerservice:ManagedCluster":                    {"resourceName", "Microsoft.ContainerService/managedClusters"},
	"azure-native:network:VirtualNetwork":                             {"virtualNetworkName", "Microsoft.Network/virtualNetworks"},
	"azure-native:network:Subnet":                                     {"subnetName", "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets"},
	"azure-native:network:PublicIPAddress":                            {"publicIpAddressName", "Microsoft.Network/publicIPAddresses"},
	"azure-native:network:NatGateway":                                 {"natGatewayName", "Microsoft.Network/natGateways"},
	"azure-native:managedidentity:UserAssignedIdentity":               {"resourceName", "Microsoft.ManagedIdentity/userAssignedIdentities"},
	"azure-native:managedidentity:FederatedIdentityCredential":        {"federatedIdentityCredentialResourceName", "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}/federatedIdentityCredentials"},
	"azure-native:authorization:RoleAssignment":                       {"roleAssignmentName", ""},
	"azure-native:authorization:RoleDefinition":                       {"roleDefinitionId", ""},
	"azure-native:resources:ResourceGroup":                            {"resourceGroupName", ""},
	"azuread:index/application:Application":                           {"", ""},
	"azuread:index/servicePrincipal:ServicePrincipal":                 {"", ""},
	"azuread:index/servicePrincipalPassword:ServicePrincipalPassword": {"", ""},
}

// outputs are the inputs plus the computed outputs the program reads, all
// derived from the URN so that every run computes the same values.
func outputs(typ, urn, name string, inputs *structpb.Struct) (string, *structpb.Struct) {
	outs := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, v := range inputs.GetFields() {
		outs.Fields[k] = v
	}
	in := func(k string) string { return inputs.GetFields()[k].GetStringValue() }
	set := func(k, v string) { outs.Fields[k] = structpb.NewStringValue(v) }
	uuid := func(salt string) string {
		h := sha256.Sum256([]byte(salt + "\x00" + urn))
		x := hex.EncodeToString(h[:16])
		return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
	}

	resName := name
	if t, ok := armTypes[typ]; ok && t.nameKey != "" && in(t.nameKey) != "" {
		resName = in(t.nameKey)
	}
	id := "/standin/" + typ + "/" + resName
	rg := "/subscriptions/" + subscriptionID + "/resourceGroups/" + in("resourceGroupName")
	switch typ {
	case "azure-native:resources:ResourceGroup":
		id = "/subscriptions/" + subscriptionID + "/resourceGroups/" + resName
	case "azure-native:authorization:RoleAssignment":
		if in("roleAssignmentName") == "" {
			resName = uuid("name")
		}
		id = in("scope") + "/providers/Microsoft.Authorization/roleAssignments/" + resName
	case "azure-native:authorization:RoleDefinition":
		if in("roleDefinitionId") == "" {
			resName = uuid("name")
		}
		id = in("scope") + "/providers/Microsoft.Authorization/roleDefinitions/" + resName
	default:
		if t, ok := armTypes[typ]; ok && t.path != "" {
			path := t.path
			for k := range inputs.GetFields() {
				path = strings.ReplaceAll(path, "{"+k+"}", in(k))
			}
			id = rg + "/providers/" + path + "/" + resName
		}
	}
	if strings.HasPrefix(typ, "azure-native:") {
		set("name", resName)
		set("id", id)
	}

	switch typ {
	case "azure-native:containerservice:ManagedCluster":
		outs.Fields["oidcIssuerProfile"] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"enabled":   structpb.NewBoolValue(true),
			"issuerURL": structpb.NewStringValue("https://oidc.standin.invalid/" + uuid("oidc") + "/"),
		}})
		if in("nodeResourceGroup") == "" {
			set("nodeResourceGroup", "MC_"+resName)
		}
		set("fqdn", resName+".standin.invalid")
		addPrincipal(outs, inputs, uuid)
	case "azure-native:managedidentity:UserAssignedIdentity":
		set("principalId", uuid("principal"))
		set("clientId", uuid("client"))
		set("tenantId", tenantID)
	case "azuread:index/application:Application":
		set("clientId", uuid("client"))
		set("objectId", uuid("object"))
		id = uuid("object")
	case "azuread:index/servicePrincipal:ServicePrincipal":
		set("objectId", uuid("object"))
		id = uuid("object")
	case "azuread:index/servicePrincipalPassword:ServicePrincipalPassword":
		set("keyId", uuid("key"))
		outs.Fields["value"] = secret(structpb.NewStringValue("standin-" + uuid("value")))
		id = uuid("key")
	case "random:index/randomString:RandomString":
		n := int(inputs.GetFields()["length"].GetNumberValue())
		set("result", randomText(urn, n))
		id = randomText(urn, n)
	case "random:index/randomBytes:RandomBytes":
		n := int(inputs.GetFields()["length"].GetNumberValue())
		b := randomBytes(urn, n)
		outs.Fields["base64"] = secret(structpb.NewStringValue(base64.StdEncoding.EncodeToString(b)))
		outs.Fields["hex"] = secret(structpb.NewStringValue(hex.EncodeToString(b)))
		id = "standin"
	}
	if id == "" || strings.HasPrefix(id, "/standin/") && !strings.HasPrefix(typ, "azure-native:") {
		id = uuid("id")
	}
	return id, outs
}

// addPrincipal fills the principal of a system-assigned identity.
func addPrincipal(outs, inputs *structpb.Struct, uuid func(string) string) {
	ident := inputs.GetFields()["identity"].GetStructValue()
	if ident == nil || !strings.Contains(ident.GetFields()["type"].GetStringValue(), "SystemAssigned") {
		return
	}
	fields := map[string]*structpb.Value{}
	for k, v := range ident.GetFields() {
		fields[k] = v
	}
	fields["principalId"] = structpb.NewStringValue(uuid("identity"))
	fields["tenantId"] = structpb.NewStringValue(tenantID)
	outs.Fields["identity"] = structpb.NewStructValue(&structpb.Struct{Fields: fields})
}

// secret wraps v the way the engine marks a secret on the wire.
func secret(v *structpb.Value) *structpb.Value {
	return structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
		"4dabf18193072939515e22adb298388d": structpb.NewStringValue("1b47061264138c4ac30d75fd1eb44270"),
		"value":                            v,
	}})
}

func randomBytes(urn string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s", i, urn)))
		out = append(out, h[:]...)
	}
	return out[:n]
}

// randomText is lower-case letters and digits, as the program asks for.
func randomText(urn string, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := randomBytes(urn, n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// record appends one line to the log the test reads; the three plugin
// processes share it, and each line is a single append.
func record(op, typ, name string) error {
	path := os.Getenv("CAA_STANDIN_LOG")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("standin: opening the log: %w", err)
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %s %s\n", op, typ, name)
	return err
}
