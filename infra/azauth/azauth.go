// Package azauth is the one place the program turns settings into an Azure
// credential and a subscription, so every Azure SDK call it makes acts as
// the same identity, on the same subscription, as the azure-native
// provider that deploys the stack.
package azauth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Lookup returns a setting and whether it is set: a provider config key
// ("azure-native:clientId") or an environment variable ("ARM_CLIENT_ID").
type Lookup func(name string) (string, bool)

// Kind names the credential Select chose.
type Kind string

// The credential kinds; Select tries OIDC, the client secret, the
// certificate and the managed identity, then AZURE_*, then the CLI.
const (
	OIDC              Kind = "OIDC token (ARM_USE_OIDC)"
	ClientSecret      Kind = "client secret (ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_TENANT_ID)"
	ClientCertificate Kind = "client certificate (ARM_CLIENT_CERTIFICATE_PATH)"
	ManagedIdentity   Kind = "managed identity (ARM_USE_MSI)"
	Environment       Kind = "AZURE_* environment (client secret, certificate or workload identity)"
	AzureCLI          Kind = "Azure CLI login"
)

// Settings are the provider's authentication settings as the provider
// reads them: each from its config key, else its ARM_* variable.
type Settings struct {
	ClientID, ClientSecret, TenantID       string
	ClientCertPath, ClientCertPassword     string
	UseOIDC, UseMSI                        bool
	OIDCToken, OIDCTokenFilePath           string
	OIDCRequestURL, OIDCRequestToken       string
	AzureClientID, AzureTenantID           string
	AzureClientSecret, AzureFederatedToken string
	AzureClientCertPath                    string
}

// setting reads azure-native:<key>, then the variable.
func setting(get Lookup, key, env string, more ...string) string {
	if v, ok := get("azure-native:" + key); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	for _, e := range append([]string{env}, more...) {
		if v, ok := get(e); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func flag(get Lookup, key, env string) bool {
	b, _ := strconv.ParseBool(setting(get, key, env))
	return b
}

// Read gathers the settings the way the azure-native provider does.
func Read(get Lookup) Settings {
	return Settings{
		ClientID:            setting(get, "clientId", "ARM_CLIENT_ID"),
		ClientSecret:        setting(get, "clientSecret", "ARM_CLIENT_SECRET"),
		TenantID:            setting(get, "tenantId", "ARM_TENANT_ID"),
		ClientCertPath:      setting(get, "clientCertificatePath", "ARM_CLIENT_CERTIFICATE_PATH"),
		ClientCertPassword:  setting(get, "clientCertificatePassword", "ARM_CLIENT_CERTIFICATE_PASSWORD"),
		UseOIDC:             flag(get, "useOidc", "ARM_USE_OIDC"),
		UseMSI:              flag(get, "useMsi", "ARM_USE_MSI"),
		OIDCToken:           setting(get, "oidcToken", "ARM_OIDC_TOKEN"),
		OIDCTokenFilePath:   setting(get, "oidcTokenFilePath", "ARM_OIDC_TOKEN_FILE_PATH"),
		OIDCRequestURL:      setting(get, "oidcRequestUrl", "ARM_OIDC_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_URL"),
		OIDCRequestToken:    setting(get, "oidcRequestToken", "ARM_OIDC_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
		AzureClientID:       env(get, "AZURE_CLIENT_ID"),
		AzureTenantID:       env(get, "AZURE_TENANT_ID"),
		AzureClientSecret:   env(get, "AZURE_CLIENT_SECRET"),
		AzureFederatedToken: env(get, "AZURE_FEDERATED_TOKEN_FILE"),
		AzureClientCertPath: env(get, "AZURE_CLIENT_CERTIFICATE_PATH"),
	}
}

func env(get Lookup, name string) string {
	v, _ := get(name)
	return strings.TrimSpace(v)
}

// Select picks the credential kind: the provider's explicit settings
// first (client secret, certificate, OIDC, managed identity), then the
// AZURE_* variables, then the Azure CLI. An explicit setting that is
// incomplete is an error, never a silent fall-through to another identity.
func Select(s Settings) (Kind, error) {
	switch {
	case s.UseOIDC:
		if s.ClientID == "" || s.TenantID == "" {
			return "", errors.New("ARM_USE_OIDC is set but ARM_CLIENT_ID or ARM_TENANT_ID is missing")
		}
		if s.OIDCToken == "" && s.OIDCTokenFilePath == "" && (s.OIDCRequestURL == "" || s.OIDCRequestToken == "") {
			return "", errors.New("ARM_USE_OIDC is set but no token is: set ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH, " +
				"or run in GitHub Actions with `permissions: id-token: write`")
		}
		return OIDC, nil
	case s.ClientSecret != "":
		if s.ClientID == "" || s.TenantID == "" {
			return "", errors.New("ARM_CLIENT_SECRET is set but ARM_CLIENT_ID or ARM_TENANT_ID is missing")
		}
		return ClientSecret, nil
	case s.ClientCertPath != "":
		if s.ClientID == "" || s.TenantID == "" {
			return "", errors.New("ARM_CLIENT_CERTIFICATE_PATH is set but ARM_CLIENT_ID or ARM_TENANT_ID is missing")
		}
		return ClientCertificate, nil
	case s.UseMSI:
		return ManagedIdentity, nil
	case s.AzureClientID != "" && s.AzureTenantID != "" &&
		(s.AzureClientSecret != "" || s.AzureFederatedToken != "" || s.AzureClientCertPath != ""):
		return Environment, nil
	}
	return AzureCLI, nil
}

// Credential builds the credential Select chose.
func Credential(s Settings) (azcore.TokenCredential, Kind, error) {
	kind, err := Select(s)
	if err != nil {
		return nil, "", err
	}
	var cred azcore.TokenCredential
	switch kind {
	case ClientSecret:
		cred, err = azidentity.NewClientSecretCredential(s.TenantID, s.ClientID, s.ClientSecret, nil)
	case ClientCertificate:
		var raw []byte
		if raw, err = os.ReadFile(s.ClientCertPath); err == nil {
			certs, key, perr := azidentity.ParseCertificates(raw, []byte(s.ClientCertPassword))
			if perr != nil {
				return nil, kind, fmt.Errorf("reading %s: %w", s.ClientCertPath, perr)
			}
			cred, err = azidentity.NewClientCertificateCredential(s.TenantID, s.ClientID, certs, key, nil)
		}
	case OIDC:
		cred, err = azidentity.NewClientAssertionCredential(s.TenantID, s.ClientID, oidcAssertion(s), nil)
	case ManagedIdentity:
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		if s.ClientID != "" {
			opts.ID = azidentity.ClientID(s.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(opts)
	case Environment:
		if s.AzureFederatedToken != "" && s.AzureClientSecret == "" && s.AzureClientCertPath == "" {
			cred, err = azidentity.NewWorkloadIdentityCredential(nil)
		} else {
			cred, err = azidentity.NewEnvironmentCredential(nil)
		}
	default:
		cred, err = azidentity.NewAzureCLICredential(nil)
	}
	if err != nil {
		return nil, kind, err
	}
	return cred, kind, nil
}

// oidcAssertion returns the federated token: given, read from a file, or
// requested from GitHub Actions for Entra's audience.
func oidcAssertion(s Settings) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		switch {
		case s.OIDCToken != "":
			return s.OIDCToken, nil
		case s.OIDCTokenFilePath != "":
			b, err := os.ReadFile(s.OIDCTokenFilePath)
			return strings.TrimSpace(string(b)), err
		}
		return githubToken(ctx, s.OIDCRequestURL, s.OIDCRequestToken)
	}
}

// Subscription is the subscription the provider deploys to:
// azure-native:subscriptionId, then ARM_SUBSCRIPTION_ID, then fallback
// (the provider's own answer, which for an Azure CLI login is the CLI's
// current subscription). It says where the value came from.
func Subscription(get Lookup, fallback string) (id, source string) {
	if v, ok := get("azure-native:subscriptionId"); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), "azure-native:subscriptionId"
	}
	if v, ok := get("ARM_SUBSCRIPTION_ID"); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), "ARM_SUBSCRIPTION_ID"
	}
	return fallback, "the Azure CLI's current subscription"
}

// Token proves a credential with one token request for ARM.
func Token(ctx context.Context, cred azcore.TokenCredential) error {
	_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	return err
}
