#!/usr/bin/env bash
# pulumi-lvs VM lab: real Linux hosts with IPVS and OpenSSH, on one machine.
#
#   npm run lab -- up [HOST...]        build/reuse image, boot VMs, wait for SSH
#   npm run lab -- down                stop everything this lab started, drop overlays
#   npm run lab -- status [--json]     table, or JSON for the e2e tests
#   npm run lab -- ssh HOST [--user U] [CMD...]
#   npm run lab -- start HOST [--delay SECONDS] | stop HOST
#   npm run lab -- reboot HOST         returns once HOST answers SSH with a new boot id and its boot is done
#   npm run lab -- rotate-hostkey HOST new SSH host keys + sshd restart
#   npm run lab -- prune               delete cached images other than the current one
#
# Topology: every VM has two NICs. NIC 1 is qemu user-mode networking
# (restrict=on: no route out) whose only use is a 127.0.0.1:PORT -> :22
# forward. NIC 2 (eth1) sits on a private vde_switch: the lab LAN
# 198.51.100.0/24 (TEST-NET-2) + 2001:db8:100::/64, which exists only inside
# the VMs and the userspace switch. The host never talks to lab addresses;
# tests reach the LAN only by running commands inside a VM (e.g. curl on
# `client`). Hosts: director (.10), rs-a (.11), rs-b (.12), client (.20), and
# director2 (.13), a second director for keepalived/VRRP failover tests.
# A second switch, segment 2 (203.0.113.0/24, TEST-NET-3, + 2001:db8:113::/64),
# holds rs-c (.30, eth1 on segment 2 only: a backend off the LAN, for LVS-TUN)
# and director2's third NIC (eth2, .1), which routes between the two.
#
# Environment:
#   PULUMI_LVS_LAB_DIR   state dir (default $PULUMI_LVS_CACHE/lab)
#   PULUMI_LVS_CACHE     cache root (default ~/.cache/pulumi-lvs)
#   LAB_SSH_BASE_PORT    first forwarded SSH port (default 2220;
#                        director, rs-a, rs-b, client, director2, rs-c = +0..+5)
#   LAB_KVM=1            use KVM instead of TCG emulation
#   LAB_VM_MEM           MiB per VM (default 512)
#   LAB_BOOT_TIMEOUT     seconds to wait for SSH (default 600)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE=${PULUMI_LVS_LAB_DIR:-$LAB_DEFAULT_DIR}
VIP=198.51.100.100     # reserved for tests; the lab never configures it
VIP6=2001:db8:100::100 # the same, IPv6
# IDX fixes each VM's SSH port (base + IDX) and MACs; director2 and rs-c came
# later, hence indexes 4 and 5 (existing ports stay where they were).
ALL_HOSTS=(director rs-a rs-b client director2 rs-c)
declare -A IDX=([director]=0 [rs-a]=1 [rs-b]=2 [client]=3 [director2]=4 [rs-c]=5)
declare -A ROLE=([director]=director [rs-a]=backend [rs-b]=backend [client]=client [director2]=director
                 [rs-c]=backend)
# ADDR/ADDR6: eth1, on the switch SEG names (lan or seg2).
declare -A ADDR=([director]=198.51.100.10 [rs-a]=198.51.100.11 [rs-b]=198.51.100.12 [client]=198.51.100.20
                 [director2]=198.51.100.13 [rs-c]=203.0.113.30)
declare -A ADDR6=([director]=2001:db8:100::10 [rs-a]=2001:db8:100::11 [rs-b]=2001:db8:100::12
                  [client]=2001:db8:100::20 [director2]=2001:db8:100::13 [rs-c]=2001:db8:113::30)
declare -A SEG=([director]=lan [rs-a]=lan [rs-b]=lan [client]=lan [director2]=lan [rs-c]=seg2)
declare -A PAGE=([rs-a]=A [rs-b]=B [rs-c]=C)
# director2 is the router between the segments: eth2 on seg2, forwarding on.
SEG2_ROUTER=198.51.100.13 SEG2_ROUTER6=2001:db8:100::13
declare -A ETH2=([director2]=203.0.113.1) ETH2V6=([director2]=2001:db8:113::1)
declare -A ROUTES=(
  [rs-c]="198.51.100.0/24,203.0.113.1 2001:db8:100::/64,2001:db8:113::1"
  [director]="203.0.113.0/24,$SEG2_ROUTER 2001:db8:113::/64,$SEG2_ROUTER6"
)
ROUTES[rs-a]=${ROUTES[director]} ROUTES[rs-b]=${ROUTES[director]} ROUTES[client]=${ROUTES[director]}
# One vde_switch per segment: its control socket dir and pid file in the state dir.
declare -A SWITCH=([lan]=vde [seg2]=vde2)
MEM=${LAB_VM_MEM:-512}
BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-600}
KEY=$STATE/id_ed25519

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)   # absolute: it is matched against /proc/PID/cmdline
KEY=$STATE/id_ed25519

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

check_host() { [[ -n ${IDX[$1]:-} ]] || lab_die "unknown host '$1' (hosts: ${ALL_HOSTS[*]})"; }

# The forwarded ports are fixed for the lifetime of a running lab: remember
# the base port chosen at `up`, so `status`/`ssh` from another shell (without
# the env var) still report the right ports.
base_port() {
  if [[ -s $STATE/base-port ]]; then cat "$STATE/base-port"; else echo "${LAB_SSH_BASE_PORT:-$LAB_DEFAULT_BASE_PORT}"; fi
}
ssh_port() { echo $(( $(base_port) + IDX[$1] )); }

# Is the pid in FILE alive *and* a process this lab started? The state dir's
# absolute path is in the command line of every process we start, which guards
# against acting on a recycled pid.
pid_ours() {
  local f=$1 pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -F -- "$STATE/" >/dev/null
}
vm_running() { pid_ours "$STATE/$1.pid"; }
vm_pending() { pid_ours "$STATE/$1.starter.pid"; }   # `start --delay` still sleeping

# Stop processes by their recorded pids (pid files given as arguments):
# SIGTERM all first (qemu then flushes its qcow2 metadata and exits), wait for
# all together, escalate to SIGKILL only for any that don't go away.
stop_pidfiles() {
  local f pids=() pid i alive
  for f in "$@"; do
    if pid_ours "$f"; then
      pid=$(<"$f")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for ((i = 0; i < 100; i++)); do
    alive=0
    for pid in "${pids[@]}"; do [[ -d /proc/$pid ]] && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do [[ -d /proc/$pid ]] && kill -KILL "$pid" 2>/dev/null; done
  rm -f "$@"
}

SSH_OPTS=(
  -F /dev/null                          # ignore the user's ssh config
  -o BatchMode=yes                      # never prompt
  -o StrictHostKeyChecking=no           # VMs get fresh host keys; the lab CLI doesn't pin
  -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null
  -o LogLevel=ERROR
  -o ConnectTimeout=10                  # also bounds the SSH handshake
  -o ServerAliveInterval=5 -o ServerAliveCountMax=6
  -o IdentitiesOnly=yes -o IdentityAgent=none
)
lab_ssh() {  # lab_ssh HOST USER [ssh-args/cmd...]
  local host=$1 user=$2; shift 2
  ssh "${SSH_OPTS[@]}" -i "$KEY" -p "$(ssh_port "$host")" "$user@127.0.0.1" "$@"
}

# Probes (`ssh HOST CMD`) share one OpenSSH connection per host and user (ControlMaster): a
# login under TCG costs far more than the command a test runs. A host that stops or reboots
# has its shared connections closed first, so no probe waits on a dead one.
mux_opts() { printf '%s\n' -o ControlMaster=auto -o "ControlPath=$STATE/cm-$1-$2" -o ControlPersist=300; }
close_mux() {  # close_mux HOST
  local s
  for s in "$STATE/cm-$1-"*; do
    [[ -S $s ]] || continue
    ssh -o ControlPath="$s" -O exit "$1" >/dev/null 2>&1 || true
    rm -f "$s"
  done
}

# One lock per lab state dir: parallel test files calling `up`/`start`/`stop`
# must not race on pid files and overlays.
take_lock() {
  exec 9>"$STATE/lock"
  flock -w 1200 9 || lab_die "timed out waiting for the lab lock ($STATE/lock)"
}

ensure_key() {
  if [[ ! -s $KEY || ! -s $KEY.pub ]]; then
    rm -f "$KEY" "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C "pulumi-lvs-lab" -f "$KEY"
    lab_log "generated lab key $KEY"
  fi
}

ensure_switch() {  # ensure_switch NAME (vde = the LAN, vde2 = segment 2)
  local name=$1
  if pid_ours "$STATE/$name.pid"; then return; fi
  local sock=$STATE/$name.ctl
  # vde port sockets are $sock/.NNNNN-NNNNN; unix socket paths max out at 108 bytes.
  (( ${#sock} <= 80 )) || lab_die "state dir path too long for unix sockets: $STATE (set PULUMI_LVS_LAB_DIR shorter)"
  rm -rf "$sock"
  rm -f "$STATE/$name.pid"
  vde_switch --sock "$sock" --dirmode 0700 --mode 0600 --daemon --pidfile "$STATE/$name.pid" 9>&- ||
    lab_die "vde_switch ($name) failed to start"
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -S $sock/ctl ]] && pid_ours "$STATE/$name.pid" && return
    sleep 0.1
  done
  lab_die "vde_switch did not come up (socket $sock/ctl)"
}

port_in_use() {  # listening on the port on any local address?
  ss -Hltn "sport = :$1" 2>/dev/null | grep . >/dev/null
}

# The qemu command line for one VM.
qemu_cmd() {
  local h=$1 img=$2 i=${IDX[$1]}
  local port mac_mgmt mac_lan mac_seg2 accel pubkey append r eth2=()
  port=$(ssh_port "$h")
  mac_mgmt=$(printf '52:54:00:10:00:%02x' $((i + 1)))
  mac_lan=$(printf '52:54:00:20:00:%02x' $((i + 1)))   # stable per VM: tests may look at ARP tables
  mac_seg2=$(printf '52:54:00:30:00:%02x' $((i + 1)))
  if [[ ${LAB_KVM:-0} == 1 ]]; then accel=(-accel kvm -cpu host); else accel=(-accel tcg,tb-size=256); fi   # cap the JIT cache (default ~1 GiB RSS per VM)
  pubkey=$(awk '{print $2}' "$KEY.pub")
  append="root=/dev/vda rw net.ifnames=0 console=ttyS0 loglevel=4 mitigations=off systemd.log_color=0"
  append+=" systemd.machine_id=$(printf 'pulumi-lvs-lab-%s' "$h" | md5sum | cut -c1-32)"
  append+=" lab.name=$h lab.role=${ROLE[$h]} lab.addr=${ADDR[$h]}/24 lab.addr6=${ADDR6[$h]}/64 lab.key=$pubkey"
  [[ -n ${PAGE[$h]:-} ]] && append+=" lab.page=${PAGE[$h]}"
  for r in ${ROUTES[$h]:-}; do append+=" lab.route=$r"; done
  if [[ -n ${ETH2[$h]:-} ]]; then
    append+=" lab.eth2=${ETH2[$h]}/24 lab.eth2v6=${ETH2V6[$h]}/64 lab.forward=1"
    eth2=(-netdev "vde,id=seg2,sock=$STATE/${SWITCH[seg2]}.ctl"
          -device "virtio-net-pci,netdev=seg2,mac=$mac_seg2,addr=0x5")
  fi
  QEMU=(
    qemu-system-x86_64 -name "lab-$h" -machine pc "${accel[@]}" -smp 1 -m "$MEM"
    -nodefaults -no-user-config -display none
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$append"
    # cache=unsafe: guest fsyncs are not forced to the host disk (fast); data
    # still reaches the overlay file, and the overlay is throwaway anyway.
    -drive "file=$STATE/$h.qcow2,if=virtio,format=qcow2,cache=unsafe"
    # PCI slots pinned so eth0 = management, eth1 = lab LAN (or segment 2
    # for rs-c), eth2 = segment 2 (director2 only).
    -netdev "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22"
    -device "virtio-net-pci,netdev=mgmt,mac=$mac_mgmt,addr=0x3"
    -netdev "vde,id=lan,sock=$STATE/${SWITCH[${SEG[$h]}]}.ctl"
    -device "virtio-net-pci,netdev=lan,mac=$mac_lan,addr=0x4"
    "${eth2[@]}"
    -device virtio-rng-pci              # entropy for host-key generation at first boot
    -serial "file:$STATE/$h.console.log"
    -monitor "unix:$STATE/$h.monitor,server,nowait"
    -pidfile "$STATE/$h.pid" -daemonize
  )
}

# Start one VM (not waiting for SSH). With a delay, a detached sleeper starts
# qemu later; its pid is recorded so stop/down can cancel it.
start_vm() {
  local h=$1 delay=${2:-0} img=$3 port
  if vm_running "$h" || vm_pending "$h"; then return 0; fi
  port=$(ssh_port "$h")
  port_in_use "$port" && lab_die "port 127.0.0.1:$port for $h is in use by another program (set LAB_SSH_BASE_PORT)"

  # Copy-on-write overlay over the shared base image. Recreated when the base
  # image changed (recipe edited) since the overlay was made.
  if [[ ! -f $STATE/$h.qcow2 || "$(cat "$STATE/$h.image" 2>/dev/null)" != "$img" ]]; then
    rm -f "$STATE/$h.qcow2"
    qemu-img create -q -f qcow2 -F raw -b "$img/rootfs.raw" "$STATE/$h.qcow2"
    echo "$img" >"$STATE/$h.image"
  fi
  rm -f "$STATE/$h.pid"
  qemu_cmd "$h" "$img"
  if [[ $delay == 0 ]]; then
    "${QEMU[@]}" 9>&- >"$STATE/$h.qemu.log" 2>&1 ||
      { cat "$STATE/$h.qemu.log" >&2; lab_die "qemu failed to start $h"; }
  else
    # argv of the sleeper contains the qemu command line (and so $STATE), which
    # is what pid_ours checks.
    setsid bash -c 'sleep "$1"; shift; exec "$@"' lab-delayed-start "$delay" "${QEMU[@]}" \
      9>&- </dev/null >"$STATE/$h.qemu.log" 2>&1 &
    echo $! >"$STATE/$h.starter.pid"
    lab_log "$h will start in ${delay}s (ssh port $port)"
  fi
}

# The lab's servers (lab-httpd*, lab-udp5353, lab-sctp9999) are simple units: systemd counts them
# started when they fork, a moment before they bind. After the boot, a backend waits (at most 10 s)
# until each active one listens, and prints the ports that still do not ("listening" when all do).
# shellcheck disable=SC2016 # expanded on the guest
LISTENERS='listens() { case $1 in
    tcp) ss -Hltn "sport = :$2" | grep -q . ;;
    udp) ss -Hlun "sport = :$2" | grep -q . ;;
    sctp) [ -e /proc/net/sctp/eps ] && awk -v p="$2" "\$6 == p { f = 1 } END { exit !f }" /proc/net/sctp/eps ;;
  esac; }
end=$(($(date +%s) + 10))
while :; do
  missing=
  for s in lab-httpd:tcp:80 lab-httpd-8080:tcp:8080 lab-udp5353:udp:5353 lab-sctp9999:sctp:9999; do
    u=${s%%:*} p=${s#*:}
    ! systemctl -q is-active "$u" || listens "${p%:*}" "${p#*:}" || missing="$missing ${p%:*}/${p#*:}"
  done
  if [ -z "$missing" ] || [ "$(date +%s)" -ge "$end" ]; then break; fi
  sleep 0.1
done
echo "${missing:-listening}"'

# Wait until HOST answers a real SSH login (optionally: with a boot id other than $2) and its
# boot is done: sshd starts before the last units do (the rules' restore, a backend's routes, its
# web server), so systemd must say "running", or "degraded" (its failed units are logged, and the
# test will see them); then until the lab's servers listen (LISTENERS). One login per try reads
# all of it. On timeout, show what was still missing.
wait_ssh() {
  local h=$1 not_boot=${2:-} deadline=$((SECONDS + BOOT_TIMEOUT)) out id= state= listening=
  while ((SECONDS < deadline)); do
    if ! vm_running "$h" && ! vm_pending "$h"; then
      lab_log "$h: qemu is not running"
      tail -n 20 "$STATE/$h.qemu.log" "$STATE/$h.console.log" >&2 2>/dev/null || true
      return 1
    fi
    # is-system-running exits non-zero when degraded: the words decide, not the status.
    out=$(timeout 20 ssh "${SSH_OPTS[@]}" -i "$KEY" -p "$(ssh_port "$h")" root@127.0.0.1 \
      "cat /proc/sys/kernel/random/boot_id; systemctl is-system-running --wait; $LISTENERS" 2>/dev/null) || true
    { read -r id; read -r state; read -r listening; } <<<"$out" || true
    if [[ -n $id && $id != "$not_boot" && $state =~ ^(running|degraded)$ ]]; then
      [[ $listening == listening ]] || lab_log "$h: booted; after 10 s these lab servers still do not listen:${listening:- (no answer)}"
      [[ $state == running ]] ||
        lab_log "$h: booted, degraded; failed units: $(lab_ssh "$h" root systemctl list-units --failed --plain --no-legend 2>/dev/null | awk '{print $1}' | tr '\n' ' ')"
      return 0
    fi
    sleep 1
  done
  if [[ -n $id && $id != "$not_boot" ]]; then
    lab_log "$h: SSH answers but its boot did not finish within ${BOOT_TIMEOUT}s (systemd: ${state:-no answer}); see \`systemctl list-jobs\` on it"
  else
    lab_log "$h: no SSH after ${BOOT_TIMEOUT}s; console tail:"
    tail -n 40 "$STATE/$h.console.log" >&2 2>/dev/null || true
  fi
  return 1
}

wait_all() {  # wait_all HOST... (in parallel)
  local h pids=() rc=0 t0=$SECONDS
  for h in "$@"; do
    ( t=$SECONDS; wait_ssh "$h" && lab_log "$h: ssh up after $((SECONDS - t))s" ) &
    pids+=($!)
  done
  for h in "${pids[@]}"; do wait "$h" || rc=1; done
  ((rc == 0)) || lab_die "some hosts did not come up (logs in $STATE)"
  lab_log "all up in $((SECONDS - t0))s: $*"
}

image_dir() { bash "$LAB_SRC_DIR/build-image.sh"; }

prepare() {  # everything `up`/`start` need before booting
  bash "$LAB_SRC_DIR/deps.sh"
  IMG=$(image_dir)
  ensure_key
  # Base port is fixed while anything runs; otherwise take the env/default.
  local h any=0
  for h in "${ALL_HOSTS[@]}"; do if vm_running "$h" || vm_pending "$h"; then any=1; fi; done
  if ((any == 0)); then echo "${LAB_SSH_BASE_PORT:-$LAB_DEFAULT_BASE_PORT}" >"$STATE/base-port"
  elif [[ -n ${LAB_SSH_BASE_PORT:-} && $LAB_SSH_BASE_PORT != "$(base_port)" ]]; then
    lab_log "lab already running with base port $(base_port); ignoring LAB_SSH_BASE_PORT=$LAB_SSH_BASE_PORT"
  fi
  ensure_switch "${SWITCH[lan]}"
  ensure_switch "${SWITCH[seg2]}"
}

stop_vm() {  # stop_vm HOST [graceful]
  local h=$1
  stop_pidfiles "$STATE/$h.starter.pid"
  close_mux "$h"
  if [[ ${2:-} == graceful ]] && vm_running "$h"; then
    # Flush the guest page cache so files a test wrote survive a later `start`.
    timeout 15 ssh "${SSH_OPTS[@]}" -i "$KEY" -p "$(ssh_port "$h")" root@127.0.0.1 sync || true
  fi
  stop_pidfiles "$STATE/$h.pid"
  rm -f "$STATE/$h.monitor"
}

# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------

cmd_up() {
  local hosts=("$@") h
  ((${#hosts[@]})) || hosts=("${ALL_HOSTS[@]}")
  for h in "${hosts[@]}"; do check_host "$h"; done
  take_lock
  prepare
  local t0=$SECONDS
  for h in "${hosts[@]}"; do start_vm "$h" 0 "$IMG"; done
  wait_all "${hosts[@]}"
  exec 9>&-
  cmd_status
}

cmd_down() {
  take_lock
  local h files=()
  # Pending delayed starts first, so none of them launches qemu behind our back.
  for h in "${ALL_HOSTS[@]}"; do files+=("$STATE/$h.starter.pid"); done
  stop_pidfiles "${files[@]}"
  files=()
  for h in "${ALL_HOSTS[@]}"; do files+=("$STATE/$h.pid"); done
  stop_pidfiles "${files[@]}"
  stop_pidfiles "$STATE/${SWITCH[lan]}.pid" "$STATE/${SWITCH[seg2]}.pid"
  for h in "${ALL_HOSTS[@]}"; do rm -f "$STATE/$h.qcow2" "$STATE/$h.image" "$STATE/$h.monitor"; done
  rm -rf "$STATE/${SWITCH[lan]}.ctl" "$STATE/${SWITCH[seg2]}.ctl" "$STATE/base-port"
  lab_log "lab down ($STATE)"
}

cmd_start() {
  local h=${1:-} delay=0
  [[ -n $h ]] || lab_die "usage: start HOST [--delay SECONDS]"
  check_host "$h"; shift
  while (($#)); do
    case $1 in
      --delay) delay=${2:?--delay needs seconds}; shift 2 ;;
      *) lab_die "start: unknown argument $1" ;;
    esac
  done
  [[ $delay =~ ^[0-9]+$ ]] || lab_die "--delay must be whole seconds"
  take_lock
  prepare
  start_vm "$h" "$delay" "$IMG"
  exec 9>&-
  if [[ $delay == 0 ]]; then wait_all "$h"; fi
}

cmd_stop() {
  local h=${1:-}
  [[ -n $h ]] || lab_die "usage: stop HOST"
  check_host "$h"
  take_lock
  stop_vm "$h" graceful
  lab_log "$h stopped"
}

cmd_reboot() {
  local h=${1:-} old
  [[ -n $h ]] || lab_die "usage: reboot HOST"
  check_host "$h"
  vm_running "$h" || lab_die "$h is not running"
  old=$(lab_ssh "$h" root cat /proc/sys/kernel/random/boot_id) || lab_die "$h: ssh failed"
  # Detach the reboot so this ssh session returns cleanly instead of being cut.
  lab_ssh "$h" root 'nohup sh -c "sleep 1; systemctl reboot" >/dev/null 2>&1 &' || true
  close_mux "$h"
  local t0=$SECONDS
  wait_ssh "$h" "$old" || lab_die "$h did not come back after reboot"
  lab_log "$h rebooted in $((SECONDS - t0))s (boot id $(lab_ssh "$h" root cat /proc/sys/kernel/random/boot_id))"
}

cmd_rotate_hostkey() {
  local h=${1:-}
  [[ -n $h ]] || lab_die "usage: rotate-hostkey HOST"
  check_host "$h"
  vm_running "$h" || lab_die "$h is not running"
  # Existing sessions survive an sshd restart (KillMode=process in ssh.service).
  lab_ssh "$h" root 'lab-hostkeys --force && systemctl restart ssh' || lab_die "$h: rotating host keys failed"
  BOOT_TIMEOUT=60 wait_ssh "$h" || lab_die "$h: sshd did not come back"
  lab_log "$h: new host keys:"
  lab_ssh "$h" root 'for f in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -l -f "$f"; done' >&2
}

cmd_ssh() {
  local h=${1:-} user=root
  [[ -n $h ]] || lab_die "usage: ssh HOST [--user U] [CMD...]"
  check_host "$h"; shift
  if [[ ${1:-} == --user ]]; then user=${2:?--user needs a name}; shift 2; fi
  if [[ ${1:-} == -- ]]; then shift; fi
  local tty=()
  if (($# == 0)) && [[ -t 0 ]]; then tty=(-t); fi
  local mux
  mapfile -t mux < <(mux_opts "$h" "$user")
  # exec: the remote command's exit status is ours.
  exec ssh "${SSH_OPTS[@]}" "${mux[@]}" "${tty[@]}" -i "$KEY" -p "$(ssh_port "$h")" "$user@127.0.0.1" "$@"
}

json_str() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

cmd_status() {
  local h running first=1
  if [[ ${1:-} == --json ]]; then
    printf '{"stateDir": %s, "vip": "%s", "vip6": "%s", "hosts": [' "$(json_str "$STATE")" "$VIP" "$VIP6"
    for h in "${ALL_HOSTS[@]}"; do
      if vm_running "$h"; then running=true; else running=false; fi
      ((first)) || printf ', '
      first=0
      printf '{"name": "%s", "role": "%s", "sshHost": "127.0.0.1", "sshPort": %d, "user": "root", ' \
        "$h" "${ROLE[$h]}" "$(ssh_port "$h")"
      printf '"sudoUser": "ops", "passwordSudoUser": "pwuser", "keyPath": %s, "lanAddress": "%s", ' \
        "$(json_str "$KEY")" "${ADDR[$h]}"
      printf '"lanAddress6": "%s", "segment": "%s", ' "${ADDR6[$h]}" "${SEG[$h]}"
      [[ -n ${ETH2[$h]:-} ]] && printf '"seg2Address": "%s", "seg2Address6": "%s", ' "${ETH2[$h]}" "${ETH2V6[$h]}"
      [[ -n ${PAGE[$h]:-} ]] && printf '"page": "%s", ' "${PAGE[$h]}"
      printf '"running": %s}' "$running"
    done
    printf ']}\n'
    return
  fi
  printf 'lab state dir: %s   VIPs (reserved for tests): %s %s   key: %s\n' "$STATE" "$VIP" "$VIP6" "$KEY"
  printf '%-9s %-12s %-15s %-18s %-16s %-8s %s\n' HOST ROLE LAN LAN6 SSH PID STATE
  for h in "${ALL_HOSTS[@]}"; do
    local state=stopped pid=-
    if vm_running "$h"; then state=running; pid=$(<"$STATE/$h.pid")
    elif vm_pending "$h"; then state=starting; fi
    printf '%-9s %-12s %-15s %-18s %-16s %-8s %s\n' "$h" "${ROLE[$h]}${PAGE[$h]:+ (${PAGE[$h]})}" \
      "${ADDR[$h]}" "${ADDR6[$h]}" "127.0.0.1:$(ssh_port "$h")" "$pid" "$state"
  done
  printf 'segment 2 (203.0.113.0/24, 2001:db8:113::/64): rs-c; director2 eth2 %s routes it\n' "${ETH2[director2]}"
  printf 'users: root (key), ops (key, passwordless sudo), pwuser (key, sudo password "pwuser")\n'
}

cmd_prune() {
  take_lock
  local keep d
  keep=$(lab_image_dir)
  for d in "$LAB_CACHE_DIR"/images/*/; do
    d=${d%/}
    [[ $d == "$keep" || ! -f $d/ok ]] && continue
    if grep -lxF "$d" "$STATE"/*.image >/dev/null 2>&1; then lab_log "keeping $d (in use)"; continue; fi
    rm -rf "$d"
    lab_log "removed $d"
  done
}

# The header comment of this file is the help text.
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"; }

cmd=${1:-help}
shift || true
case $cmd in
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status "$@" ;;
  ssh) cmd_ssh "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  reboot) cmd_reboot "$@" ;;
  rotate-hostkey) cmd_rotate_hostkey "$@" ;;
  prune) cmd_prune ;;
  help | -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
