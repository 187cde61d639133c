// Decides, from one snapshot of a host read under its lock, what every operation of a batch
// changes: the ledger (who holds what) and the commands that make the live state match it,
// each object handed to its kind (kinds.ts) to read and converge. Pure: no I/O, so every
// decision is unit-tested without a host. Each operation either applies whole or not at all
// (a conflict fails that operation only).
import { InterfaceAddress, LiveService } from "../remote/parsers";
import { Command, net } from "../remote/commands";
import { IpvsTimeouts } from "../model";
import { KeepalivedLive, fileOf, keepalivedFiles } from "../remote/keepalived";
import { KEEPALIVED_CONF, KEEPALIVED_DIR, RESTORE_UNIT } from "../remote/commands";
import { ServiceKey, serviceKeyString } from "../model";
import { sha256 } from "../remote/boot";
import { nftDrift } from "../remote/nftables";
import { Resolved, reconcile } from "./reconcile";
import {
  ClaimError,
  KINDS,
  KindContext,
  Live,
  Snapshot,
  ipvsDest,
  ipvsService,
  keyFields,
  kindOf,
  liveDestOf,
  liveOf,
  liveServiceOf,
  scheduling,
} from "./kinds";
import {
  AddrValue,
  DestValue,
  Desired,
  Entry,
  Hold,
  Ledger,
  LinkWhere,
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
  clone,
  desiredOf,
  desiredValue,
  heldBy,
  keys,
  sameLedger,
  sameValue,
} from "../ledger";

export { ClaimError, type Snapshot } from "./kinds";
type SvcKey = Pick<ServiceKey, "address" | "port" | "protocol" | "fwmark" | "family">;

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
  /**
   * The owner was brought in by `pulumi import`: an IPVS object already there that differs from
   * what it declares is taken over (what was there kept as the original, given back on delete)
   * instead of refused. Import named that very object, so no declaration took it by accident.
   */
  imported?: boolean;
  /**
   * The owner declared `adopt: "own"`: an object it holds that was found on the host is taken as
   * pulumi-lvs's own, for good (see the kinds' `owned`), so the last holder's release removes it
   * (or sets the kernel's default) instead of putting back what was found.
   */
  own?: boolean;
}

/** One object a resource of release 0.1 held (it kept no ledger), with what was there before it; one member per kind. */
export type LegacyHold = {
  [K in ObjectKind]: { key: string; kind: K; where: Where<K>; value: Values[K]; original: Original<K> | null };
}[ObjectKind];

/** A value of `kind` in words, as errors and the ledger tool show it. */
export const describe = <K extends ObjectKind>(kind: K, v: Desired<K>): string => kindOf(kind).describe(v);
/** A value as ipvsadm would show it. */
const ipvsPart = (w: Hold) => (w.kind === "service" ? ipvsService(w.value) : w.kind === "dest" ? ipvsDest(w.value) : w.value);
/** The object a ledger key names, in words ("real server tcp/VIP:80 RIP:80"). */
export const what = (key: string) => key.replace(/^(\w+) /, (_, k: string) => (k in KINDS ? KINDS[k as ObjectKind].label : ""));

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
  /** The operations that ran, in order (see rewind). */
  private done: { label: string; fn: (plan: Plan) => unknown }[] = [];

  constructor(private readonly snap: Snapshot) {
    this.ledger = clone(snap.ledger);
    this.live = liveOf(snap);
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

  /**
   * Runs one operation: its changes are kept only if it does not throw. Nothing is copied before
   * it (a copy of the ledger per operation made a batch cost O(operations × ledger): seconds at a
   * thousand backends); a throw rewinds instead.
   */
  op<R>(label: string, fn: (plan: Plan) => R): R {
    this.groups.push({ label, commands: [] });
    try {
      const result = fn(this);
      this.done.push({ label, fn });
      return result;
    } catch (e) {
      this.rewind();
      throw e;
    }
  }

  /**
   * Back to what the operations before a failed one left: the plan as the read made it, with
   * those operations run again (an operation is a function of the plan alone, so they decide the
   * same again).
   */
  private rewind(): void {
    const done = this.done;
    Object.assign(this, new Plan(this.snap));
    for (const { label, fn } of done) this.op(label, fn);
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
    for (const [key, w] of [...want].sort(([a], [b]) => this.rank(a, false) - this.rank(b, false))) {
      this.hold(owner, key, w, c);
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
   * The active connections of a destination that `owner` alone holds and pulumi-lvs created: what
   * its removal waits for (0: none, or not ours to drain: another holder keeps it, or it was there before us).
   */
  activeOwned(owner: string, d: DestValue): number {
    const e = this.ledger.entries[keys.dest(d.service, d.dest)];
    const sole = e && owner in e.holders && Object.keys(e.holders).length === 1 && e.original === null;
    return sole ? (this.liveDest(d)?.activeConn ?? 0) : 0;
  }

  /** Drains a held destination: weight 0 in the kernel (and in the boot rules), so it gets no new connections, until it is released. */
  drain(d: DestValue): void {
    const key = keys.dest(d.service, d.dest);
    this.ledger.entries[key].draining = true;
    this.emit(this.converge(key));
  }

  /**
   * Releases a destination, unless it has active connections to wait for (activeOwned): then it
   * is drained instead and they are returned; release it once they ended. Returns undefined when
   * it was released.
   */
  releaseOrDrain(owner: string, d: DestValue): number | undefined {
    const active = this.activeOwned(owner, d);
    if (active > 0) {
      this.drain(d);
      return active;
    }
    this.claim(owner, { persist: false });
    return undefined;
  }

  /** Live counters of a destination as of this plan. */
  liveDest(d: Pick<DestValue, "service"> & { dest: { address: string; port: number } }) {
    return liveDestOf(this.live, d);
  }
  liveService(k: SvcKey): LiveService | undefined {
    return liveServiceOf(this.live, k);
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
    return !!this.snap.pending || !sameLedger(this.ledger, this.snap.ledger);
  }

  private kindOf(key: string): ObjectKind {
    return (this.ledger.entries[key]?.kind ?? key.split(" ")[0]) as ObjectKind;
  }

  /** The key's place in the order of convergence: its kind's rank, for removal or not. */
  private rank(key: string, removing: boolean): number {
    const { rank } = kindOf(this.kindOf(key));
    return removing ? rank.remove : rank.keep;
  }

  private ordered(keysToSort: string[]): string[] {
    const rank = (k: string) => {
      const e = this.ledger.entries[k];
      return this.rank(k, !e || !desiredOf(e).present);
    };
    return [...new Set(keysToSort)].sort((a, b) => rank(a) - rank(b));
  }

  /** What the host has of the object `p` names (null: nothing), as its entry's original records it. */
  private liveValue<P extends Place>(p: P): Original<P["kind"]> | null;
  private liveValue(p: Place): Original<ObjectKind> | null {
    return kindOf(p.kind).read(this.context, p.where);
  }

  /** What an object's kind needs to converge it (kinds.ts). */
  private get context(): KindContext {
    return {
      live: this.live,
      snap: this.snap,
      ledger: this.ledger,
      inKeepalivedFiles: (key) => this.inKeepalivedFiles(key),
      restartKeepalived: () => (this.keepalivedRestart = true),
      downByCheck: (entry, weight) => this.downByCheck(entry, weight),
    };
  }

  private hold(owner: string, key: string, w: Hold, { persist, imported, own }: Claim): void {
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
      const differs = live !== null && !sameValue(live, ipvsPart(w));
      if ((w.kind === "service" || w.kind === "dest" || w.kind === "syncd") && differs && !imported) {
        throw new ClaimError(
          `${what(key)} already exists with ${describe<ObjectKind>(w.kind, live)}, but this declares ${describe(w.kind, w.value)}; ` +
            `it was left untouched. Declare it identically to adopt it, or remove it by hand.`,
        );
      }
      e.original = live;
      if (live !== null) e.adopted = "keep";
      this.ledger.entries[key] = e;
    }
    if (own) takeOver(e);
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

  /** The commands for one entry: its kind's to give (kinds.ts). */
  private commandsFor(key: string, entry: Entry): Command[] {
    return kindOf(entry.kind).converge(this.context, key, entry);
  }
}

/**
 * Makes an object that was found on the host pulumi-lvs's own: its original becomes what the
 * kind leaves of its own objects (nothing, or the kernel's default) and what was found is
 * forgotten, so an entry owned once stays owned. A kind with no such value keeps what was found.
 */
function takeOver(e: Entry): void {
  const { owned } = kindOf(e.kind);
  const fresh = owned ? owned(e.where) : null;
  if (e.original === null || e.adopted === "own" || fresh === undefined) return;
  e.original = fresh;
  e.adopted = "own";
}

const serviceSpec = (s: ServiceValue): ServiceValue => ({ ...scheduling(s), healthCheck: s.healthCheck, sorryServer: s.sorryServer });
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
