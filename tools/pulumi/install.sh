#!/usr/bin/env bash
# Build the Pulumi CLI (engine) and a Node.js language host from Go sources and
# print the directory that holds them.
#
#   PATH="$(tools/pulumi/install.sh):$PATH"          # shell
#   export PATH := $(shell tools/pulumi/install.sh):$(PATH)   # Makefile
#
# The last (and only) line on stdout is the bin directory; progress goes to
# stderr. The script is idempotent: when the bin directory already holds a
# working build of the same inputs it returns at once.
#
# Layout: ${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}/pulumi/v3.248.0/bin/
#   pulumi                         engine, github.com/pulumi/pulumi/pkg/v3 v3.248.0
#   pulumi-language-nodejs         language host, sdk/v3 v3.68.0 (see below)
#   pulumi-resource-pulumi-nodejs  launcher of dynamic providers (see below)
#   pulumi-language-yaml           YAML language host, github.com/pulumi/pulumi-yaml v1.25.0
#                                  (the e2e suite runs YAML programs against the lvs plugin)
#
# Inputs: tools/pulumi/go.{mod,sum} and tools/pulumi/langhost-{nodejs,yaml}/go.{mod,sum}.
# Their hash is kept in the bin directory's parent (.stamp); changing a pin
# rebuilds. Go modules come from the configured GOPROXY and compiled packages
# from the usual Go build cache, so a rebuild after a cache hit is quick.
#
# Language host. The host released with v3.248.0 lives in the separate,
# untagged module
# github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3. The module
# proxy our machines reach answers 403 for every version of it we tried (see
# langhost-nodejs/tools.go), so it cannot be built here. We build instead the
# host that sdk/v3 v3.68.0 (the last release that carried it inside the sdk
# module) ships. The engine talks to it over the stable LanguageRuntime gRPC
# API and it launches @pulumi/pulumi/cmd/run of the program's own
# @pulumi/pulumi (3.248.0 here), whose command line has not changed. What it
# lacks: it reads runtime options only from command-line flags, which current
# engines no longer pass, so `runtime.options` in Pulumi.yaml (typescript,
# tsconfig, nodeargs, packagemanager) is ignored: TypeScript support is always
# on (ts-node is registered for every program; plain .js programs are
# unaffected), tsconfig.json is read from the program directory, and
# pulumi.getRootDirectory() is not set. New-style RPCs (Handshake,
# GetRequiredPackages, ...) are answered "unimplemented" and the engine falls
# back to the older ones.
#
# Dynamic providers. The engine starts the resource plugin
# "pulumi-resource-pulumi-nodejs" for pulumi.dynamic.Resource, looking for it on
# $PATH and next to the `pulumi` binary. @pulumi/pulumi ships such a script in
# its package directory; linking to one checkout's node_modules would tie the
# shared cache to that checkout's path. Instead we write a small launcher that
# resolves @pulumi/pulumi/cmd/dynamic-provider from its working directory (the
# engine starts it in the Pulumi program's directory), which is what the
# packaged script does as well. So it works from any clone at any path, runs
# the provider with the same @pulumi/pulumi that serialized it, and needs no
# repository argument. Keeping it next to `pulumi` also avoids the engine's
# "using ... from $PATH" warning.
set -euo pipefail

PULUMI_VERSION=v3.248.0
LANGHOST_VERSION=v3.68.0
YAML_VERSION=v1.25.0
# Bump when the way the bin directory is produced changes without a pin change.
RECIPE=2

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${PULUMI_LVS_CACHE:-${HOME}/.cache/pulumi-lvs}"
mkdir -p "$cache_root/pulumi"
cache_root="$(cd "$cache_root" && pwd)"
prefix="$cache_root/pulumi/$PULUMI_VERSION"
bin="$prefix/bin"

log() { printf 'pulumi-install: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

version_pkg=github.com/pulumi/pulumi/sdk/v3/go/common/version

stamp_key() {
	{
		printf 'recipe=%s pulumi=%s langhost=%s yaml=%s\n' "$RECIPE" "$PULUMI_VERSION" "$LANGHOST_VERSION" "$YAML_VERSION"
		cat "$here/go.mod" "$here/go.sum" \
			"$here/langhost-nodejs/go.mod" "$here/langhost-nodejs/go.sum" \
			"$here/langhost-yaml/go.mod" "$here/langhost-yaml/go.sum"
	} | sha256sum | cut -d' ' -f1
}

is_ready() {
	[ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-language-nodejs" ] &&
		[ -x "$bin/pulumi-resource-pulumi-nodejs" ] && [ -x "$bin/pulumi-language-yaml" ] || return 1
	[ "$(cat "$prefix/.stamp" 2>/dev/null)" = "$key" ] || return 1
	[ "$(PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" version 2>/dev/null)" = "$PULUMI_VERSION" ]
}

find_go() {
	if [ -n "${GO:-}" ]; then
		printf '%s\n' "$GO"
	elif command -v go >/dev/null 2>&1; then
		command -v go
	elif [ -x /usr/local/go/bin/go ]; then
		printf '%s\n' /usr/local/go/bin/go
	else
		return 1
	fi
}

write_launcher() {
	cat >"$1" <<'EOF'
#!/bin/sh
# Written by pulumi-lvs tools/pulumi/install.sh: the engine's "pulumi-nodejs"
# resource plugin, which serves pulumi.dynamic.Resource. The engine starts it in
# the Pulumi program's directory; use that program's @pulumi/pulumi.
entry=$(node -e 'process.stdout.write(require.resolve("@pulumi/pulumi/cmd/dynamic-provider"))') || {
	echo "pulumi-resource-pulumi-nodejs: cannot resolve @pulumi/pulumi from $(pwd)" >&2
	exit 1
}
exec node "$entry" "$@"
EOF
	chmod 755 "$1"
}

key="$(stamp_key)"
if is_ready; then
	log "up to date: $bin"
	printf '%s\n' "$bin"
	exit 0
fi

# Serialise concurrent runs (e.g. parallel make jobs) on the same cache.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache_root/pulumi/.install-$PULUMI_VERSION.lock"
	flock 9
	if is_ready; then
		log "up to date: $bin"
		printf '%s\n' "$bin"
		exit 0
	fi
fi

go_cmd="$(find_go)" || die "Go toolchain not found (need go >= 1.25.11; set GO=/path/to/go)"
log "using $("$go_cmd" version)"

work="$(mktemp -d "$cache_root/pulumi/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"

export CGO_ENABLED=0
start=$SECONDS

log "building pulumi $PULUMI_VERSION (first build takes several minutes)"
t=$SECONDS
(cd "$here" && "$go_cmd" build -o "$work/bin/pulumi" \
	-ldflags "-X $version_pkg.Version=$PULUMI_VERSION" \
	github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >&2
log "pulumi built in $((SECONDS - t))s"

log "building pulumi-language-nodejs $LANGHOST_VERSION"
t=$SECONDS
(cd "$here/langhost-nodejs" && "$go_cmd" build -o "$work/bin/pulumi-language-nodejs" \
	-ldflags "-X $version_pkg.Version=$LANGHOST_VERSION" \
	github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs) >&2
log "pulumi-language-nodejs built in $((SECONDS - t))s"

log "building pulumi-language-yaml $YAML_VERSION"
t=$SECONDS
(cd "$here/langhost-yaml" && "$go_cmd" build -o "$work/bin/pulumi-language-yaml" \
	github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml) >&2
log "pulumi-language-yaml built in $((SECONDS - t))s"

write_launcher "$work/bin/pulumi-resource-pulumi-nodejs"

got="$(PULUMI_SKIP_UPDATE_CHECK=true "$work/bin/pulumi" version)"
[ "$got" = "$PULUMI_VERSION" ] || die "built pulumi reports version '$got', expected $PULUMI_VERSION"
printf '%s\n' "$key" >"$work/.stamp"

# Move the files into place one by one: rename(2) is atomic, so a pulumi that
# is running from $bin meanwhile never sees a missing or half-written file.
# The stamp goes last, so an interrupted install is redone next time.
mkdir -p "$bin"
rm -f "$prefix/.stamp"
for f in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-language-yaml; do
	mv -f "$work/bin/$f" "$bin/$f"
done
mv -f "$work/.stamp" "$prefix/.stamp"

log "installed in $((SECONDS - start))s: $bin"
printf '%s\n' "$bin"
