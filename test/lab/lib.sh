# shellcheck shell=bash
# Shared helpers for the VM lab scripts (sourced, never executed).
#
# Why a separate file: build-image.sh and lab.sh must agree on where the cache
# lives and which image a given recipe produces; keeping that logic in one
# place avoids the two drifting apart.

LAB_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Caches live outside the repo so `git status` stays clean and the ~500 MB
# image survives `git clean`.
LAB_CACHE_DIR="${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}"
# The lab's defaults when PULUMI_LVS_LAB_DIR / LAB_SSH_BASE_PORT are unset (lab.sh, labs.sh).
LAB_DEFAULT_DIR="$LAB_CACHE_DIR/lab"
LAB_DEFAULT_BASE_PORT=2220

lab_log() { printf '[lab] %s\n' "$*" >&2; }
lab_die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root: the image build needs debootstrap/chroot.
lab_as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n "$@" || lab_die "needs root (or passwordless sudo): $*"; fi
}

# The image is keyed by a hash of everything that goes into it, so editing the
# recipe (build-image.sh or anything under guest/) transparently triggers a
# rebuild while unchanged recipes reuse the cached image.
lab_image_hash() {
  (
    cd "$LAB_SRC_DIR" || exit 1
    # Sorted, NUL-safe file list; hash names and contents.
    find build-image.sh guest -type f -print0 | LC_ALL=C sort -z |
      xargs -0 sha256sum | sha256sum | cut -c1-16
  )
}

lab_image_dir() { printf '%s/images/%s\n' "$LAB_CACHE_DIR" "$(lab_image_hash)"; }

# Debian mirror: never hard-coded (project rule); read from this machine's apt
# configuration so the lab uses whatever mirror/proxy the machine is set up
# for. LAB_DEBIAN_MIRROR overrides.
lab_debian_mirror() {
  if [[ -n "${LAB_DEBIAN_MIRROR:-}" ]]; then printf '%s\n' "$LAB_DEBIAN_MIRROR"; return; fi
  local f uri
  # deb822 format: pick the first URIs: of a stanza that is not the security archive.
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    uri=$(awk '
      BEGIN { RS=""; FS="\n" }          # paragraph mode: one stanza per record
      {
        uris=""; suites=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
          if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites = $i }
        }
        if (uris != "" && suites !~ /security/) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f")
    [[ -n $uri ]] && { printf '%s\n' "$uri"; return; }
  done
  # Classic one-line format: "deb [opts] URI suite components".
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    uri=$(awk '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }   # skip [options]
        if ($(i+1) !~ /security/) { print $i; exit }
      }' "$f")
    [[ -n $uri ]] && { printf '%s\n' "$uri"; return; }
  done
  lab_die "cannot find a Debian mirror in /etc/apt sources; set LAB_DEBIAN_MIRROR"
}
