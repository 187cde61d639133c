// The host's ledger: for every object pulumi-lvs touches on a host (an address, a sysctl,
// an IPVS service or destination) what was there before the first holder, and who holds it
// with what value. It lives on the host (/var/lib/pulumi-lvs/ledger.json), so every stack and
// every resource that shares the host shares it; it is read and written only under the host
// lock. The live state pulumi-lvs wants is a pure function of it (desiredOf).
import { z } from "zod";
import {
  Destination,
  Family,
  HealthCheck,
  IpvsTimeouts,
  MarkMatch,
  ServiceKey,
  SorryServer,
  VirtualService,
  Vrrp,
  serviceKeyString,
} from "./model";

/** One address as `ip addr` holds it: address/prefix on a device. */
export interface AddrValue {
  address: string;
  prefix: number;
  dev: string;
}
export interface DestValue {
  service: ServiceKey;
  dest: Destination;
  /** Overrides the service's health check for this destination. */
  healthCheck?: HealthCheck;
}
/** A service; with a health check it is run by keepalived (a virtual_server block), not by ipvsadm. */
export type ServiceValue = VirtualService & { healthCheck?: HealthCheck; sorryServer?: z.infer<typeof SorryServer> };
/** A VRRP instance carrying VIPs on a device (a vrrp_instance block). */
export type VrrpValue = Omit<Vrrp, "syncDaemon"> & { dev: string; vips: string[] };
/** An IPVS connection sync daemon (ipvsadm --start-daemon), master or backup. */
export interface SyncValue {
  dev: string;
  syncId: number;
}
/** keepalived as found before the first holder: what destroy puts back. */
export interface KeepalivedState {
  installed: boolean;
  enabled: boolean;
  active: boolean;
  /** keepalived.conf: absent, or present and whether it ended with a newline (the include line goes after it). */
  conf: "absent" | "newline" | "no-newline";
}

/** A link brought up (a tunnel device such as tunl0), with the module that creates it. */
export interface LinkWhere {
  dev: string;
  module: string;
}
/** A route through a gateway (NAT backends reach their clients through the director). */
export interface RouteWhere {
  network: string;
  family: Family;
}
/** nftables rules that mark packets for a firewall-mark service (rendered into our own table). */
export interface MarkValue {
  fwmark: number;
  family: Family;
  match: MarkMatch[];
}

/** What each kind of object holds as its value. Addresses hold presence, so their value is `true`. */
export interface Values {
  addr: true;
  sysctl: number;
  service: ServiceValue;
  dest: DestValue;
  vrrp: VrrpValue;
  syncd: SyncValue;
  /** keepalived in use (installed, enabled, our include line): held by everything that needs it. */
  keepalived: true;
  /** IPVS timeouts (ipvsadm --set); the original has all three. */
  timeouts: IpvsTimeouts;
  /** A link up (true) or down (false, as an original). */
  link: boolean;
  /** A GUE receive port (ip fou). */
  fou: true;
  /** A route's gateway. */
  route: string;
  /** Packets nftables marks for a firewall-mark service. */
  mark: MarkValue;
}
export type ObjectKind = keyof Values;

const Holder = z.object({
  value: z.unknown(),
  persist: z.boolean(),
  /** When it first held the object (ISO 8601, as the provider's clock had it); absent in ledgers of 0.2. */
  since: z.string().optional(),
});
const Entry = z.object({
  kind: z.enum(["addr", "sysctl", "service", "dest", "vrrp", "syncd", "keepalived", "timeouts", "link", "fou", "route", "mark"]),
  /** Where the object is; for addresses and destinations the parts of the key. */
  where: z.unknown().optional(),
  /** The value before the first holder; null when the object did not exist. */
  original: z.unknown().nullable(),
  /** Owner (a resource URN) -> the value it wants and whether it persists across reboots. */
  holders: z.record(z.string(), Holder),
  /** A destination whose last holder is draining it: weight 0 until it is removed. */
  draining: z.boolean().optional(),
});
export const Ledger = z.object({ version: z.literal(1), entries: z.record(z.string(), Entry) });
export type Entry = z.infer<typeof Entry>;
export type Ledger = z.infer<typeof Ledger>;

export const emptyLedger = (): Ledger => ({ version: 1, entries: {} });

/** Parses a ledger read from the host; an absent file is an empty ledger. */
export function parseLedger(text: string, what: string): Ledger {
  if (!text.trim()) return emptyLedger();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON (${(e as Error).message}); it was left as it is`);
  }
  const r = Ledger.safeParse(raw);
  if (!r.success) throw new Error(`${what} is not a ledger this pulumi-lvs understands: ${r.error.issues[0]?.message}`);
  return r.data;
}

// --- keys: one string per object, stable across releases (they are stored on hosts) ---

export const keys = {
  addr: (a: AddrValue) => `addr ${a.address}/${a.prefix} ${a.dev}`,
  sysctl: (name: string) => `sysctl ${name}`,
  service: (k: ServiceKey) => `service ${serviceKeyString(k)}`,
  dest: (k: ServiceKey, d: Pick<Destination, "address" | "port">) => `dest ${serviceKeyString(k)} ${d.address}:${d.port}`,
  vrrp: (dev: string, routerId: number) => `vrrp ${dev} ${routerId}`,
  syncd: (mode: "master" | "backup") => `syncd ${mode}`,
  keepalived: () => "keepalived",
  timeouts: () => "timeouts",
  link: (dev: string) => `link ${dev}`,
  fou: (port: number) => `fou ${port}`,
  route: (r: RouteWhere) => `route ${r.network} ${r.family}`,
  mark: (k: Pick<ServiceKey, "fwmark" | "family">) => `mark ${serviceKeyString({ ...k, protocol: "tcp" })}`,
};

/** A service entry's value run by keepalived (it has a health check). */
export const byKeepalived = (e: Entry | undefined): boolean =>
  !!e && e.kind === "service" && !!(desiredValue(e) as ServiceValue | undefined)?.healthCheck;
const desiredValue = (e: Entry): unknown => {
  const d = desiredOf(e);
  return d.present ? d.value : undefined;
};

/** JSON with sorted keys, so equal values compare equal whatever order they were built in. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}
export const sameValue = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

/** What the host should have for an entry: the holders' value, else what was there before. */
export function desiredOf(e: Entry): { present: false } | { present: true; value: unknown } {
  const held = Object.values(e.holders);
  if (held.length) return { present: true, value: held[0].value };
  return e.original === null ? { present: false } : { present: true, value: e.original };
}

/**
 * The value an entry should have live: desiredOf's, except that a draining destination is at
 * weight 0 (in the kernel, the boot rules and keepalived's files alike). Undefined: absent.
 */
export function liveTarget(e: Entry): unknown {
  const want = desiredOf(e);
  if (!want.present) return undefined;
  if (e.kind !== "dest" || !e.draining) return want.value;
  const d = want.value as DestValue;
  return { ...d, dest: { ...d.dest, weight: 0 } };
}

/** Whether any holder wants the object restored at boot. */
export const persisted = (e: Entry): boolean => Object.values(e.holders).some((h) => h.persist);

/** Every key `owner` holds. */
export const heldBy = (l: Ledger, owner: string): string[] => Object.keys(l.entries).filter((k) => owner in l.entries[k].holders);

export const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
