// DirectorHost: the director side of LVS-DR. VIPs as /32 on the LAN interface, optional
// ip_forward and IPVS expiry sysctls; checks ipvsadm and ip_vs first. Every VIP and sysctl is
// a hold in the host's ledger, so several DirectorHosts (and stacks) can share a VIP. With
// `vrrp`, keepalived carries the VIPs instead (failover between directors) and the IPVS sync
// daemons send every connection to the other director.
import { z } from "zod";
import { DirectorHostArgs, DirectorHostOutputs, familyOf, vipPrefix } from "../model";
import { Claim, ClaimError, Plan } from "../holds/plan";
import { keys } from "../ledger";
import { queueOf } from "./host-queue";
import { Kind } from "./kind";
import { hostOp, legacyHostHolds, needKeepalived } from "./host-state";
import type { Host, Log } from "../remote/ssh";

const IP_FORWARD = "net.ipv4.ip_forward";
/** With an IPv6 VIP, ipForward (for LVS-NAT) also forwards IPv6. */
const IP6_FORWARD = "net.ipv6.conf.all.forwarding";
const EXPIRE_NODEST = "net.ipv4.vs.expire_nodest_conn";
const EXPIRE_QUIESCENT = "net.ipv4.vs.expire_quiescent_template";
const SYSCTLS = [IP_FORWARD, IP6_FORWARD, EXPIRE_NODEST, EXPIRE_QUIESCENT];
const hasIpv6 = (a: DirectorHostArgs) => a.vips.some((v) => familyOf(v) === "ipv6");
const flag = (b: boolean | undefined) => (b === undefined ? undefined : b ? 1 : 0);

const claimOf = (a: DirectorHostArgs, dev: string): Claim => ({
  addrs: a.vrrp ? [] : a.vips.map((address) => ({ address, prefix: vipPrefix(address), dev })),
  timeouts: a.ipvsTimeouts,
  vrrp: a.vrrp ? [{ ...vrrpSpec(a.vrrp), dev, vips: a.vips }] : [],
  syncd: a.vrrp?.syncDaemon ? { master: { dev, syncId: a.vrrp.virtualRouterId }, backup: { dev, syncId: a.vrrp.virtualRouterId } } : {},
  keepalived: !!a.vrrp,
  sysctls: Object.fromEntries(
    Object.entries({
      [IP_FORWARD]: flag(a.ipForward),
      [IP6_FORWARD]: hasIpv6(a) ? flag(a.ipForward) : undefined,
      [EXPIRE_NODEST]: flag(a.expireNodestConn),
      [EXPIRE_QUIESCENT]: flag(a.expireQuiescentTemplate),
    }).filter(([, v]) => v !== undefined),
  ) as Record<string, number>,
  persist: a.persist,
  own: a.adopt === "own",
});

/** The declared interface, else where a VIP already is, else the one routing to the first VIP. */
function interfaceFor(plan: Plan, a: DirectorHostArgs, resolved?: string): string {
  if (a.interface ?? resolved) return (a.interface ?? resolved)!;
  const existing = plan.liveAddrs().find((x) => a.vips.includes(x.address) && x.dev !== "lo");
  if (existing) return existing.dev;
  const dev = plan.route(a.vips[0]);
  if (!dev || dev === "lo") throw new ClaimError(`no interface routes to ${a.vips[0]}; set DirectorHost.interface`);
  return dev;
}

const vrrpSpec = ({ syncDaemon: _, ...v }: NonNullable<DirectorHostArgs["vrrp"]>) => v;

const converge = (a: DirectorHostArgs, owner: string, resolved?: string) =>
  hostOp(
    `DirectorHost ${owner}`,
    {
      ipvs: true,
      keepalived: !!a.vrrp,
      sysctls: SYSCTLS,
      routes: a.interface ? [] : [a.vips[0]],
      prep: !!a.ipvsTimeouts,
      restoreUnit: a.persist,
    },
    (plan) => {
      const dev = interfaceFor(plan, a, resolved);
      if (a.vrrp) needKeepalived(plan, a.installKeepalived);
      const had = new Set(
        plan
          .liveAddrs()
          .filter((x) => x.dev === dev)
          .map((x) => x.address),
      );
      plan.claim(owner, claimOf(a, dev));
      // Without VRRP the VIPs are ours to announce (keepalived announces those it holds).
      const unannounced = a.vrrp
        ? []
        : plan.announce(
            dev,
            a.vips.filter((v) => !had.has(v)),
          );
      plan.rerunFailedRestore();
      return { interface: dev, drift: [] as string[], unannounced };
    },
  );

export const directorHostKind: Kind<DirectorHostArgs, z.infer<typeof DirectorHostOutputs>> = {
  name: "DirectorHost",
  schema: DirectorHostArgs,
  outputs: DirectorHostOutputs,
  replaceOn: [],
  // An interface change moves the VIPs in one transaction (delete there, add here).
  updateOn: ["vips", "interface", "ipForward", "expireNodestConn", "expireQuiescentTemplate", "vrrp", "ipvsTimeouts", "persist", "adopt"],
  resolvedWhenUnset: ["interface"],
  secretInputs: ["vrrp.authPass"],
  identity: () => "director",

  create: async (host, a, { owner, log }) => warnUnannounced(host, await converge(a, owner).on(host), log),
  update: async (host, olds, news, { owner, log }) => {
    const legacy = legacyHostHolds(olds, olds.interface);
    const r = await converge(news, owner, olds.interface).migrating(olds, legacy.holds, legacy.files, owner, news.persist).on(host);
    return warnUnannounced(host, r, log);
  },
  async delete(host, outs, { owner }) {
    const legacy = legacyHostHolds(outs, outs.interface);
    await hostOp(`DirectorHost ${owner}`, { ipvs: true, keepalived: true, sysctls: SYSCTLS }, (plan) =>
      plan.claim(owner, { persist: false }),
    )
      .migrating(outs, legacy.holds, legacy.files, owner, outs.persist)
      .on(host);
  },

  async read(host, outs) {
    if (outs.vrrp) return readVrrp(host, outs);
    return queueOf(host).submit({
      label: `DirectorHost ${host.target}`,
      readOnly: true,
      needs: { ipvs: !!outs.ipvsTimeouts, sysctls: SYSCTLS, prep: !!outs.ipvsTimeouts, restoreUnit: outs.persist },
      apply: (plan) => ({
        vips: outs.vips.filter((v) => plan.liveAddrs().some((x) => x.address === v && x.dev === outs.interface)),
        drift: plan.restoreUnitDrift(),
        ...declaredSysctls(outs, (k) => plan.liveSysctl(k)),
        ...declaredTimeouts(outs, plan),
      }),
    });
  },
};

/** Says which new VIPs went unannounced (no arping, or no na6, on the host); returns the outputs. */
function warnUnannounced(host: Host, r: { interface: string; drift: string[]; unannounced: string[] }, log: Log) {
  const v4 = r.unannounced.filter((a) => !a.includes(":"));
  const v6 = r.unannounced.filter((a) => a.includes(":"));
  if (v4.length)
    log(
      `${host.target}: no arping (iputils-arping or busybox) on this host, so ${v4.join(", ")} went without a gratuitous ARP: ` +
        "neighbours that cached another machine for it learn the director when their entry expires; install iputils-arping to announce it at once",
    );
  if (v6.length)
    log(
      `${host.target}: no na6 (ipv6toolkit) on this host, so ${v6.join(", ")} went without an unsolicited neighbour advertisement: ` +
        "neighbours that cached another machine for it learn the director when their entry goes stale; install ipv6toolkit to announce it at once",
    );
  return { interface: r.interface, drift: r.drift };
}

/** The live values of the IPVS timeouts the resource declared (undeclared ones stay unset). */
function declaredTimeouts(outs: DirectorHostArgs, plan: Plan) {
  const t = outs.ipvsTimeouts;
  const live = plan.liveTimeouts();
  if (!t) return {};
  return {
    ipvsTimeouts: {
      tcp: t.tcp === undefined ? undefined : live?.tcp,
      tcpFin: t.tcpFin === undefined ? undefined : live?.tcpFin,
      udp: t.udp === undefined ? undefined : live?.udp,
    },
  };
}

/** The live values of the sysctls the resource declared (undeclared ones stay unset). */
function declaredSysctls(outs: DirectorHostArgs, live: (key: string) => number | undefined) {
  const bool = (k: string, declared: boolean | undefined) => (declared === undefined ? undefined : live(k) === 1);
  return {
    ipForward: bool(IP_FORWARD, outs.ipForward),
    expireNodestConn: bool(EXPIRE_NODEST, outs.expireNodestConn),
    expireQuiescentTemplate: bool(EXPIRE_QUIESCENT, outs.expireQuiescentTemplate),
  };
}

/**
 * With VRRP the VIPs are where the election put them: that is state (vrrpState), not drift.
 * Drift is what keepalived or the sync daemons no longer have of what we wrote.
 */
function readVrrp(host: Parameters<typeof queueOf>[0], outs: DirectorHostArgs & { interface: string }) {
  const v = outs.vrrp!;
  return queueOf(host).submit({
    label: `DirectorHost ${host.target}`,
    readOnly: true,
    needs: { ipvs: true, keepalived: true, sysctls: SYSCTLS, prep: !!outs.ipvsTimeouts, restoreUnit: outs.persist },
    apply: (plan) => {
      const held = outs.vips.every((vip) => plan.liveAddrs().some((x) => x.address === vip && x.dev === outs.interface));
      const daemons = v.syncDaemon
        ? (["master", "backup"] as const).filter((m) => plan.liveSyncDaemon(m)?.syncId !== v.virtualRouterId)
        : [];
      return {
        vrrpState: held ? ("master" as const) : ("backup" as const),
        drift: [
          ...plan.keepalivedDrift(keys.vrrp(outs.interface, v.virtualRouterId)),
          ...daemons.map((m) => `the IPVS ${m} sync daemon (syncid ${v.virtualRouterId}) is not running`),
          ...plan.restoreUnitDrift(),
        ],
        ...declaredSysctls(outs, (k) => plan.liveSysctl(k)),
        ...declaredTimeouts(outs, plan),
      };
    },
  });
}
