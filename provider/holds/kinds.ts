// Every kind of host object pulumi-lvs holds, one table entry each: how it is named in words,
// how it is read from what a transaction read (the host's "live" state), the commands that
// bring it to what its ledger entry wants, and its line in the boot files. The plan (plan.ts)
// decides who holds what and hands each object to its kind here; the ledger's schema
// (ledger.ts) is where each kind's values are typed; boot-files.ts gathers the boot lines and
// keepalived's files (remote/keepalived.ts) are rendered from the ledger. TypeScript demands
// an entry here for every kind of the ledger.
import { InterfaceAddress, IpvsTable, LiveDestination, LiveService } from "../remote/parsers";
import { Command, ipvs, net, rules } from "../remote/commands";
import { BootPart } from "../remote/boot";
import { IpvsTimeouts, KERNEL_TIMEOUTS, ServiceKey, serviceKeyString } from "../model";
import { KeepalivedLive } from "../remote/keepalived";
import {
  DestValue,
  Desired,
  Entry,
  EntryOf,
  Ledger,
  LiveServiceValue,
  ObjectKind,
  Original,
  ServiceValue,
  SyncValue,
  Where,
  byKeepalived,
  clone,
  desiredOf,
  desiredValue,
  keys,
  liveTarget,
  sameValue,
} from "../ledger";

/** What one transaction read from the host. */
export interface Snapshot {
  ledger: Ledger;
  /** A ledger written by a transaction that did not finish (its intent). */
  pending?: Ledger;
  addrs: InterfaceAddress[];
  sysctls: Record<string, number | undefined>;
  /** Undefined when the ip_vs module is not loaded. */
  ipvs?: IpvsTable;
  /** Interface routing to each address asked for. */
  routes: Record<string, string | undefined>;
  /** IPVS connection sync daemons running. */
  daemons: Partial<Record<"master" | "backup", SyncValue>>;
  /** keepalived's state, when it was read (the host has files of ours, or an operation needs it). */
  keepalived?: KeepalivedLive;
  /** sha256 of the boot files and of our keepalived files, by path. */
  files?: Record<string, string>;
  /** Link states (up or not) by device. */
  links?: Record<string, boolean>;
  /** Gateways of routes: "FAMILY NETWORK" -> gateway. */
  gateways?: Record<string, string>;
  /** GUE receive ports (ip fou). */
  fou?: number[];
  /** IPVS timeouts (when ip_vs is loaded). */
  timeouts?: Required<IpvsTimeouts>;
  /** Our nftables table: its hash now, and the one recorded when we last wrote it. */
  nft?: { live?: string; written?: string };
  /** Every network device (undefined: not read). */
  devices?: string[];
  /** When it was read (ISO 8601): a new holder records it as its `since`. */
  at?: string;
  /** The boot restore unit is in the failed state (when asked for). */
  restoreFailed?: boolean;
  /** What sends gratuitous ARP on this host (undefined: nothing found). */
  arping?: "arping" | "busybox";
  /** Whether the host has ipv6toolkit's na6 (unsolicited neighbour advertisements). */
  na6?: boolean;
}

/** A refusal that fails one operation, with nothing changed by it. */
export class ClaimError extends Error {
  /** Holders (owner URNs) in the way: the error names how to release them, should they be gone. */
  constructor(
    message: string,
    readonly holders: string[] = [],
  ) {
    super(message);
  }
}

/** The host's state as the plan's commands so far leave it: read from the snapshot, then kept up to date. */
export interface Live {
  addrs: InterfaceAddress[];
  sysctls: Record<string, number | undefined>;
  ipvs: IpvsTable;
  daemons: Partial<Record<"master" | "backup", SyncValue>>;
  timeouts?: Required<IpvsTimeouts>;
  links: Record<string, boolean>;
  gateways: Record<string, string>;
  fou: number[];
}

export function liveOf(snap: Snapshot): Live {
  return {
    addrs: clone(snap.addrs),
    sysctls: { ...snap.sysctls },
    ipvs: cloneTable(snap.ipvs ?? new Map()),
    daemons: { ...snap.daemons },
    timeouts: snap.timeouts && { ...snap.timeouts },
    links: { ...snap.links },
    gateways: { ...snap.gateways },
    fou: [...(snap.fou ?? [])],
  };
}
function cloneTable(t: IpvsTable): IpvsTable {
  // The destinations (most of a large table) by a shallow copy each: they hold no objects.
  return new Map(
    [...t].map(([k, s]) => [k, { ...clone({ ...s, destinations: [] }), destinations: s.destinations.map((d) => ({ ...d })) }]),
  );
}

type SvcKey = Pick<ServiceKey, "address" | "port" | "protocol" | "fwmark" | "family">;
/** Only the key fields of a service (values carry more). */
export const keyFields = (k: SvcKey): SvcKey => ({
  address: k.address,
  port: k.port,
  protocol: k.protocol,
  fwmark: k.fwmark,
  family: k.family,
});
export const liveServiceOf = (live: Live, k: SvcKey): LiveService | undefined => live.ipvs.get(serviceKeyString(k));
export const liveDestOf = (live: Live, d: Pick<DestValue, "service"> & { dest: { address: string; port: number } }) =>
  liveServiceOf(live, d.service)?.destinations.find((x) => x.address === d.dest.address && x.port === d.dest.port);

/** A service's key and scheduling as live and declared values are compared (no empty flags, no false one-packet). */
export const scheduling = (s: SvcKey & Pick<LiveServiceValue, "scheduler" | "persistence" | "schedulerFlags" | "onePacket">) => ({
  ...keyFields(s),
  scheduler: s.scheduler,
  persistence: s.persistence,
  schedulerFlags: s.schedulerFlags?.length ? s.schedulerFlags : undefined,
  onePacket: s.onePacket || undefined,
});
const serviceValue = (s: LiveService): LiveServiceValue => ({ ...scheduling(s), ...(s.extra.length ? { extra: s.extra } : {}) });
const destValue = (service: DestValue["service"], d: LiveDestination): DestValue => ({
  service: keyFields(service),
  dest: {
    address: d.address,
    port: d.port,
    forwarding: d.forwarding,
    tunnelType: d.tunnelType,
    tunnelPort: d.tunnelPort,
    weight: d.weight,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
  },
});
/** The part of a service or destination that is IPVS state (what ipvsadm shows); health checks live in keepalived. */
export const ipvsService = (s: ServiceValue): ServiceValue => ({ ...s, healthCheck: undefined, sorryServer: undefined });
export const ipvsDest = (d: DestValue): DestValue => ({ ...d, healthCheck: undefined });

/** What converging needs besides the live state: the ledgers, and keepalived's part. */
export interface KindContext {
  live: Live;
  snap: Snapshot;
  /** The ledger as the plan has it now. */
  ledger: Ledger;
  /** Whether our keepalived files have a block for `key`. */
  inKeepalivedFiles(key: string): boolean;
  /** A service keepalived runs is missing from the kernel: keepalived must be restarted. */
  restartKeepalived(): void;
  /** A health-checked destination keepalived set to weight 0 because its check fails. */
  downByCheck(entry: Entry, liveWeight: number): boolean;
}

/** One kind of object. Methods, so that a table of every kind types each entry by its own. */
export interface ObjectKindSpec<K extends ObjectKind> {
  /** How errors name an object of this kind, before its key ("real server "). */
  label: string;
  /**
   * Its place in a transaction's order, by `remove` when the object goes and by `keep` when it
   * stays or comes: removals from the top down (a destination before its service, a service
   * before the address it is on), then settings, then additions bottom up (a link before the
   * address on it, a service before its destinations).
   */
  rank: { remove: number; keep: number };
  /** A value in words, as errors and the ledger tool show it. */
  describe(v: Desired<K>): string;
  /** What the host has of the object at `where` (null: nothing), as its entry's original records it. */
  read(ctx: Pick<KindContext, "live" | "snap">, where: Where<K>): Original<K> | null;
  /**
   * What `adopt: "own"` records as the original of an object found on the host: for an object
   * that cannot be absent, the kernel's default; undefined when that is not known, so what was
   * found is kept. Unset: null, the object goes when the last holder lets go, like one
   * pulumi-lvs created.
   */
  owned?(where: Where<K>): Original<K> | undefined;
  /** The commands that make the live object what `entry` wants; `ctx.live` follows them. */
  converge(ctx: KindContext, key: string, entry: EntryOf<K>): Command[];
  /**
   * The line that brings the object back at boot, for an entry that is persisted and present
   * (undefined: something else brings it back, e.g. keepalived, or our nftables table).
   */
  boot(entry: EntryOf<K>, ledger: Ledger): { part: BootPart; line: string } | undefined;
}

const describeService = (s: LiveServiceValue) =>
  `scheduler ${s.scheduler}, persistence ${s.persistence ? `${s.persistence.timeout}s${s.persistence.netmask ? ` mask ${s.persistence.netmask}` : ""}` : "off"}` +
  (s.schedulerFlags?.length ? `, flags ${s.schedulerFlags.join(",")}` : "") +
  (s.onePacket ? ", one-packet scheduling" : "") +
  (s.extra?.length ? `, ${s.extra.join(" ")}` : "");
const describeDest = ({ dest: d }: DestValue) =>
  `forwarding ${d.forwarding}${d.tunnelType ? ` (${d.tunnelType}${d.tunnelPort ? ` port ${d.tunnelPort}` : ""})` : ""}, weight ${d.weight}, thresholds ${d.upperThreshold ?? 0}/${d.lowerThreshold ?? 0}`;

/**
 * The kernel's defaults of the sysctls pulumi-lvs sets, where they are known. Not rp_filter and
 * accept_redirects: distributions set their own.
 */
const SYSCTL_DEFAULTS: [RegExp, number][] = [
  [/^net\.ipv4\.conf\.[^.]+\.arp_(ignore|announce)$/, 0],
  [/^net\.ipv4\.ip_forward$/, 0],
  [/^net\.ipv6\.conf\.all\.forwarding$/, 0],
  [/^net\.ipv4\.vs\.(expire_nodest_conn|expire_quiescent_template)$/, 0],
];

/** Objects that live in files rendered from the ledger after the commands (keepalived's, nftables'): nothing to run here. */
const inFiles = { read: () => null, converge: () => [], boot: () => undefined };

export const KINDS: { [K in ObjectKind]: ObjectKindSpec<K> } = {
  addr: {
    label: "address ",
    rank: { remove: 2, keep: 4 },
    describe: () => "present",
    read: ({ live }, a) => (live.addrs.some((x) => x.address === a.address && x.dev === a.dev) ? true : null),
    converge({ live }, _key, entry) {
      const a = entry.where;
      const want = desiredOf(entry).present;
      const have = live.addrs.some((x) => x.address === a.address && x.dev === a.dev);
      if (want && !have) {
        live.addrs.push({ ...a });
        return [net.addAddress(a)];
      }
      // An address owned by adoption may have come with a host route beside it (`route add -host VIP dev eth0`).
      const route = !want && entry.adopted === "own" && a.dev !== "lo" ? [net.deleteHostRoute(a.address, a.dev)] : [];
      if (!want && have) {
        live.addrs = live.addrs.filter((x) => !(x.address === a.address && x.dev === a.dev));
        return [net.deleteAddress(a), ...route];
      }
      return route;
    },
    boot: (e) => ({ part: "addrs", line: `${e.where.address}/${e.where.prefix} ${e.where.dev}` }),
  },
  sysctl: {
    label: "sysctl ",
    rank: { remove: 3, keep: 3 },
    describe: (v) => `value ${v}`,
    read: ({ live }, name) => live.sysctls[name] ?? null,
    owned: (name) => SYSCTL_DEFAULTS.find(([re]) => re.test(name))?.[1],
    converge({ live }, _key, entry) {
      const value = liveTarget(entry);
      if (value === undefined || (live.sysctls[entry.where] ?? null) === value) return [];
      live.sysctls[entry.where] = value;
      return [net.writeSysctl(entry.where, value)];
    },
    boot: (e) => ({ part: e.where.startsWith("net.ipv4.vs.") ? "vsSysctls" : "sysctls", line: `${e.where} = ${desiredValue(e)}` }),
  },
  service: {
    label: "IPVS service ",
    rank: { remove: 1, keep: 5 },
    describe: describeService,
    read: ({ live }, k) => {
      const s = liveServiceOf(live, k);
      return s ? serviceValue(s) : null;
    },
    converge(ctx, key, entry) {
      const { live } = ctx;
      const value = liveTarget(entry);
      const s = value && ipvsService(value);
      const now = KINDS.service.read(ctx, entry.where);
      const k = serviceKeyString(entry.where);
      if (!s) {
        if (now === null) return [];
        live.ipvs.delete(k);
        return [ipvs.deleteService(entry.where)];
      }
      // keepalived creates a health-checked service when it reads our file: none of ours then.
      if (now === null && value.healthCheck) {
        // Gone from the kernel though keepalived runs it (removed by hand): only a restart brings it back.
        if (byKeepalived(ctx.snap.ledger.entries[key]) && ctx.inKeepalivedFiles(key)) ctx.restartKeepalived();
        return [];
      }
      if (now === null) {
        live.ipvs.set(k, { ...s, destinations: [], extra: [] });
        return [ipvs.scheduler(s.scheduler), ipvs.addService(s)];
      }
      if (sameValue(now, s)) return [];
      live.ipvs.set(k, { ...s, destinations: live.ipvs.get(k)!.destinations, extra: [] });
      return [...(s.scheduler !== now.scheduler ? [ipvs.scheduler(s.scheduler)] : []), ipvs.editService(s)];
    },
    // keepalived restores the services it runs (and their destinations) itself.
    boot: (e) => (byKeepalived(e) ? undefined : { part: "services", line: rules.service(desiredValue(e)!) }),
  },
  dest: {
    label: "real server ",
    rank: { remove: 0, keep: 6 },
    describe: describeDest,
    read: ({ live }, where) => {
      const d = liveDestOf(live, where);
      return d ? destValue(where.service, d) : null;
    },
    converge(ctx, _key, entry) {
      const value = liveTarget(entry);
      const d = value && ipvsDest(value);
      const where = entry.where;
      const now = KINDS.dest.read(ctx, where);
      const svc = liveServiceOf(ctx.live, where.service);
      if (!d) {
        if (now === null) return [];
        svc!.destinations = svc!.destinations.filter((x) => !(x.address === where.dest.address && x.port === where.dest.port));
        return [ipvs.deleteDestination(where.service, where.dest)];
      }
      // Not in the kernel, or at weight 0 by inhibit_on_failure: keepalived's health check decides.
      const managed = byKeepalived(ctx.ledger.entries[keys.service(where.service)]);
      if (managed && (now === null || ctx.downByCheck(entry, now.dest.weight))) return [];
      if (!svc)
        throw new ClaimError(
          `IPVS service ${serviceKeyString(where.service)} does not exist; declare its VirtualService so it is created first`,
        );
      if (now === null) {
        svc.destinations.push({ ...d.dest, activeConn: 0, inactConn: 0 });
        return [ipvs.addDestination(d.service, d.dest)];
      }
      if (sameValue(now, d)) return [];
      Object.assign(liveDestOf(ctx.live, where)!, { upperThreshold: undefined, lowerThreshold: undefined }, d.dest);
      return [ipvs.editDestination(d.service, d.dest)];
    },
    boot(e, ledger) {
      if (byKeepalived(ledger.entries[keys.service(e.where.service)])) return undefined;
      const d = liveTarget(e)!;
      return { part: "dests", line: rules.destination(d.service, d.dest) };
    },
  },
  vrrp: {
    label: "VRRP instance on ",
    rank: { remove: 2, keep: 4 },
    describe: (v) => `router id ${v.virtualRouterId}, priority ${v.priority}, VIPs ${v.vips.join(" ")}`,
    // A block of our keepalived files: nothing of it exists before we write it.
    ...inFiles,
  },
  syncd: {
    label: "IPVS sync daemon ",
    rank: { remove: 3, keep: 3 },
    describe: (v) => `interface ${v.dev}, syncid ${v.syncId}`,
    read: ({ live }, mode) => live.daemons[mode] ?? null,
    converge({ live }, _key, entry) {
      const mode = entry.where;
      const v = liveTarget(entry);
      const now = live.daemons[mode] ?? null;
      live.daemons[mode] = v;
      return [
        ...(now !== null && !sameValue(now, v) ? [ipvs.stopDaemon(mode)] : []),
        ...(v && !sameValue(now, v) ? [ipvs.startDaemon(mode, v.dev, v.syncId)] : []),
      ];
    },
    boot: (e) => ({ part: "daemons", line: `${e.where} ${desiredValue(e)!.dev} ${desiredValue(e)!.syncId}` }),
  },
  keepalived: {
    label: "",
    rank: { remove: 4, keep: 2 },
    describe: () => "present",
    read: ({ snap }) => {
      const k = snap.keepalived;
      return { installed: !!k?.installed, enabled: !!k?.enabled, active: !!k?.active, conf: k?.conf ?? "absent" };
    },
    // keepalived as it was found stays: pulumi-lvs does not uninstall what it did not install.
    owned: () => undefined,
    // Its service's state and our include line are written from the ledger after the commands.
    converge: () => [],
    boot: () => undefined,
  },
  timeouts: {
    label: "IPVS timeouts",
    rank: { remove: 3, keep: 3 },
    describe: (v) => `tcp ${v.tcp ?? "unchanged"}, tcpfin ${v.tcpFin ?? "unchanged"}, udp ${v.udp ?? "unchanged"}`,
    read: ({ live }) => live.timeouts ?? null,
    owned: () => ({ ...KERNEL_TIMEOUTS }),
    converge({ live }, _key, entry) {
      const t = liveTarget(entry);
      const now = live.timeouts;
      if (!t || !(["tcp", "tcpFin", "udp"] as const).some((f) => t[f] !== undefined && t[f] !== now?.[f])) return [];
      live.timeouts = { ...(now ?? { tcp: 0, tcpFin: 0, udp: 0 }), ...t };
      return [ipvs.setTimeouts(t)];
    },
    boot: (e) => ({ part: "timeouts", line: rules.timeouts(desiredValue(e)!) }),
  },
  link: {
    label: "link ",
    rank: { remove: 4, keep: 1 },
    describe: (v) => (v ? "up" : "down"),
    read: ({ live }, l) => live.links[l.dev] ?? null,
    converge({ live }, _key, entry) {
      // Absent (null) before: the read loaded its module, which created it; unloaded on release.
      const { dev, module } = entry.where;
      const value = liveTarget(entry);
      const now = live.links[dev] ?? null;
      if (value !== undefined && now !== value) {
        live.links[dev] = value;
        return [value ? net.linkUp(dev) : net.linkDown(dev)];
      }
      if (value === undefined && now !== null) {
        delete live.links[dev];
        return [net.linkDown(dev), net.unloadModule(module)];
      }
      return [];
    },
    // A link held down (an original) is not brought up at boot.
    boot: (e) => (desiredValue(e) === true ? { part: "links", line: `${e.where.module} ${e.where.dev}` } : undefined),
  },
  fou: {
    label: "GUE port ",
    rank: { remove: 3, keep: 3 },
    describe: () => "present",
    read: ({ live }, port) => (live.fou.includes(port) ? true : null),
    converge({ live }, _key, entry) {
      const port = entry.where;
      const want = desiredOf(entry).present;
      const have = live.fou.includes(port);
      live.fou = want ? [...new Set([...live.fou, port])] : live.fou.filter((p) => p !== port);
      if (want && !have) return [net.addFou(port)];
      if (!want && have) return [net.deleteFou(port)];
      return [];
    },
    boot: (e) => ({ part: "links", line: `fou ${e.where}` }),
  },
  route: {
    label: "route to ",
    rank: { remove: 1, keep: 5 },
    describe: (v) => `gateway ${v}`,
    read: ({ live }, r) => live.gateways[`${r.family} ${r.network}`] ?? null,
    converge({ live }, _key, entry) {
      const r = entry.where;
      const via = liveTarget(entry);
      const gateway = `${r.family} ${r.network}`;
      const now = live.gateways[gateway] ?? null;
      if (via) live.gateways[gateway] = via;
      else delete live.gateways[gateway];
      if (via && now !== via) return [net.replaceRoute(r.network, via)];
      if (!via && now !== null) return [net.deleteRoute(r.network, now)];
      return [];
    },
    boot: (e) => ({ part: "routes", line: `${e.where.network} ${desiredValue(e)}` }),
  },
  mark: {
    label: "nftables marks for ",
    rank: { remove: 1, keep: 5 },
    describe: (v) => v.match.map((m) => `${m.protocol} to ${m.address} ports ${m.ports.join(",")}`).join("; "),
    // Rules of our own nftables table: nothing of it exists before we write it.
    ...inFiles,
  },
};

/** The table entry of a kind, typed by that kind. */
export const kindOf = <K extends ObjectKind>(kind: K): ObjectKindSpec<K> => KINDS[kind];
