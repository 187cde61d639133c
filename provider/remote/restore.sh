#!/bin/sh
# Installed by pulumi-lvs as /usr/local/libexec/pulumi-lvs-restore; run at boot by
# pulumi-lvs-restore.service. Restores what pulumi-lvs configured and nothing else:
# addresses, IPVS sysctls, then IPVS rules one line at a time, so a service owned by
# someone else (keepalived, a hand-made one) is never cleared or overwritten.
# Early sysctls (arp_*, ip_forward) are in /etc/sysctl.d, applied before this runs.
# The files are written by pulumi-lvs from the ledger of what each resource holds.
# Do not edit: pulumi-lvs rewrites this file.
d=/etc/pulumi-lvs

# Tunnel links: "MODULE DEVICE" per line (the module creates the device: ipip makes tunl0),
# brought up; "fou PORT": a GUE receive port. Their sysctls (rp_filter on tunl0) did not exist
# when systemd-sysctl ran, so the sysctl file is applied again once they do.
if [ -e "$d/links.conf" ]; then
  while read -r module dev; do
    if [ "$module" = fou ]; then
      modprobe fou && ip fou add port "$dev" gue || echo "pulumi-lvs: cannot add GUE port $dev" >&2
    else
      modprobe "$module" && ip link set dev "$dev" up || echo "pulumi-lvs: cannot bring up $dev ($module)" >&2
    fi
  done <"$d/links.conf"
  sysctl -q -p /etc/sysctl.d/90-pulumi-lvs.conf 2>/dev/null || true
fi

# Addresses: "ADDRESS/PREFIX DEVICE" per line (addrs.conf; addrs/*.conf from release 0.1).
for f in "$d"/addrs.conf "$d"/addrs/*.conf; do
  [ -e "$f" ] || continue
  while read -r addr dev; do
    case "$addr" in */*) ;; *) addr="$addr/32" ;; esac
    case "$addr" in *:*) nodad=nodad ;; *) nodad= ;; esac
    # shellcheck disable=SC2086 # nodad is one word or none
    ip addr replace "$addr" dev "$dev" $nodad || echo "pulumi-lvs: cannot add $addr to $dev" >&2
  done <"$f"
done

# Routes: "NETWORK GATEWAY" per line (NAT backends reach their clients through the director).
if [ -e "$d/routes.conf" ]; then
  while read -r network via; do
    case "$via" in *:*) family=-6 ;; *) family=-4 ;; esac
    ip "$family" route replace "$network" via "$via" || echo "pulumi-lvs: cannot route $network via $via" >&2
  done <"$d/routes.conf"
fi

# Firewall marks for fwmark services: our own nftables table, replaced whole.
if [ -e "$d/nftables.nft" ]; then
  nft -f "$d/nftables.nft" || echo "pulumi-lvs: cannot load $d/nftables.nft" >&2
fi

if ls "$d"/ipvs.rules "$d"/vs-sysctl.conf "$d"/sync-daemons.conf "$d"/ipvs/*.rules "$d"/vs-sysctl/*.conf >/dev/null 2>&1; then
  modprobe ip_vs || exit 1
fi
for f in "$d"/vs-sysctl.conf "$d"/vs-sysctl/*.conf; do
  [ -e "$f" ] && sysctl -q -p "$f"
done

# IPVS rules: ipvsadm arguments per line, services before their destinations. The words are
# split but not globbed (an IPv6 address is written [2001:db8::1]:80); globbing is back on for
# the file loops.
replay() {
  set -f
  while read -r line; do
    # shellcheck disable=SC2086 # each line is a list of ipvsadm words
    ipvsadm $line || echo "pulumi-lvs: ipvsadm $line failed" >&2
  done <"$1"
  set +f
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
