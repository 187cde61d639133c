// The one domain model of pulumi-lvs: IPVS services, real servers and the host
// network settings of directors and backends, as zod schemas. Every TypeScript
// type of these objects is derived from here (z.infer); validation messages name
// the field and the offending value, and run before anything connects to a host.
import { z } from "zod";

/** Schema version written into every resource's outputs so later releases can read older state. */
export const STATE_VERSION = 2;

const ipv4 = z.ipv4({ error: (i) => `must be an IPv4 address, got ${JSON.stringify(i.input)}` });
/** First octet and the value as a 32-bit number, for the special ranges below. */
const ipv4Number = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const NOT_UNICAST: [string, number, number][] = [
  ["the unspecified address", ipv4Number("0.0.0.0"), 8],
  ["a loopback address", ipv4Number("127.0.0.0"), 8],
  ["a multicast address", ipv4Number("224.0.0.0"), 4],
  ["a reserved or broadcast address", ipv4Number("240.0.0.0"), 4],
];
/** An address a VIP or a backend can have: unicast, not loopback, not 0.0.0.0/8. */
const unicastIpv4 = z.ipv4({ error: (i) => `must be an IPv4 or IPv6 address, got ${JSON.stringify(i.input)}` }).superRefine((a, ctx) => {
  const n = ipv4Number(a);
  const hit = NOT_UNICAST.find(([, net, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(net / 2 ** (32 - bits)));
  if (hit) ctx.addIssue({ code: "custom", message: `must be a unicast address, got ${JSON.stringify(a)} (${hit[0]})` });
});
/**
 * The canonical text of an IPv6 address (lower case, longest zero run as ::), as ipvsadm and
 * `ip` print it: so a VIP written "2001:DB8:0::1" is the same object as the kernel's "2001:db8::1".
 */
export const canonicalIpv6 = (a: string): string => new URL(`http://[${a}]/`).hostname.slice(1, -1);
const NOT_UNICAST_V6: [string, RegExp][] = [
  ["the unspecified address", /^::$/],
  ["the loopback address", /^::1$/],
  ["a multicast address", /^ff/],
  ["a link-local address", /^fe[89ab]/],
  ["an IPv4-mapped address", /^::ffff:/],
];
/** A unicast IPv6 address (not ::, ::1, multicast, link-local or IPv4-mapped), in canonical form. */
const unicastIpv6 = z
  .ipv6({ error: (i) => `must be an IPv4 or IPv6 address, got ${JSON.stringify(i.input)}` })
  .transform(canonicalIpv6)
  .superRefine((a, ctx) => {
    const hit = NOT_UNICAST_V6.find(([, re]) => re.test(a));
    if (hit) ctx.addIssue({ code: "custom", message: `must be a unicast address, got ${JSON.stringify(a)} (${hit[0]})` });
  });
/** A VIP or backend address: IPv4 or IPv6 (unicast). */
export const ipAddress = z
  .string({ error: (i) => `must be an IPv4 or IPv6 address, got ${JSON.stringify(i.input)}` })
  .transform((a, ctx) => {
    const r = (a.includes(":") ? unicastIpv6 : unicastIpv4).safeParse(a);
    if (r.success) return r.data;
    for (const i of r.error.issues) ctx.addIssue({ code: "custom", message: i.message });
    return z.NEVER;
  });
export type Family = "ipv4" | "ipv6";
export const familyOf = (address: string): Family => (address.includes(":") ? "ipv6" : "ipv4");
/** A VIP on an interface: a single address, /32 or /128. */
export const vipPrefix = (vip: string) => (familyOf(vip) === "ipv6" ? 128 : 32);

const intIn = (min: number, max: number, what: string) =>
  z
    .number({ error: (i) => `${what} must be a number, got ${JSON.stringify(i.input)}` })
    .int({ error: (i) => `${what} must be a whole number, got ${JSON.stringify(i.input)}` })
    .min(min, { error: (i) => `${what} must be between ${min} and ${max}, got ${JSON.stringify(i.input)}` })
    .max(max, { error: (i) => `${what} must be between ${min} and ${max}, got ${JSON.stringify(i.input)}` });
const oneOf = <T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, { error: (i) => `${what} must be one of ${values.join(", ")}; got ${JSON.stringify(i.input)}` });

export const port = intIn(1, 65535, "port");
/** Linux interface names: at most 15 characters, no slash, no white space. */
export const interfaceName = z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, {
  error: (i) => `must be a Linux interface name, got ${JSON.stringify(i.input)}`,
});
/** POSIX portable user names. */
const userName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, {
  error: (i) => `must be a user name, got ${JSON.stringify(i.input)}`,
});
/** A host name or IP address as ssh would accept it; never put into a shell. */
const hostName = z.string().regex(/^[A-Za-z0-9_.:[\]-]{1,253}$/, {
  error: (i) => `must be a host name or IP address, got ${JSON.stringify(i.input)}`,
});

/** A SHA256 fingerprint as ssh-keygen -l prints it, or a public key line: type, base64 blob, optional comment. */
const HOST_KEY =
  /^\s*(SHA256:[A-Za-z0-9+/]{43}=?|(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+AAAA[A-Za-z0-9+/]+={0,3}(\s+.*)?)\s*$/;

// --- SSH connection: the field names and defaults of @pulumi/command's remote.ConnectionArgs ---

const connectionFields = {
  host: hostName,
  port: port.default(22),
  user: userName.default("root"),
  password: z.string().optional(),
  privateKey: z.string().optional(),
  privateKeyPassword: z.string().optional(),
  agentSocketPath: z.string().optional(),
  /** Attempts at dialing before giving up; -1 means no limit. */
  dialErrorLimit: intIn(-1, 1000, "dialErrorLimit").default(10),
  /** Seconds per dial attempt; 0 means no limit. */
  perDialTimeout: intIn(0, 3600, "perDialTimeout").default(15),
  /**
   * Seconds an operation waits for the host lock (another run, or another resource of this
   * one, is writing to the host) before it fails naming the holder; default 120. Not pulumi-command's.
   */
  lockTimeout: intIn(1, 86400, "lockTimeout").optional(),
  /** Pinned host key: an OpenSSH public key line ("ssh-ed25519 AAAA...") or a "SHA256:..." fingerprint. */
  hostKey: z
    .string()
    .regex(HOST_KEY, {
      error: (i) =>
        `must be an OpenSSH public key ("ssh-ed25519 AAAA...") or a SHA256 fingerprint ("SHA256:..."), got ${JSON.stringify(i.input)}`,
    })
    .optional(),
  /** An OpenSSH known_hosts file (hashed entries included) to take the host key from; hostKey wins. */
  knownHostsPath: z.string().min(1).optional(),
};
export const ProxyConnection = z.object(connectionFields);
export const Connection = z.object({ ...connectionFields, proxy: ProxyConnection.optional() });
export type ProxyConnection = z.infer<typeof ProxyConnection>;
export type Connection = z.infer<typeof Connection>;
/** A default connection (the provider plugin's `lvs:connection`): any field, none required. */
export const DefaultConnection = Connection.partial();
export type DefaultConnection = z.infer<typeof DefaultConnection>;
/** Connection fields that are secrets: never logged, stored only encrypted. */
export const SECRET_CONNECTION_FIELDS = ["password", "privateKey", "privateKeyPassword"] as const;

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
const serviceKeyFields = {
  address: ipAddress.optional(),
  port: port.optional(),
  protocol: Protocol.default("tcp"),
  /** A firewall-mark service: every packet with this mark (1 to 2^32-1), whatever its address and port. */
  fwmark: intIn(1, 4294967295, "fwmark").optional(),
  /** The address family of a firewall-mark service (default ipv4); an address service takes its address's. */
  family: oneOf(FAMILIES, "family").optional(),
};
type KeyFields = { address?: string; port?: number; protocol: string; fwmark?: number; family?: Family };
/** Checks one of the two forms and fills in the family of a firewall-mark service. */
function checkServiceKey(k: KeyFields, ctx: z.RefinementCtx, at: (string | number)[] = []): void {
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
const normalizeKey = <T extends KeyFields>(k: T): T => {
  if (k.fwmark !== undefined) return { ...k, protocol: "tcp", family: k.family ?? "ipv4" };
  const { family: _, ...rest } = k;
  return rest as T;
};
export const ServiceKey = z
  .object(serviceKeyFields)
  .superRefine((k, ctx) => checkServiceKey(k, ctx))
  .transform(normalizeKey);
export type ServiceKey = z.infer<typeof ServiceKey>;
/** The address family of a service. */

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
const virtualServiceFields = {
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
function checkService(
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

/** One real server (destination) of a virtual service, as ipvsadm -a / -e set it. */
export const TUNNEL_TYPES = ["ipip", "gue", "gre"] as const;
/** A destination's port: 0 only for firewall-mark services (the packet's own port is kept). */
const destPort = intIn(0, 65535, "port");
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

// --- keepalived: VRRP for directors, health checks for services (rendered by remote/keepalived.ts) ---

export const CHECK_TYPES = ["tcp", "http", "https", "command"] as const;
export const HealthCheck = z
  .object({
    /** tcp: connect; http/https: GET `path`, expect `status`; command: run `command`, exit 0 = healthy. */
    type: oneOf(CHECK_TYPES, "healthCheck.type"),
    path: z
      .string()
      .regex(/^\/[\x21-\x7e]*$/, {
        error: (i) =>
          `must start with "/" and hold no spaces or control characters (a newline would end keepalived's line), got ${JSON.stringify(i.input)}`,
      })
      .refine((s) => !/["'#!{}\\]/.test(s), {
        error: (i) => `must not contain quotes, braces, backslashes, # or !, got ${JSON.stringify(i.input)}`,
      })
      .optional(),
    status: intIn(100, 599, "healthCheck.status").optional(),
    /** For type command: the command line keepalived runs (MISC_CHECK). */
    command: z
      .string()
      .regex(/^[^"\\\p{Cc}]{1,255}$/u, {
        error: (i) => `must be one line without double quotes or backslashes, got ${JSON.stringify(i.input)}`,
      })
      .optional(),
    /** Port to check; default: the real server's port. */
    port: port.optional(),
    /** Seconds between checks (keepalived delay_loop). */
    interval: intIn(1, 3600, "healthCheck.interval").default(5),
    /** Seconds a check may take (connect_timeout). */
    timeout: intIn(1, 600, "healthCheck.timeout").default(3),
    /** Failed checks in a row before a backend counts as down (keepalived retry). */
    retries: intIn(0, 100, "healthCheck.retries").default(1),
    /** remove: take the backend out of IPVS; weight0: keep it at weight 0 (inhibit_on_failure). */
    onFailure: oneOf(["remove", "weight0"] as const, "healthCheck.onFailure").default("remove"),
  })
  .superRefine((c, ctx) => {
    const web = c.type === "http" || c.type === "https";
    if (c.type === "command" && !c.command) ctx.addIssue({ code: "custom", path: ["command"], message: `is required with type "command"` });
    if (c.type !== "command" && c.command !== undefined)
      ctx.addIssue({ code: "custom", path: ["command"], message: `applies only to type "command", got type ${JSON.stringify(c.type)}` });
    for (const f of ["path", "status"] as const)
      if (!web && c[f] !== undefined)
        ctx.addIssue({ code: "custom", path: [f], message: `applies only to types http and https, got type ${JSON.stringify(c.type)}` });
  })
  .transform((c) => (c.type === "http" || c.type === "https" ? { ...c, path: c.path ?? "/", status: c.status ?? 200 } : c));
export type HealthCheck = z.infer<typeof HealthCheck>;

/** Where a health-checked service sends clients when every backend is down (keepalived sorry_server). */
export const SorryServer = z.object({ address: ipAddress, port });

/** A VRRP instance that carries a director's VIPs: the director with the highest priority holds them. */
export const Vrrp = z.object({
  /** 1-255, the same on every director of the pair, unique on the LAN. */
  virtualRouterId: intIn(1, 255, "vrrp.virtualRouterId"),
  /** 1-254: the highest live priority holds the VIPs. */
  priority: intIn(1, 254, "vrrp.priority"),
  /**
   * Take the VIPs back when this director returns with the highest priority. Off by default:
   * a director back from a reboot would take them before it re-learned the connections from the
   * sync daemon, and every connection established meanwhile would be reset.
   */
  preempt: z.boolean().default(false),
  /** With preempt: seconds after keepalived starts before this director takes the VIPs back. */
  preemptDelay: intIn(0, 1000, "vrrp.preemptDelay").default(0),
  /** Seconds between VRRP adverts; a standby takes over after about three missed ones. */
  advertInterval: intIn(1, 255, "vrrp.advertInterval").default(1),
  /** The other directors' addresses, for networks without multicast; unset = multicast. */
  unicastPeers: z.array(unicastIpv4).optional(),
  /** VRRP PASS authentication (at most 8 characters); stored as a secret. */
  authPass: z
    .string()
    .regex(/^[A-Za-z0-9_.,:;+=@%^&*()[\]<>?/~-]{1,8}$/, {
      error: "must be 1 to 8 letters, digits or punctuation without spaces, quotes, braces, # or ! (VRRP PASS); the value is not shown",
    })
    .optional(),
  /** Run the IPVS connection sync daemons (master and backup) so connections survive a failover. */
  syncDaemon: z.boolean().default(true),
});
export type Vrrp = z.infer<typeof Vrrp>;

/** Install keepalived (apt) when a feature needs it and it is missing; false: fail with a clear error instead. */
const installKeepalived = z.boolean().default(true);

// --- resource inputs ---

const vipList = z
  .array(ipAddress)
  .min(1, { error: "must list at least one VIP" })
  .refine((l) => new Set(l).size === l.length, { error: (i) => `must not repeat a VIP, got ${JSON.stringify(i.input)}` });

/** Reboot persistence (on by default): the object is also written to files restored at boot. */
const persist = z.boolean().default(true);
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
const adopt = oneOf(["keep", "own"] as const, "adopt").default("keep");
/** Seconds to wait for active connections to end after setting weight 0, before removal; 0 removes at once. */
const drainTimeout = intIn(0, 86400, "drainTimeout").default(30);

/** A destination's fields as declared, before its port is filled in from its service's. */
type DestFields = Omit<Destination, "port"> & { port?: number };
/**
 * Checks what a destination's fields mean together and with its service's (a RealServer's, or a
 * backend given inline on a VirtualService); `issue` names the field under the caller's path.
 */
function checkDest(a: DestFields, service: KeyFields, issue: (path: (string | number)[], message: string) => void): void {
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
function completeDest<T extends DestFields>(d: T, service: KeyFields) {
  const { tunnelType, ...rest } = d;
  // Never a key set to undefined: Pulumi's wire format refuses it.
  return { ...rest, port: d.port ?? service.port ?? 0, ...(tunnelType && tunnelType !== "ipip" ? { tunnelType } : {}) };
}

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

/** The whole seed topology in one object: what LvsDrCluster and the root program take. */
export const ClusterBackend = z.object({
  connection: Connection,
  address: ipAddress,
  weight: intIn(0, 65535, "weight").default(1),
  /** Stable name for the backend's resources; defaults to its address. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,63}$/, {
      error: (i) => `must be letters, digits, dots, dashes or underscores, got ${JSON.stringify(i.input)}`,
    })
    .optional(),
});
/** A standby director for LvsDrCluster: VRRP between the two, the same service and backends on both. */
export const ClusterHa = Vrrp.omit({ priority: true, unicastPeers: true }).extend({
  standby: Connection,
  primaryPriority: intIn(1, 254, "ha.primaryPriority").default(150),
  standbyPriority: intIn(1, 254, "ha.standbyPriority").default(100),
  /** The directors' LAN addresses, for VRRP over unicast (networks without multicast). */
  unicast: z.object({ primary: unicastIpv4, standby: unicastIpv4 }).optional(),
});
export const ClusterArgs = z.object({
  director: Connection,
  vip: ipAddress,
  port,
  protocol: Protocol.default("tcp"),
  scheduler: Scheduler.default("rr"),
  persistence: Persistence.optional(),
  schedulerFlags: virtualServiceFields.schedulerFlags,
  onePacket: virtualServiceFields.onePacket,
  /** How the director reaches the backends: direct routing (same LAN), tunnel (any network) or masquerade (NAT). */
  forwarding: Forwarding.default("direct"),
  tunnelType: oneOf(TUNNEL_TYPES, "tunnelType").default("ipip"),
  tunnelPort: port.optional(),
  /** With masquerade: the director's address on the backends' network, their gateway to the clients. */
  natGateway: ipAddress.optional(),
  /** With masquerade: the clients' networks, routed through the director on each backend. */
  natClients: NatRealServerHostArgs.shape.clients,
  interface: interfaceName.optional(),
  backends: z.array(ClusterBackend).min(1, { error: "must list at least one backend" }),
  /** Reboot persistence for every resource of the cluster. */
  persist,
  /** What every resource of the cluster does with what it finds already on the hosts (see the resources' adopt). */
  adopt,
  /** Seconds to drain a removed backend. */
  drainTimeout,
  /** Health-check the backends through keepalived (see VirtualService.healthCheck). */
  healthCheck: HealthCheck.optional(),
  sorryServer: SorryServer.optional(),
  /** A standby director that takes the VIP over (VRRP) and carries the same service and backends. */
  ha: ClusterHa.optional(),
  installKeepalived,
});
export type ClusterArgs = z.infer<typeof ClusterArgs>;

/** "198.51.100.100:80", "[2001:db8::1]:80": an address and port as ipvsadm writes them. */
export const hostPort = (address: string, port: number): string => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`);
/**
 * "tcp/198.51.100.100:80", "tcp/[2001:db8::1]:80", "fwmark/1" (IPv4) or "fwmark6/1": how ipvsadm
 * and our ids name a service.
 */
export const serviceKeyString = (k: Pick<ServiceKey, "address" | "port" | "protocol" | "fwmark" | "family">): string =>
  k.fwmark !== undefined ? `${k.family === "ipv6" ? "fwmark6" : "fwmark"}/${k.fwmark}` : `${k.protocol}/${hostPort(k.address!, k.port!)}`;

// --- outputs each kind adds to its inputs (runtime/kind.ts adds owner, host keys, stateVersion) ---

/** What refresh found changed behind pulumi-lvs's back that `up` repairs (e.g. a hand-edited keepalived file). */
const drift = z.array(z.string());
export const DirectorHostOutputs = z.object({
  interface: interfaceName,
  /** With vrrp: "master" when this director holds the VIPs, else "backup" (as of the last create, update or refresh). */
  vrrpState: z.enum(["master", "backup"]).optional(),
  drift,
});
export const DrRealServerHostOutputs = z.object({});
export const TunRealServerHostOutputs = z.object({});
export const NatRealServerHostOutputs = z.object({});
export const VirtualServiceOutputs = z.object({
  /** True when an identical service was already there (adopted): it is left in place on delete, unless adopt "own" took it over. */
  adopted: z.boolean(),
  drift,
});
export const RealServerOutputs = z.object({
  /** True when an identical destination was already there (adopted): it is left in place on delete, unless adopt "own" took it over. */
  adopted: z.boolean(),
  /** Connection counters at the last create, update or refresh. */
  activeConnections: z.number().int().optional(),
  inactiveConnections: z.number().int().optional(),
  /** On a health-checked service: "up", or "down" when keepalived took the backend out (or to weight 0). */
  health: z.enum(["up", "down"]).optional(),
});
