// What DirectorHost and DrRealServerHost share: VIPs as /32 on one interface and a
// few sysctls, changed only where needed, with what was there before recorded so
// delete puts the host back as it was (VIPs we did not add stay, sysctls are restored).
import { boot, net, script, sections } from "../remote/commands";
import { parseIpAddr, parseSysctls, splitSections } from "../remote/parsers";
import { Host } from "../remote/ssh";

export interface HostSpec {
  dev: string;
  vips: string[];
  /** Applied before the network at boot (/etc/sysctl.d). */
  sysctls: Record<string, number>;
  /** net.ipv4.vs.* sysctls: exist only once ip_vs is loaded, so restored after modprobe. */
  vsSysctls: Record<string, number>;
}

/** What we changed on the host: kept in outputs so delete can undo exactly that. */
export interface HostRecord {
  /** VIPs this resource added (VIPs that were already there are never removed). */
  addedVips: string[];
  /** Sysctl values from before we first set each key. */
  previousSysctls: Record<string, number>;
}

export interface LiveHost {
  vipsByDev: Map<string, string>; // address -> dev
  sysctls: Record<string, number | undefined>;
}

export async function readHost(host: Host, keys: string[]): Promise<LiveHost> {
  const out = await host.run(sections(net.listAddresses(), net.readSysctls(keys)), { summary: "ip -o -4 addr show; sysctl -n ..." });
  const [addrs, sysctls = ""] = splitSections(out);
  const vipsByDev = new Map<string, string>();
  for (const a of parseIpAddr(addrs)) if (a.prefix === 32) vipsByDev.set(a.address, a.dev);
  return { vipsByDev, sysctls: parseSysctls(sysctls) };
}

/**
 * Converges the host to `want` given what we changed before (`prev`, empty on create) and the
 * VIPs declared before (`prevVips`). Returns the new record. One read, one locked write.
 */
export async function applyHost(
  host: Host, owner: string, want: HostSpec, prev: HostRecord, prevVips: string[], persist: boolean,
): Promise<HostRecord> {
  const allSysctls = { ...want.sysctls, ...want.vsSysctls };
  const keys = [...new Set([...Object.keys(allSysctls), ...Object.keys(prev.previousSysctls)])];
  const live = await readHost(host, keys);
  const cmds: string[] = [];
  const added = new Set(prev.addedVips);

  for (const vip of want.vips) {
    const dev = live.vipsByDev.get(vip);
    if (dev === want.dev) continue;
    if (dev !== undefined) {
      throw new Error(`${host.target}: ${vip}/32 is already on ${dev}, but this ${owner} wants it on ${want.dev}; nothing was changed. Remove it from ${dev} or declare interface ${JSON.stringify(dev)}.`);
    }
    cmds.push(net.addAddress(vip, want.dev));
    added.add(vip);
  }
  for (const vip of prevVips.filter((v) => !want.vips.includes(v))) {
    if (added.has(vip) && live.vipsByDev.has(vip)) cmds.push(net.deleteAddress(vip, live.vipsByDev.get(vip)!));
    added.delete(vip);
  }

  const previous = { ...prev.previousSysctls };
  for (const [k, v] of Object.entries(allSysctls)) {
    const now = live.sysctls[k];
    if (now === undefined) throw new Error(`${host.target}: sysctl ${k} does not exist on this kernel`);
    if (!(k in previous)) previous[k] = now;
    if (now !== v) cmds.push(net.writeSysctl(k, v));
  }
  for (const k of Object.keys(previous)) {
    if (k in allSysctls) continue; // no longer managed: put the old value back
    if (live.sysctls[k] !== undefined && live.sysctls[k] !== previous[k]) cmds.push(net.writeSysctl(k, previous[k]));
    delete previous[k];
  }

  const addrs = want.vips.map((address) => ({ address, dev: want.dev }));
  cmds.push(...(persist ? boot.saveHost(owner, { addrs, sysctls: want.sysctls, vsSysctls: want.vsSysctls }) : boot.removeHost(owner)));
  await host.run(script(...cmds), { lock: true, summary: `configure ${owner}` });
  return { addedVips: [...added], previousSysctls: previous };
}

/** Undoes exactly what `rec` says we did; safe when things are already gone. */
export async function removeHost(host: Host, owner: string, rec: HostRecord): Promise<void> {
  const live = await readHost(host, Object.keys(rec.previousSysctls));
  const cmds: string[] = [];
  for (const vip of rec.addedVips) {
    const dev = live.vipsByDev.get(vip);
    if (dev) cmds.push(net.deleteAddress(vip, dev));
  }
  for (const [k, v] of Object.entries(rec.previousSysctls)) {
    if (live.sysctls[k] !== undefined && live.sysctls[k] !== v) cmds.push(net.writeSysctl(k, v));
  }
  cmds.push(...boot.removeHost(owner));
  await host.run(script(...cmds), { lock: true, summary: `restore ${owner}` });
}

export const recordOf = (outs: Record<string, unknown>): HostRecord => ({
  addedVips: (outs.addedVips as string[] | undefined) ?? [],
  previousSysctls: (outs.previousSysctls as Record<string, number> | undefined) ?? {},
});
