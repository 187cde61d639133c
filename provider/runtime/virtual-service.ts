// VirtualService: one IPVS service on a director (ipvsadm -A/-E/-D), held in the host's
// ledger: an identical service that was already there is adopted and left in place (unless
// adopt is "own"); one that another resource holds is shared (a rename hands it over without a gap). With a health
// check, keepalived runs it (a virtual_server block of our files) and follows backend health. Its
// `realServers` are destinations it holds too, in the same transaction as the service.
import { z } from "zod";
import { VirtualServiceArgs, VirtualServiceOutputs, serviceKeyString } from "../model";
import { DestValue, adopted, keys } from "../ledger";
import type { Plan } from "../holds/plan";
import { Ctx, Kind } from "./kind";
import { hostOp, needKeepalived } from "./host-state";
import { queueOf } from "./host-queue";
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
/** The destinations given inline (`realServers`), as the ledger holds them. */
const inlineDests = (a: VirtualServiceArgs): DestValue[] =>
  (a.realServers ?? []).map(({ healthCheck, ...dest }) => ({ service: serviceKey(a), dest, ...(healthCheck ? { healthCheck } : {}) }));
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

const converge = (a: VirtualServiceArgs, { owner, imported }: Pick<Ctx, "owner" | "imported">) =>
  hostOp(`VirtualService ${serviceKeyString(a)}`, { ipvs: true, keepalived: !!a.healthCheck }, (plan) => {
    if (a.healthCheck) needKeepalived(plan, a.installKeepalived);
    plan.claim(owner, {
      services: [serviceValue(a)],
      dests: inlineDests(a),
      marks: marks(a),
      keepalived: !!a.healthCheck,
      persist: a.persist,
      imported,
      own: a.adopt === "own",
    });
    return { adopted: adopted(plan.ledger.entries[keys.service(a)]), drift: [] };
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

  create: (host, a, ctx) => converge(a, ctx).on(host),
  update: (host, olds, news, ctx) =>
    converge(news, ctx)
      .migrating(olds, () => legacy(olds), legacyFiles.object(legacyName(olds), "service"), ctx.owner, news.persist)
      .on(host),
  async delete(host, outs, { owner }) {
    await hostOp(`VirtualService ${serviceKeyString(outs)}`, { ipvs: true, keepalived: !!outs.healthCheck }, (plan) =>
      plan.claim(owner, { persist: false }),
    )
      .migrating(outs, () => legacy(outs), legacyFiles.object(legacyName(outs), "service"), owner, outs.persist)
      .on(host);
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
