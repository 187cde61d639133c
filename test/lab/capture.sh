#!/usr/bin/env bash
# Re-capture real command output from the running lab into test/lab/captured/,
# as fixtures for the provider's parsers (ipvsadm, ip, sysctl, sudo, errors).
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

# --- a known configuration ------------------------------------------------
on director '
set -e
modprobe ip_vs
# Remove only the fixture services from a previous capture (never the whole table).
for svc in "-t 198.51.100.100:80" "-u 198.51.100.100:53" "-t 198.51.100.100:443" "-t 198.51.100.100:8080" "-t 198.51.100.100:8081"; do
  ipvsadm -D $svc 2>/dev/null || true
done
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
cap() { local h=$1 f=$2; shift 2; on "$h" "$@" >"$OUT/$f" 2>&1; }
cap director ipvsadm-S-n.txt 'ipvsadm -S -n'
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
echo "captured into $OUT:" >&2
ls "$OUT" >&2
