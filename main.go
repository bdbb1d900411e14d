// Command caa-azure is the Pulumi program that stands up Confidential
// Containers peer pods on AKS; see README.md.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/stack"
)

func main() {
	pulumi.Run(stack.Deploy)
}
