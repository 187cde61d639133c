#!/usr/bin/env bash
# `make demo`: the original walkthrough, reproduced as code on the VM lab.
#   up      - boot the lab, write Pulumi.lab.yaml for the root program, pulumi up, six requests to the VIP
#   down    - pulumi destroy, then stop the lab
# `make demo-ha`: the same cluster with a standby director (VRRP) and health-checked backends.
#   ha-up   - as up (stack lab-ha), then: the active director dies while a client keeps requesting;
#             rs-b's web server stops and starts again
#   ha-down - pulumi destroy, then stop the lab
# State lives in a local file backend under $PULUMI_LVS_CACHE/demo (passphrase: "demo").
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}
PULUMI_DIR=$(bash tools/pulumi/install.sh)
export PATH="$PULUMI_DIR:$PATH"
export PULUMI_HOME=$CACHE/demo/home PULUMI_BACKEND_URL="file://$CACHE/demo/state"
export PULUMI_CONFIG_PASSPHRASE=demo PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$CACHE/demo/state"
lab() { bash test/lab/lab.sh "$@"; }

# The stack file of stack $1: the lab's hosts as the root program's config, plus any extra lines.
write_config() {
  local stack=$1 extra=${2:-}
  # shellcheck disable=SC2016 # the node program's ${...} are JavaScript
  lab status --json | EXTRA=$extra node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const lab = JSON.parse(s), h = (n) => lab.hosts.find((x) => x.name === n);
      const conn = (x) => `{ host: ${x.sshHost}, port: ${x.sshPort}, user: ${x.user}, privateKeyPath: ${x.keyPath} }`;
      const extra = process.env.EXTRA.replace(/@(\w[\w-]*)\.(conn|addr)/g, (_, n, f) => (f === "conn" ? conn(h(n)) : h(n).lanAddress));
      console.log([
        "# Written by tools/demo.sh from `npm run lab -- status --json`: the lab as the root program sees it.",
        "config:",
        `  pulumi-lvs:vip: ${lab.vip}`,
        "  pulumi-lvs:port: 80",
        "  pulumi-lvs:scheduler: rr",
        `  pulumi-lvs:director: ${conn(h("director"))}`,
        "  pulumi-lvs:backends:",
        ...["rs-a", "rs-b"].map((n) => `    - { name: ${h(n).page.toLowerCase()}, address: ${h(n).lanAddress}, connection: ${conn(h(n))} }`),
        ...(extra ? extra.split("\n") : []),
      ].join("\n"));
    });' > "Pulumi.$stack.yaml"
}
vip() { lab status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).vip))'; }
requests() { lab ssh client "for i in \$(seq $2); do curl -s --max-time 1 http://$1/ || echo '(failed)'; done"; }
destroy() {
  if pulumi stack select "$1" --non-interactive >/dev/null 2>&1; then
    pulumi destroy --yes --stack "$1" --non-interactive
    pulumi stack rm "$1" --yes --non-interactive
  fi
  rm -f "Pulumi.$1.yaml"
}
holder() { for h in director director2; do lab ssh "$h" "ip -o addr show dev eth1" 2>/dev/null | grep -q " $1/32" && echo "$h"; done; true; }
wait_holder() {  # wait_holder VIP HOST: until HOST holds the VIP (VRRP master)
  local i
  for ((i = 0; i < 60; i++)); do [[ $(holder "$1") == "$2" ]] && return; sleep 1; done
  echo "$2 did not take $1 within 60 s" >&2; return 1
}

case "${1:-up}" in
  up)
    lab up
    write_config lab
    pulumi stack select lab --create --non-interactive >/dev/null
    pulumi up --yes --stack lab --non-interactive
    VIP=$(vip)
    echo
    echo "== six requests from the client VM to the VIP $VIP =="
    requests "$VIP" 6
    echo
    echo "== ipvsadm -Ln on the director =="
    lab ssh director "ipvsadm -Ln"
    cat <<EOT

Poke at it:
  npm run lab -- ssh director 'ipvsadm -Ln --stats'      # OutPkts stays 0: replies go straight from the backends
  npm run lab -- ssh rs-a 'ip -o addr show dev lo'        # the VIP on lo, ARP for it suppressed
  edit Pulumi.lab.yaml (e.g. scheduler: wrr, a weight), then with the environment above:
    PULUMI_HOME=$PULUMI_HOME PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE=demo PATH=$(dirname "$(command -v pulumi)"):\$PATH pulumi preview --stack lab
  make demo-down                                          # destroy, then stop the lab
EOT
    ;;
  down)
    destroy lab
    lab down
    ;;
  ha-up)
    lab up
    write_config lab-ha "  pulumi-lvs:healthCheck: { type: http, path: /, interval: 1, timeout: 1, retries: 1 }
  pulumi-lvs:ha: { standby: @director2.conn, virtualRouterId: 51, unicast: { primary: @director.addr, standby: @director2.addr } }"
    pulumi stack select lab-ha --create --non-interactive >/dev/null
    pulumi up --yes --stack lab-ha --non-interactive
    VIP=$(vip)
    wait_holder "$VIP" director
    echo
    echo "== director holds $VIP (VRRP master); six requests from the client =="
    requests "$VIP" 6
    echo
    echo "== the client requests every 0.5 s while the active director's VM is powered off =="
    lab ssh client "for i in \$(seq 30); do curl -s --max-time 1 http://$VIP/ || echo '(failed)'; sleep 0.5; done > /tmp/demo-ha.txt 2>&1 &"
    sleep 2
    lab stop director
    wait_holder "$VIP" director2
    sleep 12
    lab ssh client "cat /tmp/demo-ha.txt"
    echo "failed requests during the failover: $(lab ssh client "grep -c failed /tmp/demo-ha.txt || true") (VRRP advert interval 1 s: a takeover takes about 3 s)"
    echo "now holding $VIP: $(holder "$VIP")"
    echo
    echo "== rs-b's web server stops: within the check interval (1 s) only A answers =="
    lab ssh rs-b "systemctl stop lab-httpd"
    sleep 4
    requests "$VIP" 6
    echo
    echo "== it starts again: alternation is back =="
    lab ssh rs-b "systemctl start lab-httpd"
    sleep 4
    requests "$VIP" 6
    echo
    echo "== the director comes back (no Pulumi run) as backup: without preempt (the default) director2 keeps the VIP =="
    lab start director
    sleep 10
    echo "now holding $VIP: $(holder "$VIP")"
    requests "$VIP" 6
    echo
    echo "make demo-ha-down: destroy (both directors back as they were), then stop the lab"
    ;;
  ha-down)
    destroy lab-ha
    lab down
    ;;
  *) echo "usage: $0 up|down|ha-up|ha-down" >&2; exit 2 ;;
esac
