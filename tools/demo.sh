#!/usr/bin/env bash
# `make demo`: the original walkthrough, reproduced as code on the VM lab.
#   up   - boot the lab, write Pulumi.lab.yaml for the root program, pulumi up, six requests to the VIP
#   down - pulumi destroy, then stop the lab
# State lives in a local file backend under $PULUMI_LVS_CACHE/demo (passphrase: "demo").
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}
export PATH="$(bash tools/pulumi/install.sh):$PATH"
export PULUMI_HOME=$CACHE/demo/home PULUMI_BACKEND_URL="file://$CACHE/demo/state"
export PULUMI_CONFIG_PASSPHRASE=demo PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$CACHE/demo/state"
lab() { bash test/lab/lab.sh "$@"; }

case "${1:-up}" in
  up)
    lab up
    # The stack file of the `lab` stack: the lab's hosts as the root program's config.
    lab status --json | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const lab = JSON.parse(s), h = (n) => lab.hosts.find((x) => x.name === n);
        const conn = (x) => `{ host: ${x.sshHost}, port: ${x.sshPort}, user: ${x.user}, privateKeyPath: ${x.keyPath} }`;
        console.log([
          "# Written by make demo from `npm run lab -- status --json`: the lab as the root program sees it.",
          "config:",
          `  pulumi-lvs:vip: ${lab.vip}`,
          "  pulumi-lvs:port: 80",
          "  pulumi-lvs:scheduler: rr",
          `  pulumi-lvs:director: ${conn(h("director"))}`,
          "  pulumi-lvs:backends:",
          ...["rs-a", "rs-b"].map((n) => `    - { name: ${h(n).page.toLowerCase()}, address: ${h(n).lanAddress}, connection: ${conn(h(n))} }`),
        ].join("\n"));
      });' > Pulumi.lab.yaml
    pulumi stack select lab --create --non-interactive >/dev/null
    pulumi up --yes --stack lab --non-interactive
    vip=$(lab status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).vip))')
    echo
    echo "== six requests from the client VM to the VIP $vip =="
    lab ssh client "for i in 1 2 3 4 5 6; do curl -s http://$vip/; done"
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
    if pulumi stack select lab --non-interactive >/dev/null 2>&1; then
      pulumi destroy --yes --stack lab --non-interactive
      pulumi stack rm lab --yes --non-interactive
    fi
    rm -f Pulumi.lab.yaml
    lab down
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
