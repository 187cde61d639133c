// VirtualService: one IPVS service on a director (ipvsadm -A/-E/-D), held in the host's
// ledger: an identical service that was already there is adopted and left in place (unless
// adopt is "own"); one that another resource holds is shared (a rename hands it over without a gap). With a health
// check, keepalived runs it (a virtual_server block of our files) and follows backend health. Its
// `realServers` are destinations it holds too, in the same transaction as the service; one taken
// off the list drains first, as a RealServer does.
import { z } from "zod";
import { VirtualServiceArgs, VirtualServiceOutputs, hostPort, serviceKeyString } from "../model";
import { DestValue, adopted, keys } from "../ledger";
import type { Plan } from "../holds/plan";
import { Ctx, Kind } from "./kind";
import { hostOp, needKeepalived } from "./host-state";
import { queueOf } from "./host-queue";
import { Draining, hasConnections, waitDrained } from "./drain";
import { legacyFiles } from "../remote/boot";
import { parseServiceKey } from "../ids";

const spec = (a: VirtualServiceArgs) => ({
  address: a.address,
  port: a.port,
  protocol: a.protocol,
  fwmark: a.fwmark,
  family: a.family,
  scheduler: a.scheduler,
  persistence: a.persistence,
  schedulerFlags: a.schedulerFlags,
  onePacket: a.onePacket,
});
/** The service a VirtualService claims: with a health check, keepalived runs it. */
export const serviceValue = (a: VirtualServiceArgs) => ({
  ...spec(a),
  ...(a.healthCheck ? { healthCheck: a.healthCheck, sorryServer: a.sorryServer } : {}),
});
/** The service's key as its destinations name it. */
const serviceKey = (a: VirtualServiceArgs) =>
  a.fwmark !== undefined
    ? { protocol: a.protocol, fwmark: a.fwmark, family: a.family }
    : { address: a.address, port: a.port, protocol: a.protocol };
type InlineRealServer = NonNullable<VirtualServiceArgs["realServers"]>[number];
/** A backend given inline (`realServers`), as the ledger holds it. */
const destOf = (a: VirtualServiceArgs, { healthCheck, drainTimeout: _, ...dest }: InlineRealServer): DestValue => ({
  service: serviceKey(a),
  dest,
  ...(healthCheck ? { healthCheck } : {}),
});
const inlineDests = (a: VirtualServiceArgs): DestValue[] => (a.realServers ?? []).map((d) => destOf(a, d));
/**
 * The inline backends as the kernel has them; one gone is left out (drift that up repairs).
 * keepalived sets a health-checked service's weights and takes dead ones out: read as declared.
 */
const liveInline = (plan: Plan, a: VirtualServiceArgs) =>
  inlineDests(a).flatMap((d, i): object[] => {
    const declared = a.realServers![i];
    if (a.healthCheck) return [declared];
    const live = plan.liveDest(d);
    if (!live) return [];
    const { forwarding, tunnelType, tunnelPort, weight, upperThreshold, lowerThreshold } = live;
    return [{ ...declared, forwarding, tunnelType, tunnelPort, weight, upperThreshold, lowerThreshold }];
  });
/** The nftables marks of a fwmark service with `match`. */
const marks = (a: VirtualServiceArgs) =>
  a.fwmark !== undefined && a.match ? [{ fwmark: a.fwmark, family: a.family ?? ("ipv4" as const), match: a.match }] : [];
const legacyName = (a: VirtualServiceArgs) => `${a.protocol}_${a.address}_${a.port}`;

/**
 * What the service holds: itself, its inline backends, its marks, keepalived; and `draining`,
 * backends leaving that stay (at weight 0) until their connections end.
 */
function claimOf(a: VirtualServiceArgs, imported: boolean, draining: DestValue[] = []) {
  const dests = new Map([...inlineDests(a), ...draining].map((d) => [keys.dest(d.service, d.dest), d]));
  return {
    services: [serviceValue(a)],
    dests: [...dests.values()],
    marks: marks(a),
    keepalived: !!a.healthCheck,
    persist: a.persist,
    imported,
    own: a.adopt === "own",
  };
}
const label = (a: VirtualServiceArgs) => `VirtualService ${serviceKeyString(a)}`;
const needs = (a: VirtualServiceArgs) => ({ ipvs: true, keepalived: !!a.healthCheck });

/**
 * Of the inline backends in `leaving` (taken off the list, or all when the service goes), those
 * that wait for their active connections before they go: not on a UDP service (it has none to
 * wait for), with a drainTimeout, and with active connections now (Plan.activeOwned).
 */
function drainingOf(plan: Plan, a: VirtualServiceArgs, owner: string, leaving: InlineRealServer[]): Draining[] {
  if (!hasConnections(a)) return [];
  return leaving
    .filter((d) => d.drainTimeout > 0)
    .map((d) => {
      const dest = destOf(a, d);
      const name = `${hostPort(d.address, d.port)} of ${serviceKeyString(a)}`;
      return { name, dest, active: plan.activeOwned(owner, dest), drainTimeout: d.drainTimeout };
    })
    .filter((d) => d.active > 0);
}

/** The inline backends of `olds` that `news` no longer lists. */
const dropped = (olds: VirtualServiceArgs, news: VirtualServiceArgs) => {
  const kept = new Set((news.realServers ?? []).map((d) => hostPort(d.address, d.port)));
  return (olds.realServers ?? []).filter((d) => !kept.has(hostPort(d.address, d.port)));
};

/**
 * Applies `a`. Backends in `leaving` with connections to wait for stay, drained (weight 0), and
 * are returned: converge again once they ended (drain.ts), and they go.
 */
const converge = (a: VirtualServiceArgs, ctx: Pick<Ctx, "owner" | "imported">, leaving: InlineRealServer[] = []) =>
  hostOp(label(a), needs(a), (plan) => {
    if (a.healthCheck) needKeepalived(plan, a.installKeepalived);
    const draining = drainingOf(plan, a, ctx.owner, leaving);
    const stay = draining.map((d) => d.dest);
    plan.claim(ctx.owner, claimOf(a, ctx.imported, stay));
    for (const d of stay) plan.drain(d);
    return { outs: { adopted: adopted(plan.ledger.entries[keys.service(a)]), drift: [] }, draining };
  });

/** What a release-0.1 VirtualService held: its service, there before it when it was adopted. */
const legacy = (outs: VirtualServiceArgs & { adopted?: boolean }) => [
  { key: keys.service(outs), kind: "service" as const, where: spec(outs), value: spec(outs), original: outs.adopted ? spec(outs) : null },
];

export const virtualServiceKind: Kind<VirtualServiceArgs, z.infer<typeof VirtualServiceOutputs>> = {
  name: "VirtualService",
  schema: VirtualServiceArgs,
  outputs: VirtualServiceOutputs,
  replaceOn: ["address", "port", "protocol", "fwmark", "family"],
  updateOn: [
    "scheduler",
    "persistence",
    "schedulerFlags",
    "onePacket",
    "match",
    "healthCheck",
    "sorryServer",
    "realServers",
    "persist",
    "adopt",
  ],
  identity: (a) => serviceKeyString(a),
  fromIdentity: parseServiceKey,

  create: async (host, a, ctx) => (await converge(a, ctx).on(host)).outs,
  async update(host, olds, news, ctx) {
    const { outs, draining } = await converge(news, ctx, dropped(olds, news))
      .migrating(olds, () => legacy(olds), legacyFiles.object(legacyName(olds), "service"), ctx.owner, news.persist)
      .on(host);
    if (!draining.length) return outs;
    await waitDrained(host, draining, ctx.log);
    return (await converge(news, ctx).on(host)).outs;
  },
  async delete(host, outs, ctx) {
    const release = (plan: Plan) => plan.claim(ctx.owner, { persist: false });
    // Backends with connections to wait for are drained first (the rest stays as it is); with none, it all goes at once.
    const draining = await hostOp(label(outs), needs(outs), (plan) => {
      const wait = drainingOf(plan, outs, ctx.owner, outs.realServers ?? []);
      if (!wait.length) release(plan);
      for (const d of wait) plan.drain(d.dest);
      return wait;
    })
      .migrating(outs, () => legacy(outs), legacyFiles.object(legacyName(outs), "service"), ctx.owner, outs.persist)
      .on(host);
    if (!draining.length) return;
    await waitDrained(host, draining, ctx.log);
    // Decided again under the lock, whatever the drain saw.
    await hostOp(label(outs), needs(outs), release).on(host);
  },

  async read(host, outs) {
    const live = await queueOf(host).submit({
      label: "read IPVS",
      readOnly: true,
      needs: { keepalived: !!outs.healthCheck },
      apply: (plan) => ({
        service: plan.liveService(outs),
        drift: outs.healthCheck ? plan.keepalivedDrift(keys.service(outs)) : [],
        inFiles: plan.inKeepalivedFiles(keys.service(outs)),
        marks: outs.match ? plan.nftDrift() : [],
        realServers: outs.realServers && liveInline(plan, outs),
      }),
    });
    const s = live.service;
    // keepalived runs a health-checked service once it has a real server: gone from the kernel then
    // is drift that up repairs (it restarts keepalived); before, there is nothing to miss.
    if (!s && outs.healthCheck)
      return { drift: live.inFiles ? [`IPVS service ${serviceKeyString(outs)} is missing from the kernel`, ...live.drift] : [] };
    return (
      s && {
        scheduler: s.scheduler,
        persistence: s.persistence,
        schedulerFlags: s.schedulerFlags,
        onePacket: s.onePacket,
        realServers: live.realServers,
        drift: [...live.drift, ...live.marks],
      }
    );
  },
};
