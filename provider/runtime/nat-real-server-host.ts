// NatRealServerHost: the backend side of LVS-NAT. The director rewrites each client packet's
// destination to this host, so the answer must pass the director again to get the VIP back as
// its source: the clients' networks are routed through the director (an existing route to them
// is replaced, and put back on delete). ICMP redirects are refused: a director that forwards
// between hosts of one LAN redirects them to each other, and the answer would bypass it.
import { z } from "zod";
import { Family, NatRealServerHostArgs, NatRealServerHostOutputs, familyOf } from "../model";
import { Claim, ClaimError, Plan } from "../holds/plan";
import { Kind } from "./kind";
import { settingsOps } from "./host-state";
import { queueOf } from "./host-queue";

const redirects = (family: Family, dev: string) => `net.${family === "ipv6" ? "ipv6" : "ipv4"}.conf.${dev}.accept_redirects`;

/** The interface that reaches the director: its redirects are refused as well as `all`'s. */
function deviceTo(plan: Plan, a: NatRealServerHostArgs): string {
  const dev = plan.route(a.director);
  if (!dev || dev === "lo") throw new ClaimError(`no interface reaches the director ${a.director}; check director`);
  return dev;
}
const routesOf = (a: NatRealServerHostArgs, family: Family) => a.clients.map((network) => ({ network, family, via: a.director }));

const claimOf = (plan: Plan, a: NatRealServerHostArgs): Claim => {
  const family = familyOf(a.director);
  for (const n of a.clients)
    if (n !== "default" && familyOf(n.split("/")[0]) !== family)
      throw new ClaimError(`clients network ${n} is not of the director's address family (${family})`);
  return {
    routes: routesOf(a, family),
    sysctls: { [redirects(family, "all")]: 0, [redirects(family, deviceTo(plan, a))]: 0 },
    persist: a.persist,
    own: a.adopt === "own",
  };
};

/** The sysctls a converge reads: `all` and every interface it may pick (the route decides which). */
const needs = (a: NatRealServerHostArgs) => ({ routes: [a.director], sysctls: [redirects(familyOf(a.director), "*")], prep: true });

export const natRealServerHostKind: Kind<NatRealServerHostArgs, z.infer<typeof NatRealServerHostOutputs>> = {
  name: "NatRealServerHost",
  schema: NatRealServerHostArgs,
  outputs: NatRealServerHostOutputs,
  replaceOn: [],
  updateOn: ["director", "clients", "persist", "adopt"],
  identity: () => "nat-real-server",
  ...settingsOps<NatRealServerHostArgs>("NatRealServerHost", needs, claimOf),

  async read(host, outs) {
    return queueOf(host).submit({
      label: `NatRealServerHost ${host.target}`,
      readOnly: true,
      needs: needs(outs),
      apply: (plan) => {
        const family = familyOf(outs.director);
        // A network no longer routed through the director is drift: the answers would bypass it.
        return { clients: outs.clients.filter((network) => plan.liveGateway({ network, family }) === outs.director) };
      },
    });
  },
};
