#!/usr/bin/env bash
# The end-to-end suite's labs: `make test` runs its test files on COUNT labs at once, one
# jest worker per lab (test/e2e/harness.ts picks lab N for worker N). Lab 1 is the lab of
# lab.sh's environment; lab N > 1 has the state dir of lab 1 with N appended and the base
# port of lab 1 plus 10 × (N − 1), so the labs never share a switch, a port or a file.
#
#   labs.sh env N              the environment lab.sh needs for lab N (KEY=VALUE lines)
#   labs.sh up COUNT           boots labs 1..COUNT together (each reused if running); prints
#                              the numbers of the labs that were not fully running before.
#                              Such a lab is brought down first: its hosts boot from fresh
#                              disks, never from what a killed run left on them
#   labs.sh down N...          stops the labs given (what `up` printed)
set -euo pipefail
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
source "$HERE/lib.sh"

BASE_DIR=${PULUMI_LVS_LAB_DIR:-$LAB_DEFAULT_DIR}
BASE_PORT=${LAB_SSH_BASE_PORT:-$LAB_DEFAULT_BASE_PORT}

lab_env() {
  local n=$1
  [[ $n =~ ^[1-9][0-9]?$ ]] || lab_die "lab number must be 1..99, got '$n'"
  if ((n == 1)); then
    echo "PULUMI_LVS_LAB_DIR=$BASE_DIR"
    echo "LAB_SSH_BASE_PORT=$BASE_PORT"
  else
    echo "PULUMI_LVS_LAB_DIR=$BASE_DIR$n"
    echo "LAB_SSH_BASE_PORT=$((BASE_PORT + 10 * (n - 1)))"
  fi
}

# Runs lab.sh with lab N's environment.
on_lab() {
  local n=$1 kv
  shift
  local envs=()
  while IFS= read -r kv; do envs+=("$kv"); done < <(lab_env "$n")
  env "${envs[@]}" bash "$HERE/lab.sh" "$@"
}

all_running() {
  on_lab "$1" status --json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.exit(JSON.parse(s).hosts.every(h=>h.running)?0:1)}catch{process.exit(1)}})'
}

case ${1:-} in
  env) lab_env "${2:?usage: labs.sh env N}" ;;
  up)
    count=${2:?usage: labs.sh up COUNT}
    [[ $count =~ ^[1-9][0-9]?$ ]] || lab_die "COUNT must be 1..99, got '$count'"
    started=() pids=()
    for ((n = 1; n <= count; n++)); do
      # A run that was killed (a session ended, a machine stopped) leaves its VMs' disks with
      # whatever it had written: ledgers, IPVS rules, boot units. A lab that is not fully
      # running is therefore dropped and booted fresh; only a running lab is reused.
      if all_running "$n"; then
        on_lab "$n" up >&2 &
      else
        started+=("$n")
        { on_lab "$n" down && on_lab "$n" up; } >&2 &
      fi
      pids+=($!)
    done
    status=0
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    ((status == 0)) || lab_die "a lab did not come up (see above)"
    echo "${started[*]:-}"
    ;;
  down)
    shift
    for n in "$@"; do on_lab "$n" down >&2; done
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
