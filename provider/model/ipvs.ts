// IPVS itself: a virtual service (by address, port and protocol, or by firewall mark) and its
// destinations, with the rules their fields follow together.
import { z } from "zod";
import { familyOf, intIn, ipAddress, ipv4, oneOf, port, hostPort, type Family } from "./primitives";

// --- IPVS ---

export const PROTOCOLS = ["tcp", "udp", "sctp"] as const;
/** Every scheduler the kernel's IPVS offers (ipvsadm(8)); twos needs Linux 6.2 or later. */
export const SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"] as const;
/** Scheduler flags (ipvsadm -b): sh-* for the sh scheduler, mh-* for mh. */
export const SCHED_FLAGS = ["sh-fallback", "sh-port", "mh-fallback", "mh-port"] as const;
export const FAMILIES = ["ipv4", "ipv6"] as const;
export const FORWARDING = ["direct", "tunnel", "masquerade"] as const;
export const Protocol = oneOf(PROTOCOLS, "protocol");
export const Scheduler = oneOf(SCHEDULERS, "scheduler");
export const Forwarding = oneOf(FORWARDING, "forwarding");

const netmask = ipv4.refine(
  (m) =>
    /^1*0*$/.test(
      m
        .split(".")
        .map((o) => (+o).toString(2).padStart(8, "0"))
        .join(""),
    ),
  {
    error: (i) => `must be a contiguous netmask such as 255.255.255.0, got ${JSON.stringify(i.input)}`,
  },
);
/** IPv6 persistence groups clients by prefix length instead of a mask (ipvsadm -M 64). */
const prefixLength = z.string().regex(/^([1-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$/, {
  error: (i) => `must be a contiguous netmask such as 255.255.255.0 (IPv4) or a prefix length 1-128 (IPv6), got ${JSON.stringify(i.input)}`,
});
export const Persistence = z.object({
  /** Seconds a client sticks to the same real server. */
  timeout: intIn(1, 2678400, "persistence.timeout"),
  /**
   * Clients in the same network share one real server: a mask such as 255.255.255.0 for IPv4, a
   * prefix length such as "64" for IPv6. The defaults (255.255.255.255, 128) read as unset.
   */
  netmask: z
    .union([netmask, prefixLength], {
      error: (i) =>
        `must be a contiguous netmask such as 255.255.255.0 (IPv4) or a prefix length 1-128 (IPv6), got ${JSON.stringify(i.input)}`,
    })
    .transform((m) => (m === "255.255.255.255" || m === "128" ? undefined : m))
    .optional(),
});
export type Persistence = z.infer<typeof Persistence>;

/**
 * What identifies an IPVS virtual service on one director: an address, port and protocol, or a
 * firewall mark and address family (packets marked by nftables, see `match`). Exactly one form.
 */
export const serviceKeyFields = {
  address: ipAddress.optional(),
  port: port.optional(),
  protocol: Protocol.default("tcp"),
  /** A firewall-mark service: every packet with this mark (1 to 2^32-1), whatever its address and port. */
  fwmark: intIn(1, 4294967295, "fwmark").optional(),
  /** The address family of a firewall-mark service (default ipv4); an address service takes its address's. */
  family: oneOf(FAMILIES, "family").optional(),
};
export type KeyFields = { address?: string; port?: number; protocol: string; fwmark?: number; family?: Family };
/** Checks one of the two forms and fills in the family of a firewall-mark service. */
export function checkServiceKey(k: KeyFields, ctx: z.RefinementCtx, at: (string | number)[] = []): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [...at, path], message });
  if (k.fwmark !== undefined) {
    if (k.address !== undefined)
      issue("address", `must not be set with fwmark (a firewall-mark service has no address), got ${JSON.stringify(k.address)}`);
    if (k.port !== undefined) issue("port", `must not be set with fwmark (a firewall-mark service has no port), got ${k.port}`);
    if (k.protocol !== "tcp")
      issue("protocol", `must not be set with fwmark (the mark matches every protocol), got ${JSON.stringify(k.protocol)}`);
    return;
  }
  if (k.family !== undefined)
    issue("family", `applies only to a fwmark service (an address service takes its address's family), got ${JSON.stringify(k.family)}`);
  if (k.address === undefined) issue("address", "is required (or fwmark, for a firewall-mark service)");
  if (k.port === undefined) issue("port", "is required with address");
}
/** Fills in a fwmark service's family. No key is ever set to undefined: Pulumi's wire format refuses it. */
export const normalizeKey = <T extends KeyFields>(k: T): T => {
  if (k.fwmark !== undefined) return { ...k, protocol: "tcp", family: k.family ?? "ipv4" };
  const { family: _, ...rest } = k;
  return rest as T;
};
export const ServiceKey = z
  .object(serviceKeyFields)
  .superRefine((k, ctx) => checkServiceKey(k, ctx))
  .transform(normalizeKey);
export type ServiceKey = z.infer<typeof ServiceKey>;

/** Which packets nftables marks for a firewall-mark service: to `address`, with `protocol`, to one of `ports`. */
export const MarkMatch = z.object({
  address: ipAddress,
  protocol: Protocol.default("tcp"),
  ports: z
    .array(port)
    .min(1, { error: "must list at least one port" })
    .refine((l) => new Set(l).size === l.length, { error: (i) => `must not repeat a port, got ${JSON.stringify(i.input)}` }),
});
export type MarkMatch = z.infer<typeof MarkMatch>;

/** One IPVS virtual service, as ipvsadm -A / -E set it. */
export const virtualServiceFields = {
  ...serviceKeyFields,
  scheduler: Scheduler.default("wlc"),
  persistence: Persistence.optional(),
  /** Scheduler flags (ipvsadm -b): sh-port, sh-fallback with scheduler sh; mh-port, mh-fallback with mh. */
  schedulerFlags: z
    .array(oneOf(SCHED_FLAGS, "schedulerFlags"))
    .transform((l) => [...new Set(l)].sort())
    .optional(),
  /** One-packet scheduling (ipvsadm -o): every UDP datagram is scheduled on its own (DNS, syslog). */
  onePacket: z.boolean().optional(),
};
/** Checks what a service's fields mean together (beyond each field's own rules). */
export function checkService(
  s: KeyFields & z.infer<z.ZodObject<Omit<typeof virtualServiceFields, keyof typeof serviceKeyFields>>>,
  ctx: z.RefinementCtx,
): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
  (s.schedulerFlags ?? []).forEach((f, i) => {
    const needs = f.split("-")[0];
    if (needs !== s.scheduler)
      issue(["schedulerFlags", i], `${f} applies only to scheduler ${needs}, got scheduler ${JSON.stringify(s.scheduler)}`);
  });
  if (s.onePacket && s.fwmark === undefined && s.protocol !== "udp")
    issue(
      ["onePacket"],
      `applies to UDP only (and firewall-mark services, for their UDP packets), got protocol ${JSON.stringify(s.protocol)}`,
    );
  const family = s.family ?? (s.address ? familyOf(s.address) : undefined);
  const mask = s.persistence?.netmask;
  if (mask && family === "ipv6" && mask.includes("."))
    issue(["persistence", "netmask"], `must be a prefix length 1-128 for an IPv6 service, got ${JSON.stringify(mask)}`);
  if (mask && family === "ipv4" && !mask.includes("."))
    issue(["persistence", "netmask"], `must be a netmask such as 255.255.255.0 for an IPv4 service, got ${JSON.stringify(mask)}`);
}
export const VirtualService = z
  .object(virtualServiceFields)
  .superRefine((s, ctx) => {
    checkServiceKey(s, ctx);
    checkService(s, ctx);
  })
  .transform(normalizeKey);
export type VirtualService = z.infer<typeof VirtualService>;

/** A connection threshold: 0 and unset both mean none, and read back as unset. */
const threshold = (what: string) =>
  intIn(0, 2147483647, what)
    .transform((t) => t || undefined)
    .optional();

export const TUNNEL_TYPES = ["ipip", "gue", "gre"] as const;
/** A destination's port: 0 only for firewall-mark services (the packet's own port is kept). */
export const destPort = intIn(0, 65535, "port");
/** One real server (destination) of a virtual service, as ipvsadm -a / -e set it. */
export const Destination = z.object({
  address: ipAddress,
  port: destPort,
  forwarding: Forwarding.default("direct"),
  /** With forwarding tunnel: the encapsulation (ipvsadm --tun-type), ipip unless set; the backend's TunRealServerHost must match. */
  tunnelType: oneOf(TUNNEL_TYPES, "tunnelType").optional(),
  /** With tunnelType gue: the UDP port the backend receives GUE on (ipvsadm --tun-port). */
  tunnelPort: port.optional(),
  weight: intIn(0, 65535, "weight").default(1),
  /** Upper connection threshold (-x); 0 or unset means none. */
  upperThreshold: threshold("upperThreshold"),
  /** Lower connection threshold (-y); 0 or unset means none. */
  lowerThreshold: threshold("lowerThreshold"),
});
export type Destination = z.infer<typeof Destination>;

/** Connection counters of one destination, from ipvsadm -L -n. */
export interface DestinationCounters {
  activeConn: number;
  inactConn: number;
}

/** A destination's fields as declared, before its port is filled in from its service's. */
export type DestFields = Omit<Destination, "port"> & { port?: number };
/**
 * Checks what a destination's fields mean together and with its service's (a RealServer's, or a
 * backend given inline on a VirtualService); `issue` names the field under the caller's path.
 */
export function checkDest(a: DestFields, service: KeyFields, issue: (path: (string | number)[], message: string) => void): void {
  const fwmark = service.fwmark !== undefined;
  const family = service.family ?? (service.address ? familyOf(service.address) : "ipv4");
  if (familyOf(a.address) !== family && a.forwarding !== "tunnel")
    issue(
      ["address"],
      `must be an ${family} address like its service (only forwarding tunnel mixes families), got ${JSON.stringify(a.address)}`,
    );
  if (a.tunnelType && a.forwarding !== "tunnel")
    issue(["tunnelType"], `applies only to forwarding "tunnel", got forwarding ${JSON.stringify(a.forwarding)}`);
  if (a.tunnelType === "gue" && a.tunnelPort === undefined) issue(["tunnelPort"], `is required with tunnelType "gue"`);
  if (a.tunnelPort !== undefined && a.tunnelType !== "gue")
    issue(["tunnelPort"], `applies only to tunnelType "gue", got ${JSON.stringify(a.tunnelType ?? "ipip")}`);
  if (a.port === 0 && !fwmark) issue(["port"], "must be between 1 and 65535, got 0 (port 0 is for fwmark services only)");
  if (fwmark && a.port && a.forwarding !== "masquerade")
    issue(
      ["port"],
      `must be 0 or unset for a fwmark service with forwarding ${JSON.stringify(a.forwarding)} (the packet keeps its port), got ${a.port}`,
    );
  if (a.address === service.address) issue(["address"], `must differ from the service's VIP, got ${JSON.stringify(a.address)} for both`);
  if (!fwmark && a.port !== undefined && a.port !== service.port && a.forwarding !== "masquerade")
    issue(
      ["port"],
      `must equal the service port ${service.port} with forwarding ${JSON.stringify(a.forwarding)} (only masquerade can map ports), got ${a.port}`,
    );
  if (a.lowerThreshold && !a.upperThreshold)
    issue(
      ["lowerThreshold"],
      `needs upperThreshold (ipvsadm ignores a lower threshold without an upper one), got ${a.lowerThreshold} alone`,
    );
  if (a.upperThreshold && a.lowerThreshold && a.lowerThreshold > a.upperThreshold)
    issue(["lowerThreshold"], `must not exceed upperThreshold ${a.upperThreshold}, got ${a.lowerThreshold}`);
}
/** A checked destination made whole: its port from its service's, ipip (the default) as unset, as ipvsadm's listing reads back. */
export function completeDest<T extends DestFields>(d: T, service: KeyFields) {
  const { tunnelType, ...rest } = d;
  // Never a key set to undefined: Pulumi's wire format refuses it.
  return { ...rest, port: d.port ?? service.port ?? 0, ...(tunnelType && tunnelType !== "ipip" ? { tunnelType } : {}) };
}

/** IPVS connection timeouts (ipvsadm --set), seconds; unset ones are left as they are. Restored on delete. */
export const IpvsTimeouts = z
  .object({
    tcp: intIn(1, 2147483, "ipvsTimeouts.tcp").optional(),
    tcpFin: intIn(1, 2147483, "ipvsTimeouts.tcpFin").optional(),
    udp: intIn(1, 2147483, "ipvsTimeouts.udp").optional(),
  })
  .refine((t) => t.tcp !== undefined || t.tcpFin !== undefined || t.udp !== undefined, {
    error: "must set at least one of tcp, tcpFin, udp (or leave ipvsTimeouts unset)",
  });
export type IpvsTimeouts = z.infer<typeof IpvsTimeouts>;
/** IPVS connection timeouts of a kernel nobody set them on (what `ipvsadm -L --timeout` shows on a fresh host). */
export const KERNEL_TIMEOUTS = { tcp: 900, tcpFin: 120, udp: 300 } as const;

/**
 * "tcp/198.51.100.100:80", "tcp/[2001:db8::1]:80", "fwmark/1" (IPv4) or "fwmark6/1": how ipvsadm
 * and our ids name a service.
 */
export const serviceKeyString = (k: Pick<ServiceKey, "address" | "port" | "protocol" | "fwmark" | "family">): string =>
  k.fwmark !== undefined ? `${k.family === "ipv6" ? "fwmark6" : "fwmark"}/${k.fwmark}` : `${k.protocol}/${hostPort(k.address!, k.port!)}`;
