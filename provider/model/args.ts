// What each resource takes: its IPVS object or host settings, the connection to its host, and
// what it does with what it finds there (adopt) and across reboots (persist).
import { z } from "zod";
import { Connection } from "./connection";
import {
  checkDest,
  checkService,
  checkServiceKey,
  completeDest,
  Destination,
  destPort,
  IpvsTimeouts,
  MarkMatch,
  normalizeKey,
  ServiceKey,
  TUNNEL_TYPES,
  virtualServiceFields,
} from "./ipvs";
import { HealthCheck, installKeepalived, SorryServer, Vrrp } from "./keepalived";
import { familyOf, hostPort, interfaceName, intIn, ipAddress, oneOf, port } from "./primitives";

const vipList = z
  .array(ipAddress)
  .min(1, { error: "must list at least one VIP" })
  .refine((l) => new Set(l).size === l.length, { error: (i) => `must not repeat a VIP, got ${JSON.stringify(i.input)}` });

/** Reboot persistence (on by default): the object is also written to files restored at boot. */
export const persist = z.boolean().default(true);
/**
 * The resource's URN, computed by the resource classes as the engine will give it (resources.ts
 * urnOf; pulumi.createUrn would deadlock, see there): what the host's ledger
 * records as the holder of everything this resource claims. Kept from create on, never diffed.
 */
const owner = z.string().min(1).optional();
/**
 * What becomes of an object this resource declares that was already on the host, identical (it
 * is adopted). "keep" (the default): what was found is recorded and put back when the last
 * holder lets go, so the object stays. "own": it is taken as pulumi-lvs's own: removed then like
 * anything pulumi-lvs created (an address, with a host route to it on the same device; a
 * service; a destination; a route; a tunnel device; a sync daemon), or, where it cannot be
 * absent, set to the kernel's default: arp_ignore, arp_announce, ip_forward, IPv6 forwarding,
 * expire_nodest_conn and expire_quiescent_template 0; IPVS timeouts tcp 900, tcpFin 120, udp 300.
 * Other sysctls (rp_filter, accept_redirects: distributions set their own defaults) and
 * keepalived keep what was found. One-way: an object once owned stays owned after "keep" again.
 */
export const adopt = oneOf(["keep", "own"] as const, "adopt").default("keep");
/** Seconds to wait for active connections to end after setting weight 0, before removal; 0 removes at once. */
export const drainTimeout = intIn(0, 86400, "drainTimeout").default(30);

/**
 * A backend given inline on a VirtualService (`realServers`): a RealServer's destination fields,
 * held by the service's resource. Many backends in one resource are one engine step, not one each.
 */
export const InlineRealServer = Destination.extend({
  /** Defaults to the service's port (0 for a fwmark service), as a RealServer's. */
  port: destPort.optional(),
  /** Overrides the service's health check for this backend (the service must have one). */
  healthCheck: HealthCheck.optional(),
  /**
   * Seconds it drains when taken off the list or when the service is deleted: weight 0 until its
   * active connections end, then it goes; 0 removes it at once (as a RealServer's drainTimeout).
   */
  drainTimeout,
});

export const VirtualServiceArgs = z
  .object({
    ...virtualServiceFields,
    connection: Connection,
    persist,
    owner,
    adopt,
    /** For a fwmark service: the packets nftables on the director marks (a table pulumi-lvs owns); unset: you mark them. */
    match: z.array(MarkMatch).min(1, { error: "must list at least one match (or leave match unset)" }).optional(),
    /** Run this service through keepalived, which checks every backend and takes dead ones out. */
    healthCheck: HealthCheck.optional(),
    sorryServer: SorryServer.optional(),
    installKeepalived,
    /**
     * Backends held by this resource (unset: none; RealServer resources add others). One resource
     * for a whole pool: one engine step however many there are. A backend taken off the list, or
     * the whole list when the service goes, drains first (weight 0 until its active connections
     * end, at most its drainTimeout), as RealServers do.
     */
    realServers: z.array(InlineRealServer).optional(),
  })
  .superRefine((a, ctx) => {
    checkServiceKey(a, ctx);
    checkService(a, ctx);
    const seen = new Map<string, number>();
    (a.realServers ?? []).forEach((d, i) => {
      checkDest(d, a, (path, message) => ctx.addIssue({ code: "custom", path: ["realServers", i, ...path], message }));
      const at = hostPort(d.address, d.port ?? a.port ?? 0);
      if (seen.has(at)) ctx.addIssue({ code: "custom", path: ["realServers", i], message: `repeats realServers[${seen.get(at)}] (${at})` });
      seen.set(at, i);
      if (d.healthCheck && !a.healthCheck)
        ctx.addIssue({
          code: "custom",
          path: ["realServers", i, "healthCheck"],
          message: "needs a health-checked service: set healthCheck on the VirtualService",
        });
    });
    if (a.match && a.fwmark === undefined)
      ctx.addIssue({ code: "custom", path: ["match"], message: "applies only to a fwmark service (it says which packets get the mark)" });
    const family = a.family ?? "ipv4";
    (a.match ?? []).forEach((m, i) => {
      if (a.fwmark !== undefined && familyOf(m.address) !== family)
        ctx.addIssue({
          code: "custom",
          path: ["match", i, "address"],
          message: `must be an ${family} address (the service's family), got ${JSON.stringify(m.address)}`,
        });
    });
    if (a.healthCheck && a.fwmark !== undefined && a.healthCheck.type !== "command" && a.healthCheck.port === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["healthCheck", "port"],
        message: "is required on a fwmark service (its backends have no port of their own to check)",
      });
    if (a.sorryServer && a.address && familyOf(a.sorryServer.address) !== familyOf(a.address))
      ctx.addIssue({
        code: "custom",
        path: ["sorryServer", "address"],
        message: `must be of the service's address family, got ${JSON.stringify(a.sorryServer.address)}`,
      });
    if (a.sorryServer && !a.healthCheck)
      ctx.addIssue({ code: "custom", path: ["sorryServer"], message: "needs healthCheck (keepalived runs the sorry server)" });
    if (a.sorryServer && a.sorryServer.port !== a.port)
      ctx.addIssue({
        code: "custom",
        path: ["sorryServer", "port"],
        message: `must equal the service port ${a.port} (direct routing cannot map ports), got ${a.sorryServer.port}`,
      });
  })
  .transform(({ realServers, ...a }) => ({
    ...normalizeKey(a),
    ...(realServers ? { realServers: realServers.map((d) => completeDest(d, a)) } : {}),
  }));
export type VirtualServiceArgs = z.infer<typeof VirtualServiceArgs>;

/** A real server as declared: the Destination, with the service it belongs to and how to reach its director. */
export const RealServerArgs = Destination.extend({
  connection: Connection,
  /** The virtual service this real server belongs to. */
  service: ServiceKey,
  /**
   * Defaults to the service's port; must equal it for direct routing and tunnelling. For a fwmark
   * service it defaults to 0: the packet keeps its own port.
   */
  port: destPort.optional(),
  drainTimeout,
  persist,
  owner,
  adopt,
  /** Overrides the service's health check for this backend (the service must have one). */
  healthCheck: HealthCheck.optional(),
})
  .superRefine((a, ctx) => checkDest(a, a.service, (path, message) => ctx.addIssue({ code: "custom", path, message })))
  .transform((a) => completeDest(a, a.service));
export type RealServerArgs = z.infer<typeof RealServerArgs>;

/** Optional IPVS sysctls on the director (net.ipv4.vs.*), see the kernel's ipvs-sysctl docs. */
export const DirectorSysctls = z.object({
  expireNodestConn: z.boolean().optional(),
  expireQuiescentTemplate: z.boolean().optional(),
});

export const DirectorHostArgs = z
  .object({
    connection: Connection,
    vips: vipList,
    /** Interface that gets the VIPs; default: the one holding the route to the VIP. */
    interface: interfaceName.optional(),
    /** Set net.ipv4.ip_forward (restored on delete); unset leaves it alone. */
    ipForward: z.boolean().optional(),
    /** Carry the VIPs through a keepalived VRRP instance (failover between directors) instead of `ip addr`. */
    vrrp: Vrrp.optional(),
    ipvsTimeouts: IpvsTimeouts.optional(),
    installKeepalived,
    persist,
    owner,
    adopt,
  })
  .extend(DirectorSysctls.shape);
export type DirectorHostArgs = z.infer<typeof DirectorHostArgs>;

export const DrRealServerHostArgs = z.object({
  connection: Connection,
  vips: vipList,
  arpIgnore: intIn(0, 8, "arpIgnore").default(1),
  arpAnnounce: intIn(0, 2, "arpAnnounce").default(2),
  persist,
  owner,
  adopt,
});
export type DrRealServerHostArgs = z.infer<typeof DrRealServerHostArgs>;

/**
 * A backend of LVS-TUN: it receives the client's packets encapsulated (IP-in-IP, or inside GUE
 * or GRE) and answers the client directly from the VIP, so it may sit in another subnet.
 */
export const TunRealServerHostArgs = z
  .object({
    connection: Connection,
    vips: vipList,
    /** The encapsulation the director uses for this backend (RealServer.tunnelType). */
    tunnelType: oneOf(TUNNEL_TYPES, "tunnelType").default("ipip"),
    /** With gue: the UDP port to receive GUE on (RealServer.tunnelPort). */
    tunnelPort: port.optional(),
    arpIgnore: intIn(0, 8, "arpIgnore").default(1),
    arpAnnounce: intIn(0, 2, "arpAnnounce").default(2),
    persist,
    owner,
    adopt,
  })
  .superRefine((a, ctx) => {
    if (a.tunnelType === "gue" && a.tunnelPort === undefined)
      ctx.addIssue({ code: "custom", path: ["tunnelPort"], message: `is required with tunnelType "gue"` });
    if (a.tunnelType !== "gue" && a.tunnelPort !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["tunnelPort"],
        message: `applies only to tunnelType "gue", got ${JSON.stringify(a.tunnelType)}`,
      });
  });
export type TunRealServerHostArgs = z.infer<typeof TunRealServerHostArgs>;

/**
 * An IPv4 or IPv6 network in CIDR notation, or "default"; a single address is written as `ip
 * route` prints it (198.51.100.20, not 198.51.100.20/32), so what we set and read compare.
 */
const network = z
  .string()
  .refine(
    (n) => {
      if (n === "default") return true;
      const [a, bits, more] = n.split("/");
      const max = a?.includes(":") ? 128 : 32;
      // A bare address is one host (how `ip route` prints a /32): validation runs again on what it produced.
      const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
      return more === undefined && prefixOk && ipAddress.safeParse(a).success;
    },
    { error: (i) => `must be a network such as 198.51.100.0/24 or 2001:db8::/64, or "default", got ${JSON.stringify(i.input)}` },
  )
  .transform((n) => {
    if (n === "default") return n;
    const [a, bits] = n.split("/");
    const address = ipAddress.parse(a);
    const all = address.includes(":") ? "128" : "32";
    if (bits !== undefined && Number(bits) === 0) return "default";
    return bits === undefined || bits === all ? address : `${address}/${Number(bits)}`;
  });
/**
 * A backend of LVS-NAT: the director rewrites the destination to this backend, so the answer must
 * go back through the director to be rewritten again: a route to the clients through it.
 */
export const NatRealServerHostArgs = z.object({
  connection: Connection,
  /** The director's address on the backends' network: the gateway to the clients. */
  director: ipAddress,
  /** Where the clients are: routed through the director (restored on delete). */
  clients: z.array(network).min(1, { error: "must list at least one network" }).default(["default"]),
  persist,
  owner,
  adopt,
});
export type NatRealServerHostArgs = z.infer<typeof NatRealServerHostArgs>;
