//go:build tools

// Package tools pins the YAML language host (pulumi-language-yaml) that
// tools/pulumi/install.sh builds next to the Pulumi CLI, so the end-to-end suite
// runs YAML programs (`runtime: yaml`) that use pulumi-lvs as a provider plugin.
// Its own module: pulumi-yaml v1.25.0 needs its own versions of the Pulumi SDK.
package tools

import (
	_ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
)
