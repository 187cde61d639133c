// keepalived: VRRP for directors, health checks for services (rendered by remote/keepalived.ts).
import { z } from "zod";
import { intIn, ipAddress, oneOf, port, unicastIpv4 } from "./primitives";

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
export const installKeepalived = z.boolean().default(true);
