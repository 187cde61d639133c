//go:build tools

// Package tools pins the Pulumi engine (CLI) that tools/pulumi/install.sh
// builds from source. The Node.js language host is pinned by the nested
// module in ./langhost-nodejs (see the comment there).
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
)
