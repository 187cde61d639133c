#!/bin/sh
# Installed by pulumi-lvs as /usr/local/libexec/pulumi-lvs-restore; run at boot by
# pulumi-lvs-restore.service. Restores what pulumi-lvs configured and nothing else:
# addresses, IPVS sysctls, then IPVS rules one line at a time, so a service owned by
# someone else (keepalived, a hand-made one) is never cleared or overwritten.
# Early sysctls (arp_*, ip_forward) are in /etc/sysctl.d, applied before this runs.
# The files are written by pulumi-lvs from the ledger of what each resource holds.
# Do not edit: pulumi-lvs rewrites this file.
d=/etc/pulumi-lvs

# Addresses: "ADDRESS/PREFIX DEVICE" per line (addrs.conf; addrs/*.conf from release 0.1).
for f in "$d"/addrs.conf "$d"/addrs/*.conf; do
  [ -e "$f" ] || continue
  while read -r addr dev; do
    case "$addr" in */*) ;; *) addr="$addr/32" ;; esac
    ip addr replace "$addr" dev "$dev" || echo "pulumi-lvs: cannot add $addr to $dev" >&2
  done <"$f"
done

if ls "$d"/ipvs.rules "$d"/vs-sysctl.conf "$d"/sync-daemons.conf "$d"/ipvs/*.rules "$d"/vs-sysctl/*.conf >/dev/null 2>&1; then
  modprobe ip_vs || exit 1
fi
for f in "$d"/vs-sysctl.conf "$d"/vs-sysctl/*.conf; do
  [ -e "$f" ] && sysctl -q -p "$f"
done

# IPVS rules: ipvsadm arguments per line, services before their destinations.
replay() {
  while read -r line; do
    # shellcheck disable=SC2086 # each line is a list of ipvsadm words
    ipvsadm $line || echo "pulumi-lvs: ipvsadm $line failed" >&2
  done <"$1"
}
[ -e "$d/ipvs.rules" ] && replay "$d/ipvs.rules"
for kind in service dest; do
  for f in "$d"/ipvs/*."$kind".rules; do
    [ -e "$f" ] && replay "$f"
  done
done

# IPVS connection sync daemons: "MODE DEVICE SYNCID" per line (master and backup on each
# director of a VRRP pair, so established connections survive a failover).
if [ -e "$d/sync-daemons.conf" ]; then
  while read -r mode dev syncid; do
    ipvsadm --start-daemon "$mode" --mcast-interface "$dev" --syncid "$syncid" ||
      echo "pulumi-lvs: cannot start the $mode sync daemon on $dev" >&2
  done <"$d/sync-daemons.conf"
fi
exit 0
