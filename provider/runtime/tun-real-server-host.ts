// TunRealServerHost: the backend side of LVS-TUN. The director encapsulates each client packet
// (IP-in-IP, or in GUE or GRE) to this host, which may be in any network; the host decapsulates
// it on its tunnel device, which holds the VIPs, and answers the client directly from the VIP.
// Reverse-path filtering is relaxed on the tunnel device and `all` (the kernel uses the higher
// of the two): the decapsulated packet comes from a client the tunnel has no route back to.
import { z } from "zod";
import { familyOf, TunRealServerHostArgs, TunRealServerHostOutputs, vipPrefix } from "../model";
import { Claim, ClaimError } from "../holds/plan";
import { Kind } from "./kind";
import { settingsOps } from "./host-state";
import { queueOf } from "./host-queue";
import { arpSysctls } from "./dr-real-server-host";

/** The device that receives each encapsulation (created by its module), per address family. */
const DEVICE = {
  ipip: { ipv4: { dev: "tunl0", module: "ipip" }, ipv6: { dev: "ip6tnl0", module: "ip6_tunnel" } },
  gue: { ipv4: { dev: "tunl0", module: "ipip" }, ipv6: undefined },
  gre: { ipv4: { dev: "gre0", module: "ip_gre" }, ipv6: undefined },
} as const;

function devicesOf(a: TunRealServerHostArgs) {
  const families = [...new Set(a.vips.map(familyOf))];
  return families.map((f) => {
    const d = DEVICE[a.tunnelType][f];
    if (!d) throw new ClaimError(`tunnelType ${a.tunnelType} carries IPv4 only; use ipip for the IPv6 VIPs`);
    return { family: f, ...d };
  });
}
const modulesOf = (a: TunRealServerHostArgs) => [
  ...new Set([...a.vips.map((v) => DEVICE[a.tunnelType][familyOf(v)]?.module ?? "ipip"), ...(a.tunnelType === "gue" ? ["fou"] : [])]),
];
const rpFilter = (dev: string) => `net.ipv4.conf.${dev}.rp_filter`;
const sysctlKeys = (a: TunRealServerHostArgs) => {
  const v4 = DEVICE[a.tunnelType].ipv4.dev;
  return [rpFilter(v4), rpFilter("all"), ...Object.keys(arpSysctls(a, v4))];
};

const claimOf = (a: TunRealServerHostArgs): Claim => {
  const devs = devicesOf(a);
  const devFor = (vip: string) => devs.find((d) => d.family === familyOf(vip))!.dev;
  const v4 = devs.find((d) => d.family === "ipv4")?.dev;
  return {
    links: devs.map(({ dev, module }) => ({ dev, module })),
    fou: a.tunnelType === "gue" ? [a.tunnelPort!] : [],
    addrs: a.vips.map((address) => ({ address, prefix: vipPrefix(address), dev: devFor(address) })),
    sysctls: v4 ? { [rpFilter(v4)]: 0, [rpFilter("all")]: 0, ...arpSysctls(a, v4) } : {},
    persist: a.persist,
    own: a.adopt === "own",
  };
};

const needs = (a: TunRealServerHostArgs) => ({ sysctls: sysctlKeys(a), modules: modulesOf(a), prep: true });

export const tunRealServerHostKind: Kind<TunRealServerHostArgs, z.infer<typeof TunRealServerHostOutputs>> = {
  name: "TunRealServerHost",
  schema: TunRealServerHostArgs,
  outputs: TunRealServerHostOutputs,
  replaceOn: [],
  updateOn: ["vips", "tunnelType", "tunnelPort", "arpIgnore", "arpAnnounce", "persist", "adopt"],
  identity: () => "tun-real-server",
  ...settingsOps<TunRealServerHostArgs>("TunRealServerHost", needs, (_plan, a) => claimOf(a)),

  async read(host, outs) {
    return queueOf(host).submit({
      label: `TunRealServerHost ${host.target}`,
      readOnly: true,
      needs: needs(outs),
      apply: (plan) => {
        const devs = devicesOf(outs);
        const v4 = DEVICE[outs.tunnelType].ipv4.dev;
        const up = devs.every((d) => plan.liveLink(d.dev));
        const rp = Math.max(plan.liveSysctl(rpFilter(v4)) ?? 0, plan.liveSysctl(rpFilter("all")) ?? 0);
        return {
          // A VIP counts only on an up device with rp_filter relaxed: otherwise no packet gets through.
          vips: outs.vips.filter(
            (v) => up && rp === 0 && plan.liveAddrs().some((x) => x.address === v && devs.some((d) => d.dev === x.dev)),
          ),
          tunnelPort: outs.tunnelType === "gue" && !plan.liveFou().includes(outs.tunnelPort!) ? undefined : outs.tunnelPort,
        };
      },
    });
  },
};
