package upstream

// tagCommits pins the commit of every release tag the program clones:
// CAA for the operator path's install/yamls (0.10.0 to 0.17.0; chart
// releases come from the published chart or a checkout) and the operator
// for config/release and the peer-pods sample. A tag is a name anyone with
// push rights can move; the commit is what was read and tested. Read from
// the repositories with `git rev-parse v<version>^{commit}`;
// TestPinnedCommitsMatchUpstream checks them against a checkout.
var tagCommits = map[string]map[string]string{
	CAARepository: {
		"v0.10.0": "c095957ee417fa1d545d2bfe685cd3a80aff7a0d",
		"v0.11.0": "7a5ec0e278a20ba0e7d349e6f08c8dc179568333",
		"v0.12.0": "b2de40ea39b8893864e05614848bd987ac19b871",
		"v0.13.0": "410154b63f1a3a5431de308f9834052b62e7e7d7",
		"v0.14.0": "6d7b0bb3d86c73b8b9ed957f1ea724719d167554",
		"v0.15.0": "a2e0d70b24083198454e05dc1b2a343efef011f5",
		"v0.16.0": "327a86c98cfded0d25f9a82d5b712e2b4063b0ef",
		"v0.17.0": "0275f8b095db93ad3296a17b838cbcd6f810e0ae",
	},
	OperatorRepository: {
		"v0.10.0": "cb92e0f48ebdb9b4869ae88b9f22a669dc63eb32",
		"v0.11.0": "cd2cccba2ff4f276a77d03bc18f81c43272818e1",
		"v0.12.0": "77e62e10f6193255da92887e932c1ab74ab6f450",
		"v0.13.0": "aae784fe298dd98f08eae0d02b4774c94db059a4",
		"v0.14.0": "3c2dd42bf0c45b5c91ad8608b64fb5592c17cf5f",
		"v0.15.0": "8ff867b5a9961894daed36cfd56cc847fda477ca",
		"v0.16.0": "c43f95354db784d8e2ababda106b7aac7a5ec72a",
		"v0.17.0": "e1765cf1ac8a0ce9e722a75573ad954cd2dc5e37",
	},
}

// PinnedCommit is the commit the program pins tag of repository url to.
func PinnedCommit(url, tag string) (string, bool) {
	c, ok := tagCommits[url][tag]
	return c, ok
}

// PinnedTags lists, per repository, the tags with a pinned commit.
func PinnedTags() map[string][]string {
	out := map[string][]string{}
	for repo, tags := range tagCommits {
		for tag := range tags {
			out[repo] = append(out[repo], tag)
		}
	}
	return out
}
