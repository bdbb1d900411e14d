// Command kubernetes serves the Pulumi Kubernetes provider, built from the
// module proxy. The provider's own cmd embeds schema-embed.json and
// terraform-mapping-embed.json, which its release build generates and its
// module does not ship; build.sh copies this package to a build directory
// outside the repository and generates both there with ./embedgen before
// building, so this package does not compile in place.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
