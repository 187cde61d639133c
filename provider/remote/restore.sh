#!/bin/sh
# Installed by pulumi-lvs as /usr/local/libexec/pulumi-lvs-restore; run at boot by
# pulumi-lvs-restore.service. Restores what pulumi-lvs configured and nothing else:
# addresses, IPVS sysctls, then IPVS rules one line at a time, so a service owned by
# someone else (keepalived, a hand-made one) is never cleared or overwritten.
# Early sysctls (arp_*, ip_forward) are in /etc/sysctl.d, applied before this runs.
# The files are written by pulumi-lvs from the ledger of what each resource holds.
# Do not edit: pulumi-lvs rewrites this file.
# A line that fails is reported and the rest still restored; then the script (and so the unit)
# fails, and `systemctl status pulumi-lvs-restore` shows which lines.
d=/etc/pulumi-lvs
failed=0
fail() {
  echo "pulumi-lvs: $*" >&2
  failed=$((failed + 1))
}

# Tunnel links: "MODULE DEVICE" per line (the module creates the device: ipip makes tunl0),
# brought up; "fou PORT": a GUE receive port. Their sysctls (rp_filter on tunl0) did not exist
# when systemd-sysctl ran, so the sysctl file is applied again once they do.
if [ -e "$d/links.conf" ]; then
  while read -r module dev; do
    if [ "$module" = fou ]; then
      { modprobe fou && ip fou add port "$dev" gue; } || fail "cannot add GUE port $dev"
    else
      { modprobe "$module" && ip link set dev "$dev" up; } || fail "cannot bring up $dev ($module)"
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
    ip addr replace "$addr" dev "$dev" $nodad || fail "cannot add $addr to $dev"
  done <"$f"
done

# Routes: "NETWORK GATEWAY" per line (NAT backends reach their clients through the director).
if [ -e "$d/routes.conf" ]; then
  while read -r network via; do
    case "$via" in *:*) family=-6 ;; *) family=-4 ;; esac
    ip "$family" route replace "$network" via "$via" || fail "cannot route $network via $via"
  done <"$d/routes.conf"
fi

# Firewall marks for fwmark services: our own nftables table, replaced whole.
if [ -e "$d/nftables.nft" ]; then
  nft -f "$d/nftables.nft" || fail "cannot load $d/nftables.nft"
fi

if ls "$d"/ipvs.rules "$d"/vs-sysctl.conf "$d"/sync-daemons.conf "$d"/ipvs/*.rules "$d"/vs-sysctl/*.conf >/dev/null 2>&1; then
  modprobe ip_vs || { fail "cannot load the ip_vs module: no IPVS service was restored"; exit 1; }
fi
for f in "$d"/vs-sysctl.conf "$d"/vs-sysctl/*.conf; do
  if [ -e "$f" ]; then sysctl -q -p "$f" || fail "cannot apply $f"; fi
done

# IPVS rules: ipvsadm arguments per line, services before their destinations. The words are
# split but not globbed (an IPv6 address is written [2001:db8::1]:80); globbing is back on for
# the file loops.
replay() {
  set -f
  while read -r line; do
    # shellcheck disable=SC2086 # each line is a list of ipvsadm words
    # Already there (restored by something else before us) is not a failure.
    out=$(ipvsadm $line 2>&1) || case "$out" in
      *"already exists"*) ;;
      *) fail "ipvsadm $line failed: $out" ;;
    esac
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
      fail "cannot start the $mode sync daemon on $dev"
  done <"$d/sync-daemons.conf"
fi
if [ "$failed" -gt 0 ]; then
  echo "pulumi-lvs: $failed line(s) could not be restored (above); the rest was" >&2
  exit 1
fi
exit 0
