// RealServer: one destination of an IPVS service (ipvsadm -a/-e/-d), drained
// (weight 0, wait for active connections) before it is removed.
import { Destination, RealServerArgs, serviceKeyString } from "../model";
import { boot, ipvs, script } from "../remote/commands";
import { LiveDestination } from "../remote/parsers";
import { Host, Log } from "../remote/ssh";
import { Kind } from "./kind";
import { readTable } from "./virtual-service";

const dest = (a: RealServerArgs): Destination => ({
  address: a.address, port: a.port, forwarding: a.forwarding, weight: a.weight,
  upperThreshold: a.upperThreshold || undefined, lowerThreshold: a.lowerThreshold || undefined,
});
const name = (a: Pick<RealServerArgs, "service" | "address" | "port">) => `${a.address}:${a.port} of ${serviceKeyString(a.service)}`;

async function findLive(host: Host, a: Pick<RealServerArgs, "service" | "address" | "port">) {
  const svc = (await readTable(host)).get(serviceKeyString(a.service));
  return { svc, live: svc?.destinations.find((d) => d.address === a.address && d.port === a.port) };
}

const sameSettings = (live: LiveDestination, want: Destination) =>
  live.forwarding === want.forwarding && live.weight === want.weight &&
  (live.upperThreshold ?? 0) === (want.upperThreshold ?? 0) && (live.lowerThreshold ?? 0) === (want.lowerThreshold ?? 0);

const describe = (d: Destination) =>
  `forwarding ${d.forwarding}, weight ${d.weight}, thresholds ${d.upperThreshold ?? 0}/${d.lowerThreshold ?? 0}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Quiesces a TCP destination before removal: weight 0 sends no new connections to it, and
 * we wait until its established ones end or drainTimeout passes. UDP has no connections to wait for.
 */
async function drain(host: Host, a: RealServerArgs & { weight: number }, live: LiveDestination, log: Log): Promise<void> {
  if (a.service.protocol !== "tcp" || a.drainTimeout === 0 || live.activeConn === 0 && live.weight === 0) return;
  if (live.weight !== 0) await host.run(ipvs.editDestination(a.service, { ...dest(a), forwarding: live.forwarding, weight: 0 }), { lock: true });
  const deadline = Date.now() + a.drainTimeout * 1000;
  for (let active = live.activeConn; ; ) {
    if (active === 0) { log(`${host.target}: ${name(a)} drained`); return; }
    if (Date.now() >= deadline) { log(`${host.target}: ${name(a)}: drainTimeout ${a.drainTimeout}s passed with ${active} active connection(s); removing it`); return; }
    log(`${host.target}: draining ${name(a)}: weight 0, ${active} active connection(s), up to ${Math.ceil((deadline - Date.now()) / 1000)}s more`);
    await sleep(Math.min(2000, Math.max(0, deadline - Date.now())));
    const now = (await findLive(host, a)).live;
    if (!now) return;
    active = now.activeConn;
  }
}

export const realServerKind: Kind<RealServerArgs> = {
  name: "RealServer",
  schema: RealServerArgs,
  replaceOn: ["service.address", "service.port", "service.protocol", "address", "port"],
  updateOn: ["forwarding", "weight", "upperThreshold", "lowerThreshold", "drainTimeout", "persist"],
  identity: (a) => `${serviceKeyString(a.service)}/${a.address}:${a.port}`,

  async create(host, a) {
    const { svc, live } = await findLive(host, a);
    if (!svc) throw new Error(`${host.target}: IPVS service ${serviceKeyString(a.service)} does not exist; declare its VirtualService (and pass it as \`service\`) so it is created first`);
    if (live && !sameSettings(live, dest(a))) {
      throw new Error(`${host.target}: real server ${name(a)} already exists with ${describe(live)}, but this RealServer declares ${describe(dest(a))}; it was left untouched. Declare it identically to adopt it, or remove it by hand.`);
    }
    await host.run(script(...(live ? [] : [ipvs.addDestination(a.service, dest(a))]), ...(a.persist ? boot.saveDestination(a.service, dest(a)) : [])), { lock: true });
    return { adopted: !!live };
  },

  async read(host, outs) {
    const { live } = await findLive(host, outs);
    if (!live) return undefined;
    return {
      forwarding: live.forwarding, weight: live.weight,
      upperThreshold: live.upperThreshold, lowerThreshold: live.lowerThreshold,
      activeConnections: live.activeConn, inactiveConnections: live.inactConn,
    };
  },

  async update(host, olds, news) {
    const { live } = await findLive(host, news);
    if (!live) throw new Error(`${host.target}: real server ${name(news)} is gone; run pulumi refresh, then pulumi up to recreate it`);
    const cmds = sameSettings(live, dest(news)) ? [] : [ipvs.editDestination(news.service, dest(news))];
    await host.run(script(...cmds, ...(news.persist ? boot.saveDestination(news.service, dest(news)) : boot.removeDestination(news.service, news))), { lock: true });
    return { adopted: olds.adopted ?? false };
  },

  async delete(host, outs, log) {
    const { live } = await findLive(host, outs);
    if (live) await drain(host, outs, live, log);
    await host.run(script(...(live ? [ipvs.deleteDestination(outs.service, outs)] : []), ...boot.removeDestination(outs.service, outs)), { lock: true });
  },
};
