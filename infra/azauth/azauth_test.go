package azauth

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func lookupOf(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSelectFollowsTheProviderOrder(t *testing.T) {
	sp := map[string]string{"ARM_CLIENT_ID": "app", "ARM_CLIENT_SECRET": "s3cret", "ARM_TENANT_ID": "tenant"}
	cases := []struct {
		name string
		env  map[string]string
		want Kind
		err  string
	}{
		{"nothing set: the Azure CLI", map[string]string{}, AzureCLI, ""},
		{"client secret", sp, ClientSecret, ""},
		{"client secret from provider config", map[string]string{"azure-native:clientId": "app",
			"azure-native:clientSecret": "s", "azure-native:tenantId": "t"}, ClientSecret, ""},
		{"client secret beats AZURE_*", merge(sp, map[string]string{"AZURE_CLIENT_ID": "other", "AZURE_TENANT_ID": "t",
			"AZURE_CLIENT_SECRET": "x"}), ClientSecret, ""},
		{"OIDC beats a client secret", merge(sp, map[string]string{"ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN": "jwt"}), OIDC, ""},
		{"OIDC in GitHub Actions", map[string]string{"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": "app", "ARM_TENANT_ID": "t",
			"ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh/token?x=1", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "b"}, OIDC, ""},
		{"OIDC without a token", map[string]string{"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": "app", "ARM_TENANT_ID": "t"}, "", "no token"},
		{"OIDC without a client", map[string]string{"ARM_USE_OIDC": "1", "ARM_OIDC_TOKEN": "jwt"}, "", "ARM_CLIENT_ID"},
		{"secret without tenant", map[string]string{"ARM_CLIENT_ID": "app", "ARM_CLIENT_SECRET": "s"}, "", "ARM_TENANT_ID"},
		{"certificate", map[string]string{"ARM_CLIENT_ID": "app", "ARM_TENANT_ID": "t", "ARM_CLIENT_CERTIFICATE_PATH": "/c.pfx"}, ClientCertificate, ""},
		{"managed identity", map[string]string{"ARM_USE_MSI": "true"}, ManagedIdentity, ""},
		{"managed identity off", map[string]string{"ARM_USE_MSI": "false"}, AzureCLI, ""},
		{"AZURE_* workload identity", map[string]string{"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": "t",
			"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"}, Environment, ""},
		{"AZURE_* incomplete: the CLI", map[string]string{"AZURE_CLIENT_ID": "app"}, AzureCLI, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Select(Read(lookupOf(c.env)))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want an error with %q, got %v (%s)", c.err, err, got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Select = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// merge is a with b's entries on top.
func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func TestSubscriptionIsTheProvidersOne(t *testing.T) {
	cases := []struct {
		env        map[string]string
		want, from string
	}{
		{map[string]string{"azure-native:subscriptionId": "cfg", "ARM_SUBSCRIPTION_ID": "env"}, "cfg", "azure-native:subscriptionId"},
		{map[string]string{"ARM_SUBSCRIPTION_ID": "env"}, "env", "ARM_SUBSCRIPTION_ID"},
		{map[string]string{"azure-native:subscriptionId": " "}, "cli", "the Azure CLI's current subscription"},
		{map[string]string{}, "cli", "the Azure CLI's current subscription"},
	}
	for _, c := range cases {
		got, from := Subscription(lookupOf(c.env), "cli")
		if got != c.want || from != c.from {
			t.Errorf("Subscription(%v) = %q from %q, want %q from %q", c.env, got, from, c.want, c.from)
		}
	}
}

func TestCredentialBuildsTheSelectedKind(t *testing.T) {
	for env, want := range map[string]Kind{
		"ARM_CLIENT_ID=app ARM_CLIENT_SECRET=s ARM_TENANT_ID=00000000-0000-0000-0000-000000000001":                ClientSecret,
		"ARM_USE_OIDC=true ARM_CLIENT_ID=app ARM_TENANT_ID=00000000-0000-0000-0000-000000000001 ARM_OIDC_TOKEN=j": OIDC,
		"": AzureCLI,
	} {
		m := map[string]string{}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		cred, kind, err := Credential(Read(lookupOf(m)))
		if err != nil || cred == nil || kind != want {
			t.Errorf("%q: Credential = %v, %q, %v; want a %q credential", env, cred, kind, err, want)
		}
	}
}

func TestGitHubTokenAsksForEntrasAudience(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer b" || r.URL.Query().Get("audience") != "api://AzureADTokenExchange" ||
			r.URL.Query().Get("x") != "1" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"value":"jwt-from-github"}`))
	}))
	defer srv.Close()
	got, err := oidcAssertion(Settings{OIDCRequestURL: srv.URL + "/token?x=1", OIDCRequestToken: "b"})(context.Background())
	if err != nil || got != "jwt-from-github" {
		t.Fatalf("token = %q, %v", got, err)
	}
	if _, err := oidcAssertion(Settings{OIDCRequestURL: srv.URL, OIDCRequestToken: "wrong"})(context.Background()); err == nil {
		t.Error("a refused request must be an error")
	}
}
