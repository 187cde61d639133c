#!/usr/bin/env bash
# Install the Debian packages the VM lab needs on the host, idempotently.
#
# Why: CI machines and fresh developer machines start without these; the lab
# must bring up its own tools. We only touch apt when something is missing
# (and only then run `apt-get update`), so repeated `lab up` calls stay fast
# and work offline once everything is installed.
set -euo pipefail

# command -> Debian package providing it
declare -A NEED=(
  [qemu-system-x86_64]=qemu-system-x86   # the VMs (TCG by default)
  [qemu-img]=qemu-utils                  # copy-on-write overlays
  [debootstrap]=debootstrap              # builds the guest root fs
  [vde_switch]=vde2                      # userspace L2 switch for the lab LAN
  [mkfs.ext4]=e2fsprogs                  # root fs image from a directory (-d)
  [ssh]=openssh-client                   # talk to the guests
  [ssh-keygen]=openssh-client            # throwaway lab key pair
  [ssh-keyscan]=openssh-client           # host-key checks in tests
  [flock]=util-linux                     # serialize concurrent lab commands
  [ss]=iproute2                          # detect port clashes
  [shellcheck]=shellcheck                # lint of the restore script installed on hosts
)

missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
# debian-archive-keyring lets debootstrap verify the archive signatures.
[[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)

if ((${#missing[@]} == 0)); then
  exit 0
fi

# De-duplicate.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "[lab] installing missing packages: ${missing[*]}" >&2

SUDO=()
[[ $EUID -eq 0 ]] || SUDO=(sudo -n)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
