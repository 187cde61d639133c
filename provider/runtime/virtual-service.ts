// VirtualService: one IPVS service on a director (ipvsadm -A/-E/-D).
import { VirtualService, VirtualServiceArgs, serviceKeyString } from "../model";
import { boot, ipvs, script } from "../remote/commands";
import { LiveService, parseIpvsTable } from "../remote/parsers";
import { Host } from "../remote/ssh";
import { Kind } from "./kind";

/** The director's IPVS table; with `preflight`, ipvsadm and ip_vs are checked in the same round trip. */
export async function readTable(host: Host, opts: { preflight?: boolean } = {}) {
  const read = ipvs.readTable();
  return parseIpvsTable(await host.run(opts.preflight ? `${ipvs.preflight()}; ${read}` : read, { summary: "ipvsadm -S -n; ipvsadm -L -n --thresholds" }));
}

const describe = (s: Pick<VirtualService, "scheduler" | "persistence"> & { extra?: string[] }) =>
  `scheduler ${s.scheduler}, persistence ${s.persistence ? `${s.persistence.timeout}s${s.persistence.netmask ? ` mask ${s.persistence.netmask}` : ""}` : "off"}` +
  (s.extra?.length ? `, ${s.extra.join(" ")}` : "");

const sameSettings = (live: LiveService, want: VirtualService) =>
  live.scheduler === want.scheduler && live.extra.length === 0 &&
  JSON.stringify(live.persistence ?? null) === JSON.stringify(want.persistence ?? null);

export const virtualServiceKind: Kind<VirtualServiceArgs> = {
  name: "VirtualService",
  schema: VirtualServiceArgs,
  replaceOn: ["address", "port", "protocol"],
  updateOn: ["scheduler", "persistence", "persist"],
  identity: (a) => serviceKeyString(a),

  async create(host, a) {
    const live = (await readTable(host, { preflight: true })).get(serviceKeyString(a));
    if (live && !sameSettings(live, a)) {
      throw new Error(
        `${host.target}: IPVS service ${serviceKeyString(a)} already exists with ${describe(live)}, ` +
          `but this VirtualService declares ${describe(a)}; it was left untouched. Declare it identically to adopt it, or remove it by hand.`,
      );
    }
    // An identical service is adopted: creating it again would fail and change nothing.
    await host.run(script(...(live ? [] : [ipvs.addService(a)]), ...(a.persist ? boot.saveService(a) : [])), { lock: true });
    return { adopted: !!live };
  },

  async read(host, outs) {
    const live = (await readTable(host)).get(serviceKeyString(outs));
    if (!live) return undefined;
    return { scheduler: live.scheduler, persistence: live.persistence };
  },

  async update(host, olds, news) {
    const live = (await readTable(host)).get(serviceKeyString(news));
    if (!live) throw new Error(`${host.target}: IPVS service ${serviceKeyString(news)} is gone; run pulumi refresh, then pulumi up to recreate it`);
    const cmds = sameSettings(live, news) ? [] : [ipvs.editService(news)];
    await host.run(script(...cmds, ...(news.persist ? boot.saveService(news) : boot.removeService(news))), { lock: true });
    return { adopted: olds.adopted ?? false };
  },

  async delete(host, outs) {
    const live = (await readTable(host)).get(serviceKeyString(outs));
    // Deleting something already gone succeeds; the persisted copy goes in any case.
    await host.run(script(...(live ? [ipvs.deleteService(outs)] : []), ...boot.removeService(outs)), { lock: true });
  },
};
