// DirectorHost: the director side of LVS-DR. VIPs as /32 on the LAN interface,
// optional ip_forward and IPVS expiry sysctls; checks ipvsadm and ip_vs first.
import { DirectorHostArgs } from "../model";
import { ipvs, net, sections } from "../remote/commands";
import { parseIpAddr, parseRouteDev, splitSections } from "../remote/parsers";
import { Host } from "../remote/ssh";
import { HostSpec, applyHost, readHost, recordOf, removeHost } from "./host-config";
import { Kind } from "./kind";

const OWNER = "director";
const IP_FORWARD = "net.ipv4.ip_forward";
const EXPIRE_NODEST = "net.ipv4.vs.expire_nodest_conn";
const EXPIRE_QUIESCENT = "net.ipv4.vs.expire_quiescent_template";
const flag = (b: boolean | undefined) => (b === undefined ? undefined : b ? 1 : 0);
const defined = (o: Record<string, number | undefined>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, number>;

function spec(a: DirectorHostArgs, dev: string): HostSpec {
  return {
    dev, vips: a.vips,
    sysctls: defined({ [IP_FORWARD]: flag(a.ipForward) }),
    vsSysctls: defined({ [EXPIRE_NODEST]: flag(a.expireNodestConn), [EXPIRE_QUIESCENT]: flag(a.expireQuiescentTemplate) }),
  };
}

/**
 * Checks ipvsadm and ip_vs, then picks the interface: the declared one, else where a VIP
 * already is, else the one routing to the VIP's subnet. One round trip.
 */
async function preflightAndInterface(host: Host, a: DirectorHostArgs): Promise<string> {
  const out = await host.run(`${ipvs.preflight()}; ${sections(net.listAddresses(), net.routeTo(a.vips[0]))}`, { summary: "check ipvsadm and ip_vs; ip addr; ip route get" });
  if (a.interface) return a.interface;
  const [addrs, route = ""] = splitSections(out);
  const existing = parseIpAddr(addrs).find((x) => x.prefix === 32 && a.vips.includes(x.address) && x.dev !== "lo");
  if (existing) return existing.dev;
  const dev = parseRouteDev(route);
  if (!dev || dev === "lo") throw new Error(`${host.target}: no interface routes to ${a.vips[0]}; set DirectorHost.interface`);
  return dev;
}

export const directorHostKind: Kind<DirectorHostArgs> = {
  name: "DirectorHost",
  schema: DirectorHostArgs,
  replaceOn: ["interface"],
  resolvedWhenUnset: ["interface"],
  updateOn: ["vips", "ipForward", "expireNodestConn", "expireQuiescentTemplate", "persist"],
  identity: () => OWNER,

  async create(host, a) {
    const dev = await preflightAndInterface(host, a);
    const rec = await applyHost(host, OWNER, spec(a, dev), { addedVips: [], previousSysctls: {} }, [], a.persist);
    return { ...rec, interface: dev };
  },

  async read(host, outs) {
    const live = await readHost(host, [IP_FORWARD, EXPIRE_NODEST, EXPIRE_QUIESCENT]);
    const dev = outs.interface as string;
    const bool = (k: string, declared: boolean | undefined) => (declared === undefined ? undefined : live.sysctls[k] === 1);
    return {
      vips: outs.vips.filter((v) => live.vipsByDev.get(v) === dev),
      ipForward: bool(IP_FORWARD, outs.ipForward),
      expireNodestConn: bool(EXPIRE_NODEST, outs.expireNodestConn),
      expireQuiescentTemplate: bool(EXPIRE_QUIESCENT, outs.expireQuiescentTemplate),
    };
  },

  async update(host, olds, news) {
    await host.run(ipvs.preflight(), { summary: "check ipvsadm and ip_vs" });
    const dev = news.interface ?? (olds.interface as string);
    const rec = await applyHost(host, OWNER, spec(news, dev), recordOf(olds), olds.vips, news.persist);
    return { ...rec, interface: dev };
  },

  async delete(host, outs) {
    await removeHost(host, OWNER, recordOf(outs));
  },
};
