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
	seenAdmin := map[string]bool{}
	for _, entry := range r.list(keyClusterAdmins) {
		kind, id, _ := strings.Cut(entry, ":")
		admin := ClusterAdmin{Type: adminTypes[strings.ToLower(kind)], ObjectID: strings.ToLower(id)}
		switch {
		case c.ClusterAuth != ClusterAuthEntra:
			r.fail(keyClusterAdmins, "lists Entra principals, which only clusterAuth entra uses; set clusterAuth entra or clear it")
		case admin.Type == "" || !objectIDPattern.MatchString(admin.ObjectID):
			r.fail(keyClusterAdmins, "%q is not user:<object id> or servicePrincipal:<object id>, such as user:%s "+
				"(`az ad user show --id <name> --query id`)", entry, "00000000-0000-0000-0000-000000000001")
		case seenAdmin[admin.ObjectID]:
			r.fail(keyClusterAdmins, "lists %s twice; list each principal once", admin.ObjectID)
		default:
			seenAdmin[admin.ObjectID] = true
			c.ClusterAdmins = append(c.ClusterAdmins, admin)
		}
		if c.ClusterAuth != ClusterAuthEntra {
			break
		}
	}
	// Each group's grant is a resource named after the group: two entries
	// that name one resource would fail only after others were created.
	byLabel := map[string]string{}
	for _, g := range c.ClusterAdminGroups {
		label := adminGroupLabel(g)
		if first, dup := byLabel[label]; dup {
			r.fail(keyClusterAdminGroups, "lists %q and %q, which name one group grant (%s); list each group once, such as %q",
				first, g, label, strings.Join(uniqueGroups(c.ClusterAdminGroups), ","))
			continue
		}
		byLabel[label] = g
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

var (
	labelChars      = regexp.MustCompile(`[^a-z0-9-]+`)
	objectIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// adminTypes are the principal types clusterAdmins takes, as ARM spells them.
	adminTypes = map[string]string{"user": "User", "serviceprincipal": "ServicePrincipal"}
)

// ClusterAdmin is a user or service principal made cluster admin.
type ClusterAdmin struct {
	// Type is User or ServicePrincipal; ObjectID its Entra object id.
	Type, ObjectID string
}

// adminGroupLabel names a group's cluster-admin grant: display names are
// free text, resource names are not, so case and punctuation fold away.
func adminGroupLabel(displayName string) string {
	return "group-" + strings.Trim(labelChars.ReplaceAllString(strings.ToLower(displayName), "-"), "-")
}

// uniqueGroups keeps the first group of each label, in order.
func uniqueGroups(groups []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range groups {
		if l := adminGroupLabel(g); !seen[l] {
			seen[l] = true
			out = append(out, g)
		}
	}
	return out
}
