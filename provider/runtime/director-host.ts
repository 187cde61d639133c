// DirectorHost: the director side of LVS-DR. VIPs as /32 on the LAN interface,
// optional ip_forward and IPVS expiry sysctls; checks ipvsadm and ip_vs first.
import { DirectorHostArgs } from "../model";
import { ipvs, net } from "../remote/commands";
import { parseRouteDev } from "../remote/parsers";
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

/** The declared interface, else where a VIP already is, else the one routing to the VIP's subnet. */
async function resolveInterface(host: Host, a: DirectorHostArgs): Promise<string> {
  if (a.interface) return a.interface;
  const live = await readHost(host, []);
  const existing = a.vips.map((v) => live.vipsByDev.get(v)).find((d) => d && d !== "lo");
  if (existing) return existing;
  const dev = parseRouteDev(await host.run(net.routeTo(a.vips[0]), { summary: `ip route get ${a.vips[0]}` }));
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
    await host.run(ipvs.preflight(), { summary: "check ipvsadm and ip_vs" });
    const dev = await resolveInterface(host, a);
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
