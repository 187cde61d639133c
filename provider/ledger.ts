// The host's ledger: for every object pulumi-lvs touches on a host (an address, a sysctl,
// an IPVS service or destination) what was there before the first holder, and who holds it
// with what value. It lives on the host (/var/lib/pulumi-lvs/ledger.json), so every stack and
// every resource that shares the host shares it; it is read and written only under the host
// lock. The live state pulumi-lvs wants is a pure function of it (desiredOf).
import { z } from "zod";
import {
  Destination,
  FAMILIES,
  HealthCheck,
  IpvsTimeouts,
  MarkMatch,
  ServiceKey,
  SorryServer,
  VirtualService,
  Vrrp,
  serviceKeyString,
} from "./model";

// --- what an entry stores, by kind ---
// The values are the model's objects, each field checked as the model checks it but without the
// model's cross-field checks: every value passed them when it was declared, and an original is
// whatever the host had. A ledger is checked against these schemas and kept as read (asRead):
// nothing is filled in, normalised, reordered or dropped, not even what a later release added,
// so a ledger read and written back loses nothing and the boot files (sorted by the entries'
// JSON) come out the same.

/** A model object's fields without its cross-field checks. */
const fields = <S extends z.ZodRawShape>(o: { shape: S }) => z.object(o.shape);
const Family = z.enum(FAMILIES);

/** One address as `ip addr` holds it: address/prefix on a device. */
const AddrValue = z.object({ address: z.string(), prefix: z.number(), dev: z.string() });
/** A service; with a health check it is run by keepalived (a virtual_server block), not by ipvsadm. */
const ServiceValue = fields(VirtualService.in).extend({
  healthCheck: fields(HealthCheck.in).optional(),
  sorryServer: SorryServer.optional(),
});
/** A service as found on the host: also what ipvsadm showed that the model does not have (--pe). */
const LiveServiceValue = ServiceValue.extend({ extra: z.array(z.string()).optional() });
/** A destination (real server) of a service. */
const DestValue = z.object({
  service: fields(ServiceKey.in),
  dest: Destination,
  /** Overrides the service's health check for this destination. */
  healthCheck: fields(HealthCheck.in).optional(),
});
/** A VRRP instance carrying VIPs on a device (a vrrp_instance block). */
const VrrpValue = Vrrp.omit({ syncDaemon: true }).extend({ dev: z.string(), vips: z.array(z.string()) });
/** An IPVS connection sync daemon (ipvsadm --start-daemon), master or backup. */
const SyncValue = z.object({ dev: z.string(), syncId: z.number() });
/** keepalived as found before the first holder: what destroy puts back. */
const KeepalivedState = z.object({
  installed: z.boolean(),
  enabled: z.boolean(),
  active: z.boolean(),
  /** keepalived.conf: absent, or present and whether it ended with a newline (the include line goes after it). */
  conf: z.enum(["absent", "newline", "no-newline"]),
});
/** IPVS timeouts as the kernel has them: all three, whatever they are. */
const LiveTimeouts = z.object({ tcp: z.number(), tcpFin: z.number(), udp: z.number() });
/** A link brought up (a tunnel device such as tunl0), with the module that creates it. */
const LinkWhere = z.object({ dev: z.string(), module: z.string() });
/** A route through a gateway (NAT backends reach their clients through the director). */
const RouteWhere = z.object({ network: z.string(), family: Family });
/** nftables rules that mark packets for a firewall-mark service (rendered into our own table). */
const MarkValue = z.object({ fwmark: z.number(), family: Family, match: z.array(MarkMatch) });

export type AddrValue = z.infer<typeof AddrValue>;
export type ServiceValue = z.infer<typeof ServiceValue>;
export type LiveServiceValue = z.infer<typeof LiveServiceValue>;
export type DestValue = z.infer<typeof DestValue>;
export type VrrpValue = z.infer<typeof VrrpValue>;
export type SyncValue = z.infer<typeof SyncValue>;
export type KeepalivedState = z.infer<typeof KeepalivedState>;
export type LinkWhere = z.infer<typeof LinkWhere>;
export type RouteWhere = z.infer<typeof RouteWhere>;
export type MarkValue = z.infer<typeof MarkValue>;

/** A holder's hold: the value it wants and whether it persists across reboots. */
const holder = <V extends z.ZodType>(value: V) =>
  z.object({
    value,
    persist: z.boolean(),
    /** When it first held the object (ISO 8601, as the provider's clock had it); absent in ledgers of 0.2. */
    since: z.string().optional(),
  });
/**
 * The entry of one kind of object: where the object is (what its key is made of), the value before
 * the first holder (null when the object did not exist), and its holders by owner (a resource URN).
 */
const entry = <K extends string, W extends z.ZodType, V extends z.ZodType, O extends z.ZodType>(kind: K, where: W, value: V, original: O) =>
  z.object({
    kind: z.literal(kind),
    where,
    original: original.nullable(),
    holders: z.record(z.string(), holder(value)),
    /** A destination whose last holder is draining it: weight 0 until it is removed. */
    draining: z.boolean().optional(),
    /**
     * The object was on the host before the first holder (adopted): "keep", the original is what
     * was found, put back when the last holder lets go; "own", a holder declared `adopt: "own"`,
     * so the original is what pulumi-lvs leaves of its own objects (null: removed, or the kernel's
     * default) and what was found is forgotten. Absent: nothing was found, or the entry comes
     * from a release before 0.3 (or its state), where a non-null original tells that something was.
     */
    adopted: z.enum(["keep", "own"]).optional(),
  });

const Entry = z.discriminatedUnion("kind", [
  // Addresses, GUE ports (where: the port) and keepalived hold presence: their value is `true`.
  entry("addr", AddrValue, z.literal(true), z.literal(true)),
  entry("sysctl", z.string(), z.number(), z.number()),
  // Services, destinations and VRRP instances are where their whole declared value is.
  entry("service", ServiceValue, ServiceValue, LiveServiceValue),
  entry("dest", DestValue, DestValue, DestValue),
  // Nothing of a VRRP instance (a block of our keepalived files) exists before we write it.
  entry("vrrp", VrrpValue, VrrpValue, VrrpValue),
  entry("syncd", z.enum(["master", "backup"]), SyncValue, SyncValue),
  // keepalived in use (installed, enabled, our include line), held by everything that needs it.
  entry("keepalived", z.null(), z.literal(true), KeepalivedState),
  // IPVS timeouts (ipvsadm --set): unset ones are left as they are; the original has all three.
  entry("timeouts", z.literal("ipvs"), fields(IpvsTimeouts), LiveTimeouts),
  // A link up (true), or down (false, as an original).
  entry("link", LinkWhere, z.boolean(), z.boolean()),
  entry("fou", z.number(), z.literal(true), z.literal(true)),
  // A route's gateway.
  entry("route", RouteWhere, z.string(), z.string()),
  // Packets nftables marks for a firewall-mark service: rules of our own table, none before we write them.
  entry("mark", MarkValue.pick({ fwmark: true, family: true }), MarkValue, MarkValue),
]);

/**
 * Checks a value against `schema` but keeps it as it is: the schema's output (defaults filled in,
 * transforms applied) is not used. Its type is that output's, which is what pulumi-lvs writes.
 */
const asRead = <S extends z.ZodType>(schema: S) =>
  z.custom<z.output<S>>().superRefine((v, ctx) => {
    const r = schema.safeParse(v);
    if (!r.success) for (const { message, path } of r.error.issues) ctx.addIssue({ code: "custom", message, path });
  });
export const Ledger = asRead(z.object({ version: z.literal(1), entries: z.record(z.string(), Entry) }));
/** Every kind of object the ledger knows, from its schema. */
export const OBJECT_KINDS = Entry.options.map((o) => o.shape.kind.value);
export type Entry = z.infer<typeof Entry>;
export type Ledger = z.infer<typeof Ledger>;
export type ObjectKind = Entry["kind"];
/** The entry of one kind. */
export type EntryOf<K extends ObjectKind> = Extract<Entry, { kind: K }>;
/** Where an object of a kind is: what its key is made of. */
export type Where<K extends ObjectKind> = EntryOf<K>["where"];
/** What each kind of object holds as its value. */
export type Values = { [K in ObjectKind]: EntryOf<K>["holders"][string]["value"] };
/** What was there before the first holder (when something was). */
export type Original<K extends ObjectKind> = NonNullable<EntryOf<K>["original"]>;
/** What the host should have: a holder's value or the original. */
export type Desired<K extends ObjectKind> = Values[K] | Original<K>;
/** One object, one member per kind: its kind and where it is. */
export type Place = { [K in ObjectKind]: { kind: K; where: Where<K> } }[ObjectKind];
/** A hold of one object, one member per kind: where it is and the value wanted. */
export type Hold = { [K in ObjectKind]: { kind: K; where: Where<K>; value: Values[K] } }[ObjectKind];

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
  if (r.success) return r.data;
  const [issue] = r.error.issues;
  throw new Error(`${what} is not a ledger this pulumi-lvs understands: ${at(issue.path)}${issue.message}`);
}
/** Where in a ledger an issue is: the entry (by its key) and the field in it. */
function at(path: PropertyKey[]): string {
  const [top, key, ...inside] = path.map(String);
  if (top !== "entries" || key === undefined) return path.length ? `${path.map(String).join(".")}: ` : "";
  return `entry ${JSON.stringify(key)}${inside.length ? `, at ${inside.join(".")}` : ""}: `;
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

/** A service entry whose value is run by keepalived (it has a health check). */
export const byKeepalived = (e: Entry | undefined): e is EntryOf<"service"> =>
  !!e && e.kind === "service" && !!desiredValue(e)?.healthCheck;

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
/**
 * Equal as canonical JSON. The same JSON text (the same keys in the same order) is equal without
 * sorting: a value copied from another keeps its order, so that settles most comparisons natively.
 */
export const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || JSON.stringify(a) === JSON.stringify(b) || canonical(a) === canonical(b);
/** Whether two ledgers hold the same entries: entry by entry, so a few changed ones cost a few canonical forms, not the whole ledger's. */
export function sameLedger(a: Ledger, b: Ledger): boolean {
  const keys = Object.keys(a.entries);
  return (
    a.version === b.version && keys.length === Object.keys(b.entries).length && keys.every((k) => sameValue(a.entries[k], b.entries[k]))
  );
}

/** What the host should have for an entry: the holders' value, else what was there before. */
export function desiredOf<E extends Entry>(e: E): { present: false } | { present: true; value: Desired<E["kind"]> };
export function desiredOf(e: Entry): { present: false } | { present: true; value: Desired<ObjectKind> } {
  const held = Object.values(e.holders);
  if (held.length) return { present: true, value: held[0].value };
  return e.original === null ? { present: false } : { present: true, value: e.original };
}
/** desiredOf's value; undefined when the object should be absent. */
export const desiredValue = <E extends Entry>(e: E): Desired<E["kind"]> | undefined => {
  const d = desiredOf(e);
  return d.present ? d.value : undefined;
};

/**
 * The value an entry should have live: desiredOf's, except that a draining destination is at
 * weight 0 (in the kernel, the boot rules and keepalived's files alike). Undefined: absent.
 */
export function liveTarget<E extends Entry>(e: E): Desired<E["kind"]> | undefined;
export function liveTarget(e: Entry): Desired<ObjectKind> | undefined {
  if (e.kind !== "dest" || !e.draining) return desiredValue(e);
  const d = desiredValue(e);
  return d && { ...d, dest: { ...d.dest, weight: 0 } };
}

/** Whether an entry's object was on the host before its first holder, adopted with keep or own. */
export const adopted = (e: Entry): boolean => e.adopted !== undefined || e.original !== null;

/** Whether any holder wants the object restored at boot. */
export const persisted = (e: Entry): boolean => Object.values(e.holders).some((h) => h.persist);

/** Every key `owner` holds. */
export const heldBy = (l: Ledger, owner: string): string[] => Object.keys(l.entries).filter((k) => owner in l.entries[k].holders);

export const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
