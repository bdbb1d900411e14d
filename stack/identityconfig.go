package stack

import (
	"regexp"
	"strconv"
	"strings"
)

// Cluster access and CAA authentication modes.
const (
	ClusterAuthLocal = "local"
	ClusterAuthEntra = "entra"

	CAAAuthWorkloadIdentity = "workloadIdentity"
	CAAAuthServicePrincipal = "servicePrincipal"

	DefaultCredentialLifetime = "90d"
	// Entra ID refuses client secrets valid for more than two years.
	maxCredentialHours = 2 * 365 * 24
)

var lifetimePattern = regexp.MustCompile(`^([0-9]+)([dh])$`)

// parseIdentity reads the keys that choose how people reach the cluster
// and how CAA authenticates to Azure.
func parseIdentity(c *Config, value func(string) string, orDefault func(string, string) string, errs *problems) {
	switch c.ClusterAuth = orDefault(KeyClusterAuth, ClusterAuthLocal); c.ClusterAuth {
	case ClusterAuthLocal, ClusterAuthEntra:
	default:
		errs.add(KeyClusterAuth, "%q is not a mode; use local (the guide: a local admin kubeconfig) or entra "+
			"(Entra ID with Azure RBAC, no local accounts)", c.ClusterAuth)
	}
	if raw := value(KeyClusterAdminGroups); raw != "" {
		if c.ClusterAuth != ClusterAuthEntra {
			errs.add(KeyClusterAdminGroups, "lists Entra groups, which only clusterAuth entra uses; set clusterAuth entra or clear it")
		}
		for _, g := range strings.Split(raw, ",") {
			if g = strings.TrimSpace(g); g != "" {
				c.ClusterAdminGroups = append(c.ClusterAdminGroups, g)
			}
		}
	}

	switch c.CAAAuth = orDefault(KeyCAAAuth, CAAAuthWorkloadIdentity); c.CAAAuth {
	case CAAAuthWorkloadIdentity, CAAAuthServicePrincipal:
	default:
		errs.add(KeyCAAAuth, "%q is not a mode; use workloadIdentity (the guide, no secret) or servicePrincipal "+
			"(a client secret in peer-pods-secret)", c.CAAAuth)
	}
	raw := orDefault(KeyCredentialLifetime, DefaultCredentialLifetime)
	if m := lifetimePattern.FindStringSubmatch(raw); m == nil {
		errs.add(KeyCredentialLifetime, "%q is not a lifetime such as 90d or 720h", raw)
	} else {
		n, _ := strconv.Atoi(m[1])
		if m[2] == "d" {
			n *= 24
		}
		if n < 1 || n > maxCredentialHours {
			errs.add(KeyCredentialLifetime, "%q is out of range; Entra ID allows 1h to 730d", raw)
		}
		c.CredentialLifetimeHours = n
	}
	c.CredentialGeneration = 1
	if raw := value(KeyCredentialGeneration); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			errs.add(KeyCredentialGeneration, "%q is not a whole number of 1 or more; increase it by one to rotate CAA's password", raw)
		} else {
			c.CredentialGeneration = n
		}
	}
}
