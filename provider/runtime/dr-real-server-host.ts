// DrRealServerHost: the backend side of LVS-DR. VIPs as /32 (/128) on lo so the host accepts
// packets for them, and ARP sysctls so it never answers ARP for them (the director must).
// IPv6 needs no such sysctls: Linux answers neighbour solicitations only for addresses of the
// interface they arrive on, never for one on lo.
// Holds in the host's ledger: a VIP leaves lo, and a sysctl gets its old value back, only
// when the last resource holding it lets go.
import { z } from "zod";
import { DrRealServerHostArgs, DrRealServerHostOutputs, familyOf, vipPrefix } from "../model";
import { Claim } from "../holds/plan";
import { Kind } from "./kind";
import { hostOp, legacyHostHolds, readHostState } from "./host-state";

const key = (dev: "lo" | "all", what: "arp_ignore" | "arp_announce") => `net.ipv4.conf.${dev}.${what}`;
const KEYS = [key("lo", "arp_ignore"), key("all", "arp_ignore"), key("lo", "arp_announce"), key("all", "arp_announce")];

/** The ARP sysctls that keep a host from answering ARP for a VIP it holds on `dev`; none for IPv6 VIPs only. */
export const arpSysctls = (a: { vips: string[]; arpIgnore: number; arpAnnounce: number }, dev: string): Record<string, number> =>
  a.vips.some((v) => familyOf(v) === "ipv4")
    ? {
        [`net.ipv4.conf.${dev}.arp_ignore`]: a.arpIgnore,
        [key("all", "arp_ignore")]: a.arpIgnore,
        [`net.ipv4.conf.${dev}.arp_announce`]: a.arpAnnounce,
        [key("all", "arp_announce")]: a.arpAnnounce,
      }
    : {};

const claimOf = (a: DrRealServerHostArgs): Claim => ({
  addrs: a.vips.map((address) => ({ address, prefix: vipPrefix(address), dev: "lo" })),
  sysctls: arpSysctls(a, "lo"),
  persist: a.persist,
  own: a.adopt === "own",
});

const converge = (a: DrRealServerHostArgs, owner: string) =>
  hostOp(`DrRealServerHost ${owner}`, { sysctls: KEYS }, (plan) => {
    plan.claim(owner, claimOf(a));
    return {};
  });

export const drRealServerHostKind: Kind<DrRealServerHostArgs, z.infer<typeof DrRealServerHostOutputs>> = {
  name: "DrRealServerHost",
  schema: DrRealServerHostArgs,
  outputs: DrRealServerHostOutputs,
  replaceOn: [],
  updateOn: ["vips", "arpIgnore", "arpAnnounce", "persist", "adopt"],
  identity: () => "dr-real-server",

  create: (host, a, { owner }) => converge(a, owner).on(host),
  update: (host, olds, news, { owner }) => {
    const legacy = legacyHostHolds(olds, "lo");
    return converge(news, owner).migrating(olds, legacy.holds, legacy.files, owner, news.persist).on(host);
  },
  async delete(host, outs, { owner }) {
    const legacy = legacyHostHolds(outs, "lo");
    await hostOp(`DrRealServerHost ${owner}`, { sysctls: KEYS }, (plan) => plan.claim(owner, { persist: false }))
      .migrating(outs, legacy.holds, legacy.files, owner, outs.persist)
      .on(host);
  },

  async read(host, outs) {
    const live = await readHostState(host, KEYS);
    // A setting that differs on lo and all reads as the lower of the two, so drift shows.
    const lowest = (what: "arp_ignore" | "arp_announce") =>
      Math.min(live.sysctls[key("lo", what)] ?? 0, live.sysctls[key("all", what)] ?? 0);
    return {
      vips: outs.vips.filter((v) => live.addrs.some((x) => x.address === v && x.dev === "lo")),
      ...(outs.vips.some((v) => familyOf(v) === "ipv4") ? { arpIgnore: lowest("arp_ignore"), arpAnnounce: lowest("arp_announce") } : {}),
    };
  },
};
