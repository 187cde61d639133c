// RealServer: one destination of an IPVS service (ipvsadm -a/-e/-d), held in the host's
// ledger, and drained (weight 0, wait for active connections) before the last holder removes it.
import { z } from "zod";
import { Destination, RealServerArgs, RealServerOutputs, hostPort, serviceKeyString } from "../model";
import { DestValue, adopted, keys } from "../ledger";
import { ClaimError } from "../holds/plan";
import { legacyFiles } from "../remote/boot";
import { parseRealServerIdentity, realServerIdentity } from "../ids";
import { Ctx, Kind } from "./kind";
import { hostOp } from "./host-state";
import { queueOf } from "./host-queue";
import { hasConnections, waitDrained } from "./drain";

type Outputs = z.infer<typeof RealServerOutputs>;

const dest = (a: RealServerArgs): Destination => ({
  address: a.address,
  port: a.port,
  forwarding: a.forwarding,
  tunnelType: a.tunnelType,
  tunnelPort: a.tunnelPort,
  weight: a.weight,
  upperThreshold: a.upperThreshold,
  lowerThreshold: a.lowerThreshold,
});
const value = (a: RealServerArgs): DestValue => ({
  service: a.service,
  dest: dest(a),
  ...(a.healthCheck ? { healthCheck: a.healthCheck } : {}),
});
const name = (a: Pick<RealServerArgs, "service" | "address" | "port">) =>
  `${hostPort(a.address, a.port)} of ${serviceKeyString(a.service)}`;
const legacyName = (a: RealServerArgs) => `${a.service.protocol}_${a.service.address}_${a.service.port}__${a.address}_${a.port}`;

const converge = (a: RealServerArgs, { owner, imported }: Pick<Ctx, "owner" | "imported">) =>
  hostOp(`RealServer ${name(a)}`, { ipvs: true }, (plan): Outputs => {
    if (a.healthCheck && !plan.byKeepalived(a.service))
      throw new ClaimError(`healthCheck of ${name(a)} needs a health-checked service: set healthCheck on its VirtualService`);
    plan.claim(owner, { dests: [value(a)], persist: a.persist, imported, own: a.adopt === "own" });
    const live = plan.liveDest(value(a));
    return {
      adopted: adopted(plan.ledger.entries[keys.dest(a.service, a)]),
      activeConnections: live?.activeConn,
      inactiveConnections: live?.inactConn,
    };
  });

/** What a release-0.1 RealServer held: its destination, there before it when it was adopted. */
const legacy = (outs: RealServerArgs & { adopted?: boolean }) => [
  {
    key: keys.dest(outs.service, outs),
    kind: "dest" as const,
    where: value(outs),
    value: value(outs),
    original: outs.adopted ? value(outs) : null,
  },
];

export const realServerKind: Kind<RealServerArgs, Outputs> = {
  name: "RealServer",
  schema: RealServerArgs,
  outputs: RealServerOutputs,
  replaceOn: ["service.address", "service.port", "service.protocol", "service.fwmark", "service.family", "address", "port"],
  updateOn: [
    "forwarding",
    "tunnelType",
    "tunnelPort",
    "weight",
    "upperThreshold",
    "lowerThreshold",
    "drainTimeout",
    "healthCheck",
    "persist",
    "adopt",
  ],
  identity: (a) => realServerIdentity(a.service, a.address, a.port),
  fromIdentity: parseRealServerIdentity,

  create: (host, a, ctx) => converge(a, ctx).on(host),
  update: (host, olds, news, ctx) =>
    converge(news, ctx)
      .migrating(olds, () => legacy(olds), legacyFiles.object(legacyName(olds), "dest"), ctx.owner, news.persist)
      .on(host),

  async delete(host, outs, { owner, log }) {
    const label = `RealServer ${name(outs)}`;
    // Connections (TCP, SCTP, any of a fwmark service) are drained first (UDP has none to wait
    // for); one transaction when there is nothing to drain.
    const drains = hasConnections(outs.service) && outs.drainTimeout > 0;
    const active = await hostOp(label, { ipvs: true }, (plan) =>
      drains ? plan.releaseOrDrain(owner, value(outs)) : plan.claim(owner, { persist: false }),
    )
      .migrating(outs, () => legacy(outs), legacyFiles.object(legacyName(outs), "dest"), owner, outs.persist)
      .on(host);
    if (active === undefined) return;
    await waitDrained(host, [{ name: name(outs), dest: value(outs), active, drainTimeout: outs.drainTimeout }], log);
    // Decided again under the lock: whatever the drain saw, the destination is removed only if it is still there.
    await hostOp(label, { ipvs: true }, (plan) => plan.claim(owner, { persist: false })).on(host);
  },

  async read(host, outs) {
    const { live, checked, down } = await queueOf(host).submit({
      label: `RealServer ${name(outs)}`,
      readOnly: true,
      apply: (plan) => {
        const live = plan.liveDest(value(outs));
        const entry = plan.ledger.entries[keys.dest(outs.service, outs)];
        const checked = plan.byKeepalived(outs.service);
        const down = checked && (!live || (!!entry && plan.downByCheck(entry, live.weight)));
        return { live, checked, down };
      },
    });
    // On a health-checked service, a backend keepalived took out (or to weight 0) is down, not drift.
    if (down) return { health: "down", activeConnections: live?.activeConn ?? 0, inactiveConnections: live?.inactConn ?? 0 };
    if (!live) return undefined;
    return {
      health: checked ? "up" : undefined,
      forwarding: live.forwarding,
      tunnelType: live.tunnelType,
      tunnelPort: live.tunnelPort,
      weight: live.weight,
      upperThreshold: live.upperThreshold,
      lowerThreshold: live.lowerThreshold,
      activeConnections: live.activeConn,
      inactiveConnections: live.inactConn,
    };
  },
};
