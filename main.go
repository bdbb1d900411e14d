// Command caa-azure is the Pulumi program that stands up Confidential
// Containers peer pods on AKS; see README.md.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"caa-azure/stack"
)

func main() {
	// Run by hand, pulumi.Run exits 32 and prints nothing.
	if err := stack.LaunchedByPulumi(os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pulumi.Run(stack.Deploy)
}
