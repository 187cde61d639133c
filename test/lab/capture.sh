#!/usr/bin/env bash
# Re-capture real command output from the running lab into test/lab/captured/,
# as fixtures for the provider's parsers (ipvsadm, ip, sysctl, sudo, errors).
#
#   capture.sh [basic|all-kinds]...   default: both
#     basic       IPv4 TCP/UDP services, stats, errors, sudo, sysctls
#     all-kinds   IPv6, SCTP, fwmark, one-packet UDP, sh/mh flags, tunnel
#                 (ipip/gue/gre) and masquerade destinations, timeouts,
#                 ip -6 addresses, the nft table, kernel modules
#
# Why a script: the fixtures must come from the real kernel/ipvsadm in the
# lab image, and re-running this after an image change keeps them honest.
# Needs a running lab (`npm run lab -- up`). It replaces its own fixture services on the director and resets
# the VIP/arp sysctls on the backends, then builds a known configuration.
# Counters, connection-table timers and source ports differ on every run, so
# re-running rewrites those files: check the parser tests still pass.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/captured
mkdir -p "$OUT"
lab() { bash "$HERE/lab.sh" "$@"; }
on() { local h=$1; shift; lab ssh "$h" -- "$@"; }
cap() { local h=$1 f=$2; shift 2; on "$h" "$@" >"$OUT/$f" 2>&1; }

# Fixture services of both sections, removed before each section builds its
# configuration and at the end (never the whole table: `ipvsadm -C` would also
# drop anything a test or a person set up beside them).
FIXTURE_SERVICES='
-t 198.51.100.100:80
-u 198.51.100.100:53
-t 198.51.100.100:443
-t 198.51.100.100:8080
-t 198.51.100.100:8081
-t [2001:db8:100::100]:80
-t [2001:db8:100::100]:443
--sctp-service 198.51.100.100:9999
-f 1
-f 2 -6
-u 198.51.100.100:5353
-t 198.51.100.100:8082
-t 198.51.100.100:8083
-t 198.51.100.100:8000'
remove_fixture_services() {
  printf '%s\n' "$FIXTURE_SERVICES" |
    on director 'while read -r svc; do [ -z "$svc" ] || ipvsadm -D $svc 2>/dev/null || true; done'
}

capture_basic() {
# --- a known configuration ------------------------------------------------
remove_fixture_services
on director '
set -e
modprobe ip_vs
ip addr replace 198.51.100.100/32 dev eth1
ipvsadm -A -t 198.51.100.100:80 -s rr
ipvsadm -a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1
ipvsadm -a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 1
# UDP with persistence and a netmask
ipvsadm -A -u 198.51.100.100:53 -s wlc -p 300 -M 255.255.255.0
ipvsadm -a -u 198.51.100.100:53 -r 198.51.100.11:53 -g -w 2
ipvsadm -a -u 198.51.100.100:53 -r 198.51.100.12:53 -g -w 1
# wrr with upper/lower connection thresholds on one real server
ipvsadm -A -t 198.51.100.100:443 -s wrr
ipvsadm -a -t 198.51.100.100:443 -r 198.51.100.11:443 -g -w 3 -x 100 -y 10
ipvsadm -a -t 198.51.100.100:443 -r 198.51.100.12:443 -g -w 1
# source hashing, plain and with scheduler flags; weight 0 = drained
ipvsadm -A -t 198.51.100.100:8080 -s sh
ipvsadm -a -t 198.51.100.100:8080 -r 198.51.100.11:8080 -g -w 1
ipvsadm -a -t 198.51.100.100:8080 -r 198.51.100.12:8080 -g -w 0
ipvsadm -A -t 198.51.100.100:8081 -s sh -b sh-fallback,sh-port
ipvsadm -a -t 198.51.100.100:8081 -r 198.51.100.11:8081 -g -w 1
'
for b in rs-a rs-b; do
  on "$b" 'ip addr replace 198.51.100.100/32 dev lo &&
    sysctl -q -w net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.all.arp_ignore=1 \
      net.ipv4.conf.lo.arp_announce=2 net.ipv4.conf.all.arp_announce=2'
done
# Some traffic so counters and the connection table are not all zero.
on client 'for i in 1 2 3 4 5 6; do curl -s http://198.51.100.100/; done' >"$OUT/curl-vip-6x.txt"

# --- captures -------------------------------------------------------------
cap director ipvsadm-S-n.txt 'ipvsadm -S -n'
cap director sys-class-net-director.txt 'echo /sys/class/net/*'
cap director ipvsadm-L-n.txt 'ipvsadm -L -n'
cap director ipvsadm-L-n-thresholds.txt 'ipvsadm -L -n --thresholds'
cap director ipvsadm-L-n-stats.txt 'ipvsadm -L -n --stats'
cap director ipvsadm-L-n-exact-stats.txt 'ipvsadm -L -n --exact --stats'
cap director ipvsadm-L-n-rate.txt 'ipvsadm -L -n --rate'
cap director ipvsadm-L-n-persistent-conn.txt 'ipvsadm -L -n --persistent-conn'
cap director ipvsadm-L-n-c.txt 'ipvsadm -L -n -c'
cap director ipvsadm-L-n-one-service.txt 'ipvsadm -L -n -t 198.51.100.100:443'
cap director ipvsadm-L-timeout.txt 'ipvsadm -L --timeout'
cap director proc-net-ip_vs.txt 'cat /proc/net/ip_vs'
cap director ipvsadm-version.txt 'ipvsadm --version'
cap director uname-r.txt 'uname -r'
cap director ip-o-addr-director.txt 'ip -o addr show'
cap rs-a ip-o-addr-backend.txt 'ip -o addr show'
SYSCTLS='net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.conf.lo.arp_ignore net.ipv4.conf.lo.arp_announce net.ipv4.conf.eth1.arp_ignore net.ipv4.conf.eth1.arp_announce net.ipv4.ip_forward'
cap rs-a sysctl-backend.txt "for k in $SYSCTLS; do echo \"\$k=\$(sysctl -n \$k)\"; done"
cap director sysctl-director.txt "for k in $SYSCTLS net.ipv4.vs.conntrack net.ipv4.vs.expire_nodest_conn; do echo \"\$k=\$(sysctl -n \$k)\"; done"

# Error messages and exit codes the provider has to recognise.
cap director ipvsadm-errors.txt '
for c in "ipvsadm -A -t 198.51.100.100:80 -s rr" \
         "ipvsadm -a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1" \
         "ipvsadm -d -t 198.51.100.100:80 -r 198.51.100.99:80" \
         "ipvsadm -D -t 198.51.100.100:81" \
         "ipvsadm -L -n -t 198.51.100.100:81" \
         "ipvsadm -A -t 198.51.100.100:82 -s nosuchsched" \
         "ipvsadm -e -t 198.51.100.100:82 -s rr"; do
  echo "\$ $c"; $c 2>&1; echo "[exit $?]"
done'
# rs-b never loaded ip_vs: ipvsadm loads it on first use.
on rs-b 'rmmod ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_wlc ip_vs 2>/dev/null; true'
cap rs-b ipvs-module-not-loaded.txt '
echo "\$ lsmod | grep ip_vs"; lsmod | grep ip_vs; echo "[exit $?]"
echo "\$ cat /proc/net/ip_vs"; cat /proc/net/ip_vs 2>&1; echo "[exit $?]"
echo "\$ ipvsadm -L -n"; ipvsadm -L -n 2>&1; echo "[exit $?]"
echo "\$ lsmod | grep ^ip_vs"; lsmod | grep ^ip_vs'
lab ssh director --user pwuser -- 'echo "\$ sudo -n true"; sudo -n true; echo "[exit $?]"' >"$OUT/sudo-password-required.txt" 2>&1
lab ssh director --user ops -- 'echo "\$ sudo -n id -u"; sudo -n id -u; echo "[exit $?]"' >"$OUT/sudo-nopasswd.txt" 2>&1
}

capture_all_kinds() {
remove_fixture_services
# Every kind of service and destination the kernel/ipvsadm in the lab know.
on director '
set -e
modprobe ip_vs
ip addr replace 198.51.100.100/32 dev eth1
# IPv6 TCP, direct routing, two destinations with different weights
ipvsadm -A -t [2001:db8:100::100]:80 -s wrr
ipvsadm -a -t [2001:db8:100::100]:80 -r [2001:db8:100::11]:80 -g -w 1
ipvsadm -a -t [2001:db8:100::100]:80 -r [2001:db8:100::12]:80 -g -w 2
# SCTP
ipvsadm -A --sctp-service 198.51.100.100:9999 -s rr
ipvsadm -a --sctp-service 198.51.100.100:9999 -r 198.51.100.11:9999 -g -w 1
# firewall marks: IPv4 with persistence, IPv6 (real servers of a fwmark service have port 0)
ipvsadm -A -f 1 -s rr -p 300
ipvsadm -a -f 1 -r 198.51.100.11:0 -g -w 1
ipvsadm -A -f 2 -6 -s rr
ipvsadm -a -f 2 -6 -r [2001:db8:100::12]:0 -g -w 1
# UDP with one-packet scheduling
ipvsadm -A -u 198.51.100.100:5353 -s rr -o
ipvsadm -a -u 198.51.100.100:5353 -r 198.51.100.11:5353 -g -w 1
ipvsadm -a -u 198.51.100.100:5353 -r 198.51.100.12:5353 -g -w 1
# scheduler flags of sh and mh
ipvsadm -A -t 198.51.100.100:8082 -s sh -b sh-port,sh-fallback
ipvsadm -a -t 198.51.100.100:8082 -r 198.51.100.11:8082 -g -w 1
ipvsadm -A -t 198.51.100.100:8083 -s mh -b mh-port,mh-fallback
ipvsadm -a -t 198.51.100.100:8083 -r 198.51.100.12:8083 -g -w 1
# tunnel destinations: ipip (default), GUE on UDP 6080, GRE; rs-c is off the LAN (segment 2)
ipvsadm -A -t 198.51.100.100:80 -s rr
ipvsadm -a -t 198.51.100.100:80 -r 203.0.113.30:80 -i -w 1
ipvsadm -a -t 198.51.100.100:80 -r 198.51.100.11:80 -i -w 1 --tun-type gue --tun-port 6080
ipvsadm -a -t 198.51.100.100:80 -r 198.51.100.12:80 -i -w 1 --tun-type gre
# IPv6 tunnel destination (ip6ip6)
ipvsadm -A -t [2001:db8:100::100]:443 -s rr
ipvsadm -a -t [2001:db8:100::100]:443 -r [2001:db8:113::30]:443 -i -w 1
# masquerading (NAT) to another port
ipvsadm -A -t 198.51.100.100:8000 -s rr
ipvsadm -a -t 198.51.100.100:8000 -r 198.51.100.11:8080 -m -w 1
'
cap director ipvsadm-S-n-all-kinds.txt 'ipvsadm -S -n'
cap director ipvsadm-L-n-all-kinds.txt 'ipvsadm -L -n'
cap director ipvsadm-L-n-thresholds-all-kinds.txt 'ipvsadm -L -n --thresholds'
cap director ipvsadm-L-n-tun-info-all-kinds.txt 'ipvsadm -L -n --tun-info'
cap director proc-net-ip_vs-all-kinds.txt 'cat /proc/net/ip_vs'
# Connection timeouts set by hand, then the defaults back.
cap director ipvsadm-L-timeout-set.txt 'ipvsadm --set 900 60 300 && ipvsadm -L --timeout'
on director 'ipvsadm --set 900 120 300'

# IPv6 VIPs: /128 on the director's eth1 (duplicate address detection left
# on; wait until it is done), and on a backend's lo (no DAD on loopback).
on director 'ip -6 addr replace 2001:db8:100::100/128 dev eth1 &&
  for i in 1 2 3 4 5 6 7 8 9 10; do ip -6 addr show dev eth1 tentative | grep -q . || break; sleep 0.5; done'
on rs-a 'ip -6 addr replace 2001:db8:100::100/128 dev lo'
cap director ip-o-6-addr-director.txt 'ip -o -6 addr show'
cap rs-a ip-o-6-addr-backend.txt 'ip -o -6 addr show'
on director 'ip -6 addr del 2001:db8:100::100/128 dev eth1'
on rs-a 'ip -6 addr del 2001:db8:100::100/128 dev lo'

# The nft table pulumi-lvs writes for firewall-mark services.
on director 'nft delete table inet pulumi_lvs 2>/dev/null; nft -f - <<EOF
table inet pulumi_lvs {
  chain prerouting { type filter hook prerouting priority mangle; policy accept;
    ip daddr 198.51.100.100 tcp dport { 80, 8080 } meta mark set 0x00000001
    ip6 daddr 2001:db8:100::100 tcp dport { 80, 8080 } meta mark set 0x00000002
  }
}
EOF'
cap director nft-list-table.txt 'nft list table inet pulumi_lvs'
cap director nft-j-list-table.json 'nft -j list table inet pulumi_lvs'
on director 'nft delete table inet pulumi_lvs'
cap director nft-list-table-missing.txt 'echo "\$ nft list table inet pulumi_lvs"; nft list table inet pulumi_lvs; echo "[exit $?]"'

# Which tunnel/SCTP/nftables/scheduler modules the guest kernel has.
cap director kernel-modules.txt '
echo "\$ uname -r"; uname -r
# (modinfo -n: the module file, or an error if there is none; modprobe -n -v:
# what loading it would insmod, nothing if it is loaded already.)
for m in ipip ip6_tunnel fou fou6 gre ip_gre ip6_gre sctp nf_tables nft_ct ip_vs_mh ip_vs_twos; do
  echo "\$ modinfo -n $m"; modinfo -n $m 2>&1; echo "[exit $?]"
  echo "\$ modprobe -n -v $m"; modprobe -n -v $m 2>&1; echo "[exit $?]"
done
echo "\$ ls /lib/modules/\$(uname -r)/kernel/net/netfilter/ipvs"; ls /lib/modules/$(uname -r)/kernel/net/netfilter/ipvs
echo "\$ lsmod | grep -E \"^(ip_vs|sctp|nf_tables|ipip|ip6_tunnel|fou|gre)\" (after the captures above)"
lsmod | grep -E "^(ip_vs|sctp|nf_tables|ipip|ip6_tunnel|fou|gre)" | sort'
}

# Put back what the sections set up: fixture services, VIPs, ARP sysctls.
cleanup() {
  remove_fixture_services
  on director 'ip addr del 198.51.100.100/32 dev eth1 2>/dev/null; true'
  for b in rs-a rs-b; do
    on "$b" 'ip addr del 198.51.100.100/32 dev lo 2>/dev/null
      sysctl -q -w net.ipv4.conf.lo.arp_ignore=0 net.ipv4.conf.all.arp_ignore=0 \
        net.ipv4.conf.lo.arp_announce=0 net.ipv4.conf.all.arp_announce=0'
  done
}

sections=("$@")
((${#sections[@]})) || sections=(basic all-kinds)
for s in "${sections[@]}"; do
  case $s in
    basic) capture_basic ;;
    all-kinds) capture_all_kinds ;;
    *) echo "unknown section $s (basic, all-kinds)" >&2; exit 2 ;;
  esac
done
cleanup
echo "captured into $OUT:" >&2
ls "$OUT" >&2
