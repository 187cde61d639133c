// Decides, from one snapshot of a host read under its lock, what every operation of a batch
// changes: the ledger (who holds what) and the commands that make the live state match it.
// Pure: no I/O, so every decision is unit-tested without a host. Each operation either
// applies whole or not at all (a conflict fails that operation only).
import { InterfaceAddress, IpvsTable, LiveDestination, LiveService } from "../remote/parsers";
import { Command, ipvs, net } from "../remote/commands";
import { IpvsTimeouts } from "../model";
import { KeepalivedLive, fileOf, keepalivedFiles } from "../remote/keepalived";
import { KEEPALIVED_CONF, KEEPALIVED_DIR, RESTORE_UNIT } from "../remote/commands";
import { ServiceKey, serviceKeyString } from "../model";

type SvcKey = Pick<ServiceKey, "address" | "port" | "protocol" | "fwmark" | "family">;
/** Only the key fields of a service (values carry more). */
const keyFields = (k: SvcKey): SvcKey => ({ address: k.address, port: k.port, protocol: k.protocol, fwmark: k.fwmark, family: k.family });
import { sha256 } from "../remote/boot";
import { nftDrift } from "../remote/nftables";
import { Resolved, reconcile } from "./reconcile";
import {
  AddrValue,
  DestValue,
  Desired,
  Entry,
  EntryOf,
  Hold,
  Ledger,
  LinkWhere,
  LiveServiceValue,
  MarkValue,
  ObjectKind,
  Original,
  Place,
  RouteWhere,
  ServiceValue,
  SyncValue,
  Values,
  VrrpValue,
  Where,
  byKeepalived,
  canonical,
  clone,
  desiredOf,
  desiredValue,
  heldBy,
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

/** Everything one resource holds on one host; holding nothing (an empty claim) releases all. */
export interface Claim {
  addrs?: AddrValue[];
  sysctls?: Record<string, number>;
  services?: ServiceValue[];
  dests?: DestValue[];
  vrrp?: VrrpValue[];
  syncd?: Partial<Record<"master" | "backup", SyncValue>>;
  /** Needs keepalived (installed, enabled, including our files). */
  keepalived?: boolean;
  timeouts?: IpvsTimeouts;
  links?: LinkWhere[];
  fou?: number[];
  routes?: (RouteWhere & { via: string })[];
  marks?: MarkValue[];
  persist: boolean;
}

/** One object a resource of release 0.1 held (it kept no ledger), with what was there before it; one member per kind. */
export type LegacyHold = {
  [K in ObjectKind]: { key: string; kind: K; where: Where<K>; value: Values[K]; original: Original<K> | null };
}[ObjectKind];

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

interface Live {
  addrs: InterfaceAddress[];
  sysctls: Record<string, number | undefined>;
  ipvs: IpvsTable;
  daemons: Partial<Record<"master" | "backup", SyncValue>>;
  timeouts?: Required<IpvsTimeouts>;
  links: Record<string, boolean>;
  gateways: Record<string, string>;
  fou: number[];
}

const serviceValue = (s: LiveService): LiveServiceValue => ({
  ...keyFields(s),
  scheduler: s.scheduler,
  persistence: s.persistence,
  schedulerFlags: s.schedulerFlags?.length ? s.schedulerFlags : undefined,
  onePacket: s.onePacket || undefined,
  ...(s.extra.length ? { extra: s.extra } : {}),
});
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
const describeService = (s: LiveServiceValue) =>
  `scheduler ${s.scheduler}, persistence ${s.persistence ? `${s.persistence.timeout}s${s.persistence.netmask ? ` mask ${s.persistence.netmask}` : ""}` : "off"}` +
  (s.schedulerFlags?.length ? `, flags ${s.schedulerFlags.join(",")}` : "") +
  (s.onePacket ? ", one-packet scheduling" : "") +
  (s.extra?.length ? `, ${s.extra.join(" ")}` : "");
const describeDest = ({ dest: d }: DestValue) =>
  `forwarding ${d.forwarding}${d.tunnelType ? ` (${d.tunnelType}${d.tunnelPort ? ` port ${d.tunnelPort}` : ""})` : ""}, weight ${d.weight}, thresholds ${d.upperThreshold ?? 0}/${d.lowerThreshold ?? 0}`;
const DESCRIBE: { [K in ObjectKind]: (v: Desired<K>) => string } = {
  vrrp: (v) => `router id ${v.virtualRouterId}, priority ${v.priority}, VIPs ${v.vips.join(" ")}`,
  syncd: (v) => `interface ${v.dev}, syncid ${v.syncId}`,
  service: describeService,
  dest: describeDest,
  sysctl: (v) => `value ${v}`,
  addr: () => "present",
  keepalived: () => "present",
  timeouts: (v) => `tcp ${v.tcp ?? "unchanged"}, tcpfin ${v.tcpFin ?? "unchanged"}, udp ${v.udp ?? "unchanged"}`,
  link: (v) => (v ? "up" : "down"),
  fou: () => "present",
  route: (v) => `gateway ${v}`,
  mark: (v) => v.match.map((m) => `${m.protocol} to ${m.address} ports ${m.ports.join(",")}`).join("; "),
};
/** A value of `kind` in words, as errors and the ledger tool show it. */
export const describe = <K extends ObjectKind>(kind: K, v: Desired<K>): string => DESCRIBE[kind](v);
/** The part of a service or destination that is IPVS state (what ipvsadm shows); health checks live in keepalived. */
const ipvsService = (s: ServiceValue): ServiceValue => ({ ...s, healthCheck: undefined, sorryServer: undefined });
const ipvsDest = (d: DestValue): DestValue => ({ ...d, healthCheck: undefined });
/** A value as ipvsadm would show it. */
const ipvsPart = (w: Hold) => (w.kind === "service" ? ipvsService(w.value) : w.kind === "dest" ? ipvsDest(w.value) : w.value);
/** The object a ledger key names, in words ("real server tcp/VIP:80 RIP:80"). */
export const what = (key: string) =>
  key.replace(
    /^(\w+) /,
    (_, k: string) =>
      ({
        addr: "address ",
        sysctl: "sysctl ",
        service: "IPVS service ",
        dest: "real server ",
        vrrp: "VRRP instance on ",
        syncd: "IPVS sync daemon ",
        timeouts: "IPVS timeouts",
        link: "link ",
        fou: "GUE port ",
        route: "route to ",
        mark: "nftables marks for ",
      })[k] ?? "",
  );

/** Order of convergence: removals from the top down, then settings, then additions bottom up. */
const RANK: Record<"remove" | "keep", Record<ObjectKind, number>> = {
  remove: { dest: 0, service: 1, mark: 1, route: 1, vrrp: 2, addr: 2, syncd: 3, sysctl: 3, timeouts: 3, fou: 3, link: 4, keepalived: 4 },
  keep: { link: 1, keepalived: 2, sysctl: 3, syncd: 3, timeouts: 3, fou: 3, addr: 4, vrrp: 4, route: 5, service: 5, mark: 5, dest: 6 },
};

export class Plan {
  ledger: Ledger;
  private live: Live;
  /** Commands per operation, in order; the label names the operation in errors. */
  readonly groups: { label: string; commands: Command[] }[] = [];
  /** A service keepalived runs is missing from the kernel: keepalived must be restarted to recreate it. */
  keepalivedRestart = false;
  /** Ledger entries dropped on reading because their objects cannot exist any more (reconcile.ts). */
  readonly resolved: Resolved[];
  /** Keys an interrupted transaction touched, converged by settle() after the operations. */
  private interrupted: string[] = [];

  constructor(private readonly snap: Snapshot) {
    this.ledger = clone(snap.ledger);
    this.live = {
      addrs: clone(snap.addrs),
      sysctls: { ...snap.sysctls },
      ipvs: cloneTable(snap.ipvs ?? new Map()),
      daemons: { ...snap.daemons },
      timeouts: snap.timeouts && { ...snap.timeouts },
      links: { ...snap.links },
      gateways: { ...snap.gateways },
      fou: [...(snap.fou ?? [])],
    };
    if (snap.pending) this.recover(snap.pending);
    this.resolved = reconcile(this.ledger, { ipvs: this.live.ipvs, devices: snap.devices });
  }

  /**
   * A transaction died between writing its intent and committing it (its script failed half-way,
   * or its session was cut). Every object it touched is put back to what the committed ledger
   * says, but only after this batch's operations ran (settle): an operation that claims the same
   * object again finds it already as it wants it, so what the failed batch applied for it stays
   * applied instead of being undone and redone (no blinking). An object new in the intent is
   * known from here on with what was there before it, held by nobody until claimed again.
   */
  private recover(pending: Ledger): void {
    const touched = new Set([...Object.keys(pending.entries), ...Object.keys(this.ledger.entries)]);
    for (const key of touched) {
      const p = pending.entries[key];
      if (p && !this.ledger.entries[key]) this.ledger.entries[key] = { ...p, holders: {}, draining: false };
    }
    this.interrupted = [...touched];
  }

  /** Converges what an interrupted transaction touched and no operation of this batch claimed again. Call after the operations. */
  settle(): void {
    if (!this.interrupted.length) return;
    this.groups.push({ label: "finishing an interrupted transaction", commands: [] });
    for (const key of this.ordered(this.interrupted)) this.emit(this.converge(key));
    this.interrupted = [];
  }

  /** Runs one operation: its changes are kept only if it does not throw. */
  op<R>(label: string, fn: (plan: this) => R): R {
    const saved = clone({ ledger: this.ledger, live: { ...this.live, ipvs: undefined } });
    const savedIpvs = cloneTable(this.live.ipvs);
    const start = this.groups.length;
    this.groups.push({ label, commands: [] });
    try {
      return fn(this);
    } catch (e) {
      this.ledger = saved.ledger;
      this.live = { ...saved.live, ipvs: savedIpvs };
      this.groups.length = start;
      throw e;
    }
  }

  private emit(commands: Command[]): void {
    this.groups[this.groups.length - 1].commands.push(...commands);
  }

  /** Makes `owner`'s holds on this host exactly `c`: releases what it no longer claims. */
  claim(owner: string, c: Claim): void {
    const want = new Map<string, Hold>();
    for (const a of c.addrs ?? []) want.set(keys.addr(a), { kind: "addr", where: a, value: true });
    for (const [k, v] of Object.entries(c.sysctls ?? {})) want.set(keys.sysctl(k), { kind: "sysctl", where: k, value: v });
    for (const s of c.services ?? []) want.set(keys.service(s), { kind: "service", where: s, value: serviceSpec(s) });
    for (const d of c.dests ?? []) want.set(keys.dest(d.service, d.dest), { kind: "dest", where: d, value: destSpec(d) });
    for (const v of c.vrrp ?? []) want.set(keys.vrrp(v.dev, v.virtualRouterId), { kind: "vrrp", where: v, value: v });
    for (const mode of ["master", "backup"] as const) {
      const v = c.syncd?.[mode];
      if (v) want.set(keys.syncd(mode), { kind: "syncd", where: mode, value: v });
    }
    if (c.keepalived) want.set(keys.keepalived(), { kind: "keepalived", where: null, value: true });
    if (c.timeouts) want.set(keys.timeouts(), { kind: "timeouts", where: "ipvs", value: c.timeouts });
    for (const l of c.links ?? []) want.set(keys.link(l.dev), { kind: "link", where: l, value: true });
    for (const p of c.fou ?? []) want.set(keys.fou(p), { kind: "fou", where: p, value: true });
    for (const { via, ...r } of c.routes ?? []) want.set(keys.route(r), { kind: "route", where: r, value: via });
    for (const m of c.marks ?? []) want.set(keys.mark(m), { kind: "mark", where: { fwmark: m.fwmark, family: m.family }, value: m });
    const touched = heldBy(this.ledger, owner).filter((k) => !want.has(k));
    for (const k of touched) delete this.ledger.entries[k].holders[owner];
    // Services before their destinations, so a destination can find its service.
    for (const [key, w] of [...want].sort(([a], [b]) => RANK.keep[this.kindOf(a)] - RANK.keep[this.kindOf(b)])) {
      this.hold(owner, key, w, c.persist);
      touched.push(key);
    }
    this.refuseOrphaningDests(touched);
    for (const key of this.ordered(touched)) this.emit(this.converge(key));
  }

  /**
   * A service about to be deleted must not take with it destinations that other owners still
   * hold (the kernel deletes them with it and their holders would be left behind): refused,
   * naming them, so they are released first.
   */
  private refuseOrphaningDests(touched: string[]): void {
    for (const key of touched) {
      const e = this.ledger.entries[key];
      if (!e || e.kind !== "service" || desiredOf(e).present) continue;
      const svc = serviceKeyString(e.where);
      const held = Object.entries(this.ledger.entries).filter(
        ([, d]) => d.kind === "dest" && serviceKeyString(d.where.service) === svc && Object.keys(d.holders).length,
      );
      if (!held.length) continue;
      const holders = [...new Set(held.flatMap(([, d]) => Object.keys(d.holders)))];
      throw new ClaimError(
        `IPVS service ${svc} still has real servers held by others: ${held
          .map(([k, d]) => `${what(k)} by ${Object.keys(d.holders).join(", ")}`)
          .join("; ")}; deleting the service would delete them too, so nothing was changed. Delete those first`,
        holders,
      );
    }
  }

  /** Adds commands of the current operation that are not about a held object (e.g. removing old files). */
  run(commands: Command[]): void {
    this.emit(commands);
  }

  /**
   * Takes over what a resource of release 0.1 held (it kept no ledger): `owner` becomes a holder
   * of each object, with what was there before it as the original when nobody holds it yet.
   */
  adopt(owner: string, holds: LegacyHold[], persist: boolean): void {
    for (const { key, value, ...h } of holds) {
      const e = (this.ledger.entries[key] ??= { ...h, holders: {} });
      // It added the object, so whoever took it for pre-existing in the meantime was wrong.
      if (h.original === null) e.original = null;
      e.holders[owner] = { value, persist };
    }
  }

  /**
   * Releases a destination, unless `owner` alone holds it, pulumi-lvs created it and it still
   * has active connections: then it is drained instead, weight 0 in the kernel (and in the boot
   * rules) so it gets no new connections, and its active connections are returned; release it
   * once they ended. Returns undefined when it was released.
   */
  releaseOrDrain(owner: string, d: DestValue): number | undefined {
    const key = keys.dest(d.service, d.dest);
    const e = this.ledger.entries[key];
    const live = this.liveDest(d);
    const sole = e && owner in e.holders && Object.keys(e.holders).length === 1 && e.original === null;
    if (sole && live && live.activeConn > 0) {
      e.draining = true;
      this.emit(this.converge(key));
      return live.activeConn;
    }
    this.claim(owner, { persist: false });
    return undefined;
  }

  /** Live counters of a destination as of this plan. */
  liveDest(d: Pick<DestValue, "service"> & { dest: { address: string; port: number } }): LiveDestination | undefined {
    return this.live.ipvs
      .get(serviceKeyString(d.service))
      ?.destinations.find((x) => x.address === d.dest.address && x.port === d.dest.port);
  }
  liveService(k: SvcKey): LiveService | undefined {
    return this.live.ipvs.get(serviceKeyString(k));
  }
  liveAddrs(): InterfaceAddress[] {
    return this.live.addrs;
  }
  liveSysctl(name: string): number | undefined {
    return this.live.sysctls[name];
  }
  liveLink(dev: string): boolean {
    return !!this.live.links[dev];
  }
  liveFou(): number[] {
    return this.live.fou;
  }
  liveGateway(r: RouteWhere): string | undefined {
    return this.live.gateways[`${r.family} ${r.network}`];
  }
  liveTimeouts(): Required<IpvsTimeouts> | undefined {
    return this.live.timeouts;
  }
  liveSyncDaemon(mode: "master" | "backup"): SyncValue | undefined {
    return this.live.daemons[mode];
  }
  /** keepalived as read (undefined: not read, or not installed and never used here). */
  keepalived(): KeepalivedLive | undefined {
    return this.snap.keepalived;
  }
  /** What differs from what pulumi-lvs wrote for the keepalived block of `key`: refresh reports it, up repairs it. */
  keepalivedDrift(key: string): string[] {
    const want = this.keepalivedText(key);
    if (want === undefined) return [];
    const path = `${KEEPALIVED_DIR}/${this.keepalivedFile(key)}`;
    const have = this.snap.files?.[path];
    const k = this.snap.keepalived;
    return [
      ...(!have ? [`${path} is missing`] : have !== sha256(want) ? [`${path} was changed outside pulumi-lvs`] : []),
      ...(k && !k.include ? [`${KEEPALIVED_CONF} no longer includes ${KEEPALIVED_DIR}`] : []),
      ...(k && !k.active ? ["keepalived is not running"] : []),
    ];
  }
  /** Whether our keepalived files have a block for `key` (a health-checked service has one once it has a real server). */
  inKeepalivedFiles(key: string): boolean {
    return this.keepalivedText(key) !== undefined;
  }
  /** The text of `key`'s block in our keepalived files, or undefined when it has none. */
  private keepalivedText(key: string): string | undefined {
    const file = this.keepalivedFile(key);
    return file && keepalivedFiles(this.ledger)[file];
  }
  /** The file of ours a block of `key` goes to: a VRRP instance's or a service's. */
  private keepalivedFile(key: string): string | undefined {
    const e = this.ledger.entries[key];
    return e?.kind === "vrrp" || e?.kind === "service" ? fileOf(e) : undefined;
  }
  /** Whether a service is run by keepalived (it has a health check). */
  byKeepalived(k: SvcKey): boolean {
    return byKeepalived(this.ledger.entries[keys.service(k)]);
  }
  /**
   * Announces addresses just added on `dev`: a gratuitous ARP for IPv4, an unsolicited neighbour
   * advertisement for IPv6. Returns those it could not announce (the host lacks arping, or na6):
   * neighbours then learn them when their entries expire.
   */
  announce(dev: string, addresses: string[]): string[] {
    const [v6, v4] = [addresses.filter((a) => a.includes(":")), addresses.filter((a) => !a.includes(":"))];
    const tool = this.snap.arping;
    if (tool) this.emit(v4.map((a) => net.announce(tool, dev, a)));
    if (this.snap.na6) this.emit(v6.map((a) => net.announce6(dev, a)));
    return [...(tool ? [] : v4), ...(this.snap.na6 ? [] : v6)];
  }
  /** A boot restore unit that failed: what refresh reports, and what up runs again. */
  restoreUnitDrift(): string[] {
    return this.snap.restoreFailed
      ? [`the boot restore unit ${RESTORE_UNIT} failed (\`systemctl status ${RESTORE_UNIT}\` names the line); up runs it again`]
      : [];
  }
  /** Runs the boot restore unit again when it failed (it replays over the live state: what is there is no failure). */
  rerunFailedRestore(): void {
    if (this.snap.restoreFailed) this.emit([`systemctl restart ${RESTORE_UNIT} || true`]);
  }
  /** What differs in our nftables table from what we last loaded. */
  nftDrift(): string[] {
    return nftDrift(this.snap.nft);
  }
  route(address: string): string | undefined {
    return this.snap.routes[address];
  }

  /** True when the ledger differs from what was read (so it must be written). */
  ledgerChanged(): boolean {
    return !!this.snap.pending || canonical(this.ledger) !== canonical(this.snap.ledger);
  }

  private kindOf(key: string): ObjectKind {
    return (this.ledger.entries[key]?.kind ?? key.split(" ")[0]) as ObjectKind;
  }

  private ordered(keysToSort: string[]): string[] {
    const rank = (k: string) => {
      const e = this.ledger.entries[k];
      const removing = !e || !desiredOf(e).present;
      return removing ? RANK.remove[this.kindOf(k)] : RANK.keep[this.kindOf(k)];
    };
    return [...new Set(keysToSort)].sort((a, b) => rank(a) - rank(b));
  }

  /** What the host has of the object `p` names (null: nothing), as its entry's original records it. */
  private liveValue<P extends Place>(p: P): Original<P["kind"]> | null;
  private liveValue(p: Place): Original<ObjectKind> | null {
    switch (p.kind) {
      case "addr":
        return this.live.addrs.some((x) => x.address === p.where.address && x.dev === p.where.dev) ? true : null;
      case "sysctl":
        return this.live.sysctls[p.where] ?? null;
      case "service": {
        const s = this.liveService(p.where);
        return s ? serviceValue(s) : null;
      }
      case "dest": {
        const live = this.liveDest(p.where);
        return live ? destValue(p.where.service, live) : null;
      }
      case "syncd":
        return this.live.daemons[p.where] ?? null;
      case "vrrp":
        return null; // a block of our keepalived files: nothing of it exists before we write it
      case "keepalived": {
        const k = this.snap.keepalived;
        return { installed: !!k?.installed, enabled: !!k?.enabled, active: !!k?.active, conf: k?.conf ?? "absent" };
      }
      case "timeouts":
        return this.live.timeouts ?? null;
      case "link":
        return this.live.links[p.where.dev] ?? null;
      case "fou":
        return this.live.fou.includes(p.where) ? true : null;
      case "route":
        return this.live.gateways[`${p.where.family} ${p.where.network}`] ?? null;
      case "mark":
        return null; // rules of our own nftables table: nothing of it exists before we write it
    }
  }

  private hold(owner: string, key: string, w: Hold, persist: boolean): void {
    const { value: _, ...place } = w;
    const e: Entry = this.ledger.entries[key] ?? { ...place, original: null, holders: {} };
    const others = Object.entries(e.holders).filter(([o, h]) => o !== owner && !sameValue(h.value, w.value));
    if (others.length) {
      const [o, h] = others[0];
      throw new ClaimError(
        `${what(key)} is held by ${o} with ${describe(w.kind, h.value)}, but this declares ${describe(w.kind, w.value)}; nothing was changed`,
        [o],
      );
    }
    if (w.kind === "addr") this.checkAddressFree(w.where);
    if (w.kind === "dest") this.checkServiceFor(w.where);
    if (!this.ledger.entries[key]) {
      const live = this.liveValue(w);
      if (w.kind === "sysctl" && live === null) throw new ClaimError(`sysctl ${w.where} does not exist on this kernel`);
      if ((w.kind === "service" || w.kind === "dest" || w.kind === "syncd") && live !== null && !sameValue(live, ipvsPart(w))) {
        throw new ClaimError(
          `${what(key)} already exists with ${describe<ObjectKind>(w.kind, live)}, but this declares ${describe(w.kind, w.value)}; ` +
            `it was left untouched. Declare it identically to adopt it, or remove it by hand.`,
        );
      }
      e.original = live;
      this.ledger.entries[key] = e;
    }
    const since = owner in e.holders ? e.holders[owner].since : this.snap.at;
    e.holders[owner] = { value: w.value, persist, ...(since ? { since } : {}) };
    delete e.draining; // claimed again: stop draining
  }

  /**
   * A health-checked destination keepalived set to weight 0 (inhibit_on_failure) because its
   * check fails: that is its health, not drift, and not ours to repair.
   */
  downByCheck(entry: Entry, liveWeight: number): boolean {
    const v = entry.kind === "dest" ? desiredValue(entry) : undefined;
    if (!v || entry.draining) return false;
    const service = this.ledger.entries[keys.service(v.service)];
    const check = v.healthCheck ?? (service?.kind === "service" ? desiredValue(service)?.healthCheck : undefined);
    return check?.onFailure === "weight0" && liveWeight === 0 && v.dest.weight !== 0;
  }

  /** An address may sit on one device only: refuse one that is on another device, unless we are removing it there. */
  private checkAddressFree(a: AddrValue): void {
    for (const x of this.live.addrs.filter((l) => l.address === a.address && l.dev !== a.dev)) {
      const there = this.ledger.entries[keys.addr({ ...a, dev: x.dev })];
      if (there && Object.keys(there.holders).length === 0 && there.original === null) continue;
      throw new ClaimError(
        `${a.address} is already on ${x.dev}, but this wants it on ${a.dev}; nothing was changed. Remove it from ${x.dev} or declare interface ${JSON.stringify(x.dev)}.`,
      );
    }
  }

  private checkServiceFor(d: Where<"dest">): void {
    const e = this.ledger.entries[keys.service(d.service)];
    // A service on its way out (an interrupted transaction created it and nobody claimed it again) is not there for it.
    const leaving = e && !desiredOf(e).present;
    if ((this.liveService(d.service) && !leaving) || (e && desiredOf(e).present)) return;
    throw new ClaimError(
      `IPVS service ${serviceKeyString(d.service)} does not exist; declare its VirtualService (and pass it as \`service\`) so it is created first`,
    );
  }

  /** Commands that make the live object match its entry; drops an entry nobody holds any more. */
  private converge(key: string, entry = this.ledger.entries[key]): Command[] {
    if (!entry) return [];
    const out = this.commandsFor(key, entry);
    if (entry === this.ledger.entries[key] && Object.keys(entry.holders).length === 0) delete this.ledger.entries[key];
    return out;
  }

  /** The commands for one entry, by its kind. */
  private commandsFor(key: string, entry: Entry): Command[] {
    switch (entry.kind) {
      case "addr":
        return this.convergeAddr(entry);
      case "sysctl":
        return this.convergeSysctl(entry);
      case "service":
        return this.convergeService(key, entry);
      case "dest":
        return this.convergeDest(entry);
      case "syncd":
        return this.convergeSyncd(entry);
      case "timeouts":
        return this.convergeTimeouts(entry);
      case "link":
        return this.convergeLink(entry);
      case "fou":
        return this.convergeFou(entry);
      case "route":
        return this.convergeRoute(entry);
      // vrrp, keepalived and mark: our keepalived files, the service's state and our nftables
      // table, written after the groups from the ledger (remote/keepalived.ts, remote/nftables.ts),
      // like the boot files.
      case "vrrp":
      case "keepalived":
      case "mark":
        return [];
    }
  }

  private convergeAddr(entry: EntryOf<"addr">): Command[] {
    const a = entry.where;
    const want = desiredOf(entry);
    const live = this.liveValue(entry);
    if (want.present && live === null) {
      this.live.addrs.push({ ...a });
      return [net.addAddress(a)];
    }
    if (!want.present && live !== null) {
      this.live.addrs = this.live.addrs.filter((x) => !(x.address === a.address && x.dev === a.dev));
      return [net.deleteAddress(a)];
    }
    return [];
  }

  private convergeSysctl(entry: EntryOf<"sysctl">): Command[] {
    const value = liveTarget(entry);
    if (value === undefined || this.liveValue(entry) === value) return [];
    this.live.sysctls[entry.where] = value;
    return [net.writeSysctl(entry.where, value)];
  }

  private convergeService(key: string, entry: EntryOf<"service">): Command[] {
    const value = liveTarget(entry);
    const s = value && ipvsService(value);
    const live = this.liveValue(entry);
    const k = serviceKeyString(entry.where);
    if (!s) {
      if (live === null) return [];
      this.live.ipvs.delete(k);
      return [ipvs.deleteService(entry.where)];
    }
    // keepalived creates a health-checked service when it reads our file: none of ours then.
    if (live === null && value.healthCheck) {
      // Gone from the kernel though keepalived runs it (removed by hand): only a restart brings it back.
      if (byKeepalived(this.snap.ledger.entries[key]) && this.inKeepalivedFiles(key)) this.keepalivedRestart = true;
      return [];
    }
    if (live === null) {
      this.live.ipvs.set(k, { ...s, destinations: [], extra: [] });
      return [ipvs.scheduler(s.scheduler), ipvs.addService(s)];
    }
    if (sameValue(live, s)) return [];
    this.live.ipvs.set(k, { ...s, destinations: this.live.ipvs.get(k)!.destinations, extra: [] });
    return [...(s.scheduler !== live.scheduler ? [ipvs.scheduler(s.scheduler)] : []), ipvs.editService(s)];
  }

  private convergeDest(entry: EntryOf<"dest">): Command[] {
    const value = liveTarget(entry);
    const d = value && ipvsDest(value);
    const where = entry.where;
    const live = this.liveValue(entry);
    const svc = this.liveService(where.service);
    if (!d) {
      if (live === null) return [];
      svc!.destinations = svc!.destinations.filter((x) => !(x.address === where.dest.address && x.port === where.dest.port));
      return [ipvs.deleteDestination(where.service, where.dest)];
    }
    // Not in the kernel, or at weight 0 by inhibit_on_failure: keepalived's health check decides.
    const managed = byKeepalived(this.ledger.entries[keys.service(where.service)]);
    if (managed && (live === null || this.downByCheck(entry, live.dest.weight))) return [];
    if (!svc)
      throw new ClaimError(
        `IPVS service ${serviceKeyString(where.service)} does not exist; declare its VirtualService so it is created first`,
      );
    if (live === null) {
      svc.destinations.push({ ...d.dest, activeConn: 0, inactConn: 0 });
      return [ipvs.addDestination(d.service, d.dest)];
    }
    if (sameValue(live, d)) return [];
    Object.assign(this.liveDest(where)!, { upperThreshold: undefined, lowerThreshold: undefined }, d.dest);
    return [ipvs.editDestination(d.service, d.dest)];
  }

  private convergeSyncd(entry: EntryOf<"syncd">): Command[] {
    const mode = entry.where;
    const v = liveTarget(entry);
    const live = this.liveValue(entry);
    this.live.daemons[mode] = v;
    return [
      ...(live !== null && !sameValue(live, v) ? [ipvs.stopDaemon(mode)] : []),
      ...(v && !sameValue(live, v) ? [ipvs.startDaemon(mode, v.dev, v.syncId)] : []),
    ];
  }

  private convergeTimeouts(entry: EntryOf<"timeouts">): Command[] {
    const t = liveTarget(entry);
    const now = this.liveValue(entry);
    if (!t || !(["tcp", "tcpFin", "udp"] as const).some((f) => t[f] !== undefined && t[f] !== now?.[f])) return [];
    this.live.timeouts = { ...(now ?? { tcp: 0, tcpFin: 0, udp: 0 }), ...t };
    return [ipvs.setTimeouts(t)];
  }

  private convergeLink(entry: EntryOf<"link">): Command[] {
    // Absent (null) before: the read loaded its module, which created it; unloaded on release.
    const { dev, module } = entry.where;
    const value = liveTarget(entry);
    const live = this.liveValue(entry);
    if (value !== undefined && live !== value) {
      this.live.links[dev] = value;
      return [value ? net.linkUp(dev) : net.linkDown(dev)];
    }
    if (value === undefined && live !== null) {
      delete this.live.links[dev];
      return [net.linkDown(dev), net.unloadModule(module)];
    }
    return [];
  }

  private convergeFou(entry: EntryOf<"fou">): Command[] {
    const port = entry.where;
    const want = desiredOf(entry).present;
    const live = this.liveValue(entry);
    this.live.fou = want ? [...new Set([...this.live.fou, port])] : this.live.fou.filter((p) => p !== port);
    if (want && live === null) return [net.addFou(port)];
    if (!want && live !== null) return [net.deleteFou(port)];
    return [];
  }

  private convergeRoute(entry: EntryOf<"route">): Command[] {
    const r = entry.where;
    const via = liveTarget(entry);
    const live = this.liveValue(entry);
    const gateway = `${r.family} ${r.network}`;
    if (via) this.live.gateways[gateway] = via;
    else delete this.live.gateways[gateway];
    if (via && live !== via) return [net.replaceRoute(r.network, via)];
    if (!via && live !== null) return [net.deleteRoute(r.network, live)];
    return [];
  }
}

const serviceSpec = (s: ServiceValue): ServiceValue => ({
  ...keyFields(s),
  scheduler: s.scheduler,
  persistence: s.persistence,
  schedulerFlags: s.schedulerFlags?.length ? s.schedulerFlags : undefined,
  onePacket: s.onePacket || undefined,
  healthCheck: s.healthCheck,
  sorryServer: s.sorryServer,
});
const destSpec = (d: DestValue): DestValue => ({
  service: keyFields(d.service),
  dest: {
    address: d.dest.address,
    port: d.dest.port,
    forwarding: d.dest.forwarding,
    tunnelType: d.dest.tunnelType,
    tunnelPort: d.dest.tunnelPort,
    weight: d.dest.weight,
    upperThreshold: d.dest.upperThreshold || undefined,
    lowerThreshold: d.dest.lowerThreshold || undefined,
  },
  healthCheck: d.healthCheck,
});
function cloneTable(t: IpvsTable): IpvsTable {
  return new Map([...t].map(([k, s]) => [k, { ...clone(s), destinations: s.destinations.map((d) => ({ ...d })) }]));
}
