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
const unicastIpv4 = ipv4.superRefine((a, ctx) => {
  const n = ipv4Number(a);
  const hit = NOT_UNICAST.find(([, net, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(net / 2 ** (32 - bits)));
  if (hit) ctx.addIssue({ code: "custom", message: `must be a unicast address, got ${JSON.stringify(a)} (${hit[0]})` });
});
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
/** Connection fields that are secrets: never logged, stored only encrypted. */
export const SECRET_CONNECTION_FIELDS = ["password", "privateKey", "privateKeyPassword"] as const;

// --- IPVS ---

export const PROTOCOLS = ["tcp", "udp"] as const;
/** Every scheduler the kernel's IPVS offers (ipvsadm(8)). */
export const SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"] as const;
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
export const Persistence = z.object({
  /** Seconds a client sticks to the same real server. */
  timeout: intIn(1, 2678400, "persistence.timeout"),
  /** Clients in the same network (this mask) share one real server; ipvsadm's default (255.255.255.255) reads as unset. */
  netmask: netmask.transform((m) => (m === "255.255.255.255" ? undefined : m)).optional(),
});
export type Persistence = z.infer<typeof Persistence>;

/** What identifies an IPVS virtual service on one director. */
export const ServiceKey = z.object({ address: unicastIpv4, port, protocol: Protocol.default("tcp") });
export type ServiceKey = z.infer<typeof ServiceKey>;

/** One IPVS virtual service, as ipvsadm -A / -E set it. */
export const VirtualService = ServiceKey.extend({
  scheduler: Scheduler.default("wlc"),
  persistence: Persistence.optional(),
});
export type VirtualService = z.infer<typeof VirtualService>;

/** A connection threshold: 0 and unset both mean none, and read back as unset. */
const threshold = (what: string) =>
  intIn(0, 2147483647, what)
    .transform((t) => t || undefined)
    .optional();

/** One real server (destination) of a virtual service, as ipvsadm -a / -e set it. */
export const Destination = z.object({
  address: unicastIpv4,
  port,
  forwarding: Forwarding.default("direct"),
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
export const SorryServer = z.object({ address: unicastIpv4, port });

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
  .array(unicastIpv4)
  .min(1, { error: "must list at least one VIP" })
  .refine((l) => new Set(l).size === l.length, { error: (i) => `must not repeat a VIP, got ${JSON.stringify(i.input)}` });

/** Reboot persistence (on by default): the object is also written to files restored at boot. */
const persist = z.boolean().default(true);
/**
 * The resource's URN, set by the resource classes (pulumi.createUrn): what the host's ledger
 * records as the holder of everything this resource claims. Kept from create on, never diffed.
 */
const owner = z.string().min(1).optional();
/** Seconds to wait for active connections to end after setting weight 0, before removal; 0 removes at once. */
const drainTimeout = intIn(0, 86400, "drainTimeout").default(30);

export const VirtualServiceArgs = VirtualService.extend({
  connection: Connection,
  persist,
  owner,
  /** Run this service through keepalived, which checks every backend and takes dead ones out. */
  healthCheck: HealthCheck.optional(),
  sorryServer: SorryServer.optional(),
  installKeepalived,
}).superRefine((a, ctx) => {
  if (a.sorryServer && !a.healthCheck)
    ctx.addIssue({ code: "custom", path: ["sorryServer"], message: "needs healthCheck (keepalived runs the sorry server)" });
  if (a.sorryServer && a.sorryServer.port !== a.port)
    ctx.addIssue({
      code: "custom",
      path: ["sorryServer", "port"],
      message: `must equal the service port ${a.port} (direct routing cannot map ports), got ${a.sorryServer.port}`,
    });
});
export type VirtualServiceArgs = z.infer<typeof VirtualServiceArgs>;

export const RealServerArgs = z
  .object({
    connection: Connection,
    /** The virtual service this real server belongs to. */
    service: ServiceKey,
    address: unicastIpv4,
    /** Defaults to the service's port; must equal it for direct routing and tunnelling. */
    port: port.optional(),
    forwarding: Forwarding.default("direct"),
    weight: intIn(0, 65535, "weight").default(1),
    upperThreshold: threshold("upperThreshold"),
    lowerThreshold: threshold("lowerThreshold"),
    drainTimeout,
    persist,
    owner,
    /** Overrides the service's health check for this backend (the service must have one). */
    healthCheck: HealthCheck.optional(),
  })
  .superRefine((a, ctx) => {
    if (a.address === a.service.address) {
      ctx.addIssue({
        code: "custom",
        path: ["address"],
        message: `must differ from the service's VIP, got ${JSON.stringify(a.address)} for both`,
      });
    }
    if (a.port !== undefined && a.port !== a.service.port && a.forwarding !== "masquerade") {
      ctx.addIssue({
        code: "custom",
        path: ["port"],
        message: `must equal the service port ${a.service.port} with forwarding ${JSON.stringify(a.forwarding)} (only masquerade can map ports), got ${a.port}`,
      });
    }
    if (a.lowerThreshold && !a.upperThreshold) {
      ctx.addIssue({
        code: "custom",
        path: ["lowerThreshold"],
        message: `needs upperThreshold (ipvsadm ignores a lower threshold without an upper one), got ${a.lowerThreshold} alone`,
      });
    }
    if (a.upperThreshold && a.lowerThreshold && a.lowerThreshold > a.upperThreshold) {
      ctx.addIssue({
        code: "custom",
        path: ["lowerThreshold"],
        message: `must not exceed upperThreshold ${a.upperThreshold}, got ${a.lowerThreshold}`,
      });
    }
  })
  .transform((a) => ({ ...a, port: a.port ?? a.service.port }));
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
    installKeepalived,
    persist,
    owner,
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
});
export type DrRealServerHostArgs = z.infer<typeof DrRealServerHostArgs>;

/** The whole seed topology in one object: what LvsDrCluster and the root program take. */
export const ClusterBackend = z.object({
  connection: Connection,
  address: unicastIpv4,
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
  vip: unicastIpv4,
  port,
  protocol: Protocol.default("tcp"),
  scheduler: Scheduler.default("rr"),
  persistence: Persistence.optional(),
  interface: interfaceName.optional(),
  backends: z.array(ClusterBackend).min(1, { error: "must list at least one backend" }),
  /** Reboot persistence for every resource of the cluster. */
  persist,
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

/** "tcp/198.51.100.100:80": how ipvsadm and our ids name a service. */
export const serviceKeyString = (k: ServiceKey): string => `${k.protocol}/${k.address}:${k.port}`;

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
export const VirtualServiceOutputs = z.object({
  /** True when an identical service was already there: it is left in place on delete. */
  adopted: z.boolean(),
  drift,
});
export const RealServerOutputs = z.object({
  /** True when an identical destination was already there: it is left in place on delete. */
  adopted: z.boolean(),
  /** Connection counters at the last create, update or refresh. */
  activeConnections: z.number().int().optional(),
  inactiveConnections: z.number().int().optional(),
  /** On a health-checked service: "up", or "down" when keepalived took the backend out (or to weight 0). */
  health: z.enum(["up", "down"]).optional(),
});
