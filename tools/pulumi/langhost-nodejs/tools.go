//go:build tools

// Package tools pins the Node.js language host (pulumi-language-nodejs) that
// tools/pulumi/install.sh builds next to the Pulumi CLI.
//
// Why a separate module pinned to sdk/v3 v3.68.0 (and not the host that was
// released with v3.248.0): since v3.69.0 the host lives in its own, untagged
// module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3,
// and the module proxy reachable from our build machines answers 403 for
// every version of it we tried: the v3.248.0 release commit and pseudo-versions
// that other public projects pin. v3.68.0 is the last sdk/v3 release that
// still ships the host, as the package below. It cannot share a module with the
// CLI because the CLI needs sdk/v3 v3.248.0, hence this nested module. See install.sh for the
// consequences (runtime options in Pulumi.yaml are not read by this host).
package tools

import (
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
