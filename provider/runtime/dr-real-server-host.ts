// DrRealServerHost: the backend side of LVS-DR. VIPs as /32 on lo so the host accepts
// packets for them, and ARP sysctls so it never answers ARP for them (the director must).
import { DrRealServerHostArgs } from "../model";
import { HostSpec, applyHost, readHost, recordOf, removeHost } from "./host-config";
import { Kind } from "./kind";

const OWNER = "dr-real-server";
const key = (dev: "lo" | "all", what: "arp_ignore" | "arp_announce") => `net.ipv4.conf.${dev}.${what}`;
const KEYS = [key("lo", "arp_ignore"), key("all", "arp_ignore"), key("lo", "arp_announce"), key("all", "arp_announce")];

const spec = (a: DrRealServerHostArgs): HostSpec => ({
  dev: "lo", vips: a.vips, vsSysctls: {},
  sysctls: {
    [key("lo", "arp_ignore")]: a.arpIgnore, [key("all", "arp_ignore")]: a.arpIgnore,
    [key("lo", "arp_announce")]: a.arpAnnounce, [key("all", "arp_announce")]: a.arpAnnounce,
  },
});

export const drRealServerHostKind: Kind<DrRealServerHostArgs> = {
  name: "DrRealServerHost",
  schema: DrRealServerHostArgs,
  replaceOn: [],
  updateOn: ["vips", "arpIgnore", "arpAnnounce", "persist"],
  identity: () => OWNER,

  async create(host, a) {
    return { ...(await applyHost(host, OWNER, spec(a), { addedVips: [], previousSysctls: {} }, [], a.persist)) };
  },

  async read(host, outs) {
    const live = await readHost(host, KEYS);
    // A setting that differs on lo and all reads as the lower of the two, so drift shows.
    const lowest = (what: "arp_ignore" | "arp_announce") =>
      Math.min(live.sysctls[key("lo", what)] ?? 0, live.sysctls[key("all", what)] ?? 0);
    return {
      vips: outs.vips.filter((v) => live.vipsByDev.get(v) === "lo"),
      arpIgnore: lowest("arp_ignore"),
      arpAnnounce: lowest("arp_announce"),
    };
  },

  async update(host, olds, news) {
    return { ...(await applyHost(host, OWNER, spec(news), recordOf(olds), olds.vips, news.persist)) };
  },

  async delete(host, outs) {
    await removeHost(host, OWNER, recordOf(outs));
  },
};
