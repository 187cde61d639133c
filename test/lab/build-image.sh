#!/usr/bin/env bash
# Build (or reuse) the lab's Debian bookworm guest image.
#
# Output, in $PULUMI_LVS_CACHE/images/<recipe-hash>/:
#   rootfs.raw   ext4 root filesystem (the read-only base of every VM's overlay)
#   vmlinuz      kernel, booted directly with qemu -kernel (no bootloader: faster
#   initrd.img   and no partition table to manage)
#   manifest.txt kernel version, package list, build time
# The directory name is a hash of this script and guest/*, so a recipe change
# builds a new image and an unchanged recipe reuses the cached one.
#
# Usage: build-image.sh [--force]      prints the image directory on stdout
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

OUT=$(lab_image_dir)
if [[ $FORCE == 0 && -f $OUT/ok ]]; then
  printf '%s\n' "$OUT"
  exit 0
fi

bash "$LAB_SRC_DIR/deps.sh"
mkdir -p "$LAB_CACHE_DIR/images" "$LAB_CACHE_DIR/debs"

# Concurrent `lab up`s (parallel test files) must not build twice at once.
exec 8>"$LAB_CACHE_DIR/images/build.lock"
flock 8
if [[ $FORCE == 0 && -f $OUT/ok ]]; then printf '%s\n' "$OUT"; exit 0; fi

# minbase keeps the image small; everything else is listed explicitly (no
# Recommends). Why each one:
PACKAGES=(
  systemd systemd-sysv udev         # real init, like production hosts; udev loads NIC drivers
  linux-image-cloud-amd64           # small virtio-focused kernel that has ip_vs modules
  initramfs-tools zstd              # the kernel package wants an initrd tool (the lab packs its own initrd)
  openssh-server openssh-sftp-server  # the provider talks SSH (node-ssh may use SFTP)
  ipvsadm kmod                      # the thing under test; modprobe ip_vs
  iproute2 procps                   # ip addr (VIP), sysctl (arp_ignore/arp_announce)
  sudo                              # ops (NOPASSWD) and pwuser (password) sudo tests
  busybox-static                    # httpd for backend test pages (Debian's plain busybox lacks httpd); nc -ll -e = TCP echo server/client
  keepalived                        # VRRP failover + health checks for the HA tests (unit left as Debian ships it)
  curl iputils-ping                 # client-side checks and debugging
  nftables                          # firewall-mark services (pulumi-lvs writes its own nft table); unit left as shipped (disabled)
  socat                             # UDP/SCTP responders on backends (lab-udp5353, lab-sctp9999) and clients
  ipv6toolkit                       # na6: the director's unsolicited neighbour advertisement for a new IPv6 VIP
)

WORK=$(mktemp -d "$LAB_CACHE_DIR/images/build.XXXXXX")
ROOT=$WORK/rootfs
cleanup() {
  # Never leave a mount behind in the cache dir.
  mountpoint -q "$ROOT/proc" 2>/dev/null && umount "$ROOT/proc" || true
  mountpoint -q "$ROOT/sys" 2>/dev/null && umount "$ROOT/sys" || true
  mountpoint -q "$ROOT/dev" 2>/dev/null && umount "$ROOT/dev" || true
  # LAB_KEEP_BUILD=1 keeps the work dir for debugging a failed build.
  [[ ${LAB_KEEP_BUILD:-0} == 1 ]] && lab_log "kept $WORK" || lab_as_root rm -rf "$WORK"
}
trap cleanup EXIT

MIRROR=$(lab_debian_mirror)
lab_log "debootstrap bookworm (minbase) from $MIRROR ..."
t0=$SECONDS
include=$(IFS=,; echo "${PACKAGES[*]}")
lab_as_root debootstrap --variant=minbase --include="$include" \
  --cache-dir="$LAB_CACHE_DIR/debs" bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -30 "$WORK/debootstrap.log" >&2; lab_die "debootstrap failed"; }
lab_log "debootstrap done in $((SECONDS - t0))s"

in_root() { lab_as_root chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# --- guest files ------------------------------------------------------------
G=$LAB_SRC_DIR/guest
lab_as_root install -m 755 "$G/lab-init" "$G/lab-hostkeys" "$G/lab-udp-reply" "$ROOT/usr/local/sbin/"
LAB_UNITS=(lab-init.service lab-httpd.service lab-httpd-8080.service lab-udp5353.service lab-sctp9999.service)
lab_as_root install -m 644 "${LAB_UNITS[@]/#/$G/}" "$ROOT/etc/systemd/system/"
lab_as_root install -m 644 "$G/sshd-lab.conf" "$ROOT/etc/ssh/sshd_config.d/lab.conf"

# --- users --------------------------------------------------------------------
# root: key only (authorized_keys written at boot by lab-init).
# ops: key + passwordless sudo (the normal non-root provider path).
# pwuser: key + sudo that asks for a password (password "pwuser"), to test the
#         provider's error when sudo cannot run non-interactively.
in_root useradd -m -s /bin/bash ops
in_root useradd -m -s /bin/bash -G sudo pwuser
echo 'pwuser:pwuser' | in_root chpasswd
echo 'ops ALL=(ALL:ALL) NOPASSWD: ALL' | lab_as_root tee "$ROOT/etc/sudoers.d/ops" >/dev/null
echo 'pwuser ALL=(ALL:ALL) ALL' | lab_as_root tee "$ROOT/etc/sudoers.d/pwuser" >/dev/null
lab_as_root chmod 440 "$ROOT/etc/sudoers.d/ops" "$ROOT/etc/sudoers.d/pwuser"
in_root passwd -l root >/dev/null

# --- boot speed -----------------------------------------------------------------
# Six VMs share two host cores under TCG emulation, so every unit counts.
# Host keys from package install would be shared by all VMs: drop them, they
# are generated per VM at first boot.
lab_as_root rm -f "$ROOT"/etc/ssh/ssh_host_*
# Empty machine-id: each VM gets its own via systemd.machine_id= on the
# kernel command line (an empty file is not "first boot", so no preset-all).
lab_as_root truncate -s 0 "$ROOT/etc/machine-id"
lab_as_root rm -f "$ROOT/var/lib/dbus/machine-id"
# No resolver in the lab: an empty resolv.conf fails lookups instantly
# instead of timing out against the build host's nameserver.
lab_as_root truncate -s 0 "$ROOT/etc/resolv.conf"
echo lab | lab_as_root tee "$ROOT/etc/hostname" >/dev/null
# Interactive `lab ssh` sessions: no Debian license banner.
lab_as_root truncate -s 0 "$ROOT/etc/motd"
# pam_env warns on every login without it.
echo 'LANG=C.UTF-8' | lab_as_root tee "$ROOT/etc/default/locale" >/dev/null
# Volatile journal: less disk I/O, and the serial console log is what we read.
lab_as_root mkdir -p "$ROOT/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n' |
  lab_as_root tee "$ROOT/etc/systemd/journald.conf.d/lab.conf" >/dev/null
# Don't wait 90 s on a stuck unit during reboot/stop.
lab_as_root mkdir -p "$ROOT/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStopSec=10s\nDefaultTimeoutStartSec=60s\n' |
  lab_as_root tee "$ROOT/etc/systemd/system.conf.d/lab.conf" >/dev/null

lab_as_root systemctl --root="$ROOT" enable "${LAB_UNITS[@]}" ssh.service >/dev/null 2>&1
# Units that cost boot time and do nothing useful in a throwaway test VM.
# (logind needs dbus, which the image doesn't have; gettys are pointless on a
# serial console that is only a log file.)
MASK=(
  apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service
  dpkg-db-backup.timer dpkg-db-backup.service e2scrub_all.timer e2scrub_reap.service
  fstrim.timer systemd-tmpfiles-clean.timer
  systemd-networkd-wait-online.service systemd-networkd.service systemd-networkd.socket
  systemd-timesyncd.service systemd-logind.service
  getty@tty1.service serial-getty@ttyS0.service getty.target
  systemd-journal-flush.service systemd-update-utmp.service systemd-update-utmp-runlevel.service
  systemd-pstore.service systemd-hwdb-update.service systemd-journal-catalog-update.service
  systemd-binfmt.service sys-kernel-debug.mount sys-kernel-tracing.mount
  sys-fs-fuse-connections.mount modprobe@fuse.service modprobe@drm.service
  systemd-firstboot.service first-boot-complete.target systemd-machine-id-commit.service
  ssh.socket rescue.service
)
lab_as_root systemctl --root="$ROOT" mask "${MASK[@]}" >/dev/null 2>&1
lab_as_root systemctl --root="$ROOT" set-default multi-user.target >/dev/null 2>&1

# --- initrd -----------------------------------------------------------------------
# The cloud kernel has the virtio drivers (disk and NICs) as modules, so an initrd is
# needed. Ours is a static busybox, those modules (guest/initramfs-modules, in load
# order) and a short /init (guest/initramfs-init) that mounts the root disk: the one
# initramfs-tools makes starts udev and took ~4 s of every boot under emulation.
KVER=$(basename "$(ls -d "$ROOT"/lib/modules/*)")
INITRD=$ROOT/tmp/lab-initrd
lab_as_root mkdir -p "$INITRD/bin" "$INITRD/lib/modules"
lab_as_root cp "$ROOT/bin/busybox" "$INITRD/bin/busybox"
lab_as_root install -m 755 "$G/initramfs-init" "$INITRD/init"
lab_as_root install -m 644 "$G/initramfs-modules" "$INITRD/modules"
while read -r m; do
  ko=$(find "$ROOT/lib/modules/$KVER/kernel" -name "$m.ko")
  [[ -n $ko && $(wc -l <<<"$ko") == 1 ]] || lab_die "kernel $KVER: no single module $m.ko for the initrd"
  lab_as_root cp "$ko" "$INITRD/lib/modules/$m.ko"
done <"$G/initramfs-modules"
in_root sh -c 'cd /tmp/lab-initrd && find . | busybox cpio -o -H newc 2>/dev/null' >"$WORK/initrd.img" ||
  lab_die "cannot pack the initrd"
lab_as_root rm -rf "$INITRD"

# --- sanity checks ----------------------------------------------------------------
for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_mh sctp ipip nf_tables; do
  find "$ROOT/lib/modules/$KVER" -name "$m.ko*" | grep . >/dev/null || lab_die "kernel $KVER lacks module $m"
done
in_root busybox --list | grep -x httpd >/dev/null || lab_die "busybox has no httpd applet"
in_root busybox --list | grep -x nc >/dev/null || lab_die "busybox has no nc applet"
in_root keepalived --version >/dev/null 2>&1 || lab_die "keepalived does not run"
in_root nft --version >/dev/null 2>&1 || lab_die "nft does not run"
in_root socat -V 2>/dev/null | grep -q 'WITH_SCTP 1' || lab_die "socat lacks SCTP"
# Debian ships nftables.service disabled (it would flush the whole ruleset at
# boot from /etc/nftables.conf); keep it that way.
if lab_as_root systemctl --root="$ROOT" is-enabled nftables.service >/dev/null 2>&1; then lab_die "nftables.service is enabled"; fi

# --- extract kernel, slim down, make the ext4 image --------------------------------
STAGE=$WORK/out
mkdir -p "$STAGE"
lab_as_root cp "$ROOT/boot/vmlinuz-$KVER" "$STAGE/vmlinuz"
cp "$WORK/initrd.img" "$STAGE/initrd.img"
lab_as_root chmod 644 "$STAGE/vmlinuz" "$STAGE/initrd.img"
{
  echo "built: $(date -u +%FT%TZ)"
  echo "recipe: $(lab_image_hash)"
  echo "kernel: $KVER"
  echo "packages:"
  in_root dpkg-query -W -f '  ${Package} ${Version}\n'
} >"$STAGE/manifest.txt"
# The kernel/initrd live outside the image; docs, man pages, apt lists and the
# .deb cache are dead weight in a test VM.
lab_as_root rm -rf "$ROOT"/boot/vmlinuz-* "$ROOT"/boot/initrd.img-* \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
  "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
  "$ROOT"/var/log/*.log

# Size = content + headroom for tests (persisted configs, logs); the file is
# sparse, so unused space costs nothing on the host.
used_mb=$(lab_as_root du -sm "$ROOT" | cut -f1)
size_mb=$(( used_mb + 768 ))
lab_log "mkfs.ext4 -d (${used_mb} MB used, ${size_mb} MB image) ..."
t1=$SECONDS
truncate -s "${size_mb}M" "$STAGE/rootfs.raw"   # pre-create: mkfs is then silent
lab_as_root mkfs.ext4 -q -F -L labroot -d "$ROOT" "$STAGE/rootfs.raw"
lab_log "mkfs done in $((SECONDS - t1))s"
lab_as_root chown -R "$(id -u):$(id -g)" "$STAGE"
touch "$STAGE/ok"

# Publish atomically: a half-written image is never mistaken for a good one.
rm -rf "$OUT"
mv "$STAGE" "$OUT"
lab_log "image ready: $OUT (kernel $KVER, total $((SECONDS - t0))s)"
printf '%s\n' "$OUT"
