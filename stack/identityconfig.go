package stack

import (
	"regexp"
	"strconv"
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
func parseIdentity(c *Config, r *reader) {
	switch c.ClusterAuth = r.strOr(keyClusterAuth, ClusterAuthLocal); c.ClusterAuth {
	case ClusterAuthLocal, ClusterAuthEntra:
	default:
		r.fail(keyClusterAuth, "%q is not a mode; use local (the guide: a local admin kubeconfig) or entra "+
			"(Entra ID with Azure RBAC, no local accounts)", c.ClusterAuth)
	}
	if c.ClusterAdminGroups = r.list(keyClusterAdminGroups); len(c.ClusterAdminGroups) > 0 && c.ClusterAuth != ClusterAuthEntra {
		r.fail(keyClusterAdminGroups, "lists Entra groups, which only clusterAuth entra uses; set clusterAuth entra or clear it")
	}

	switch c.CAAAuth = r.strOr(keyCAAAuth, CAAAuthWorkloadIdentity); c.CAAAuth {
	case CAAAuthWorkloadIdentity, CAAAuthServicePrincipal:
	default:
		r.fail(keyCAAAuth, "%q is not a mode; use workloadIdentity (the guide, no secret) or servicePrincipal "+
			"(a client secret in peer-pods-secret)", c.CAAAuth)
	}
	raw := r.strOr(keyCredentialLifetime, DefaultCredentialLifetime)
	if m := lifetimePattern.FindStringSubmatch(raw); m == nil {
		r.fail(keyCredentialLifetime, "%q is not a lifetime such as 90d or 720h", raw)
	} else {
		n, _ := strconv.Atoi(m[1])
		if m[2] == "d" {
			n *= 24
		}
		if n < 1 || n > maxCredentialHours {
			r.fail(keyCredentialLifetime, "%q is out of range; Entra ID allows 1h to 730d", raw)
		}
		c.CredentialLifetimeHours = n
	}
	c.CredentialGeneration = r.integer(keyCredentialGeneration, 1, "use 1 or more; increase it by one to rotate CAA's password",
		func(n int) string {
			if n < 1 {
				return "is less than 1"
			}
			return ""
		})
}
