// Coalesces the operations on one host into transactions: every operation that arrives while
// a transaction is in flight goes out with the next one, so a hundred resources on a director
// cost a handful of round trips, not a hundred. One transaction = one locked session: read
// everything (holds/plan.ts decides on it), then one script with every change. Results and
// errors go back to the operation that asked; one operation's refusal fails only it.
import { BOOT_FILES, bootCommands, bootFiles } from "../remote/boot";
import { Command, LEDGER, LEDGER_NEXT, RuleChange, STATE_DIR, ipvs, q, snapshotRead } from "../remote/commands";
import {
  namedSections,
  parseDaemons,
  parseHashes,
  parseIpAddr,
  parseIpvsSave,
  mergeThresholds,
  parseRoutes,
  parseSysctls,
  parseLinks,
  parseGateways,
  parseFou,
  parseTimeouts,
  parseDevices,
} from "../remote/parsers";
import { nftCommands } from "../remote/nftables";
import { keepalivedCommands, parseKeepalivedState } from "../remote/keepalived";
import { Host, RemoteCommandError } from "../remote/ssh";
import { parseLedger } from "../ledger";
import { ClaimError, Plan, Snapshot } from "../holds/plan";

/** One operation of a batch: what it needs read, and what it decides on the snapshot. */
export interface Op<R> {
  /** Names the resource in errors. */
  label: string;
  /** Reads only: never changes the host (refresh). */
  readOnly?: boolean;
  needs?: {
    ipvs?: boolean;
    keepalived?: boolean;
    sysctls?: string[];
    routes?: string[];
    modules?: string[];
    prep?: boolean;
    restoreUnit?: boolean;
  };
  apply(plan: Plan): R;
}

interface Queued {
  op: Op<unknown>;
  /** The connection it goes over (a batch is one session: it holds the operations of one connection). */
  host: Host;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** How often it went again after another operation of its batch failed. */
  retries: number;
  /** Its rules go on their own, not in a shared `ipvsadm -R` (after a failure there that named no single operation). */
  uncoalesced?: boolean;
}
/** How often an operation goes again because others of its batch failed (each time one fewer is left). */
const MAX_RETRIES = 3;

/**
 * How long a batch waits for others to join: the engine sends at most `--parallel` operations
 * at a time, and sends the next ones as their predecessors' results come back, a few at a time.
 * The first batch waits GATHER_MS; later ones wait up to NEXT_GATHER_MS for as many operations
 * as the widest batch so far had (an estimate of the engine's parallelism).
 */
const GATHER_MS = 50;
const NEXT_GATHER_MS = 250;
/** A refresh's reads this soon after the last read share it, unless this process wrote since. */
const READ_REUSE_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GROUP = "pulumi-lvs-group";

interface Needs {
  preflight: boolean;
  keepalived: boolean;
  sysctls: string[];
  routes: string[];
  modules: string[];
  prep: boolean;
  restoreUnit: boolean;
}
const mergeNeeds = (ns: NonNullable<Op<unknown>["needs"]>[]): Needs => ({
  preflight: ns.some((n) => n.ipvs),
  keepalived: ns.some((n) => n.keepalived),
  sysctls: [...new Set(ns.flatMap((n) => n.sysctls ?? []))],
  routes: [...new Set(ns.flatMap((n) => n.routes ?? []))],
  modules: [...new Set(ns.flatMap((n) => n.modules ?? []))],
  prep: ns.some((n) => n.prep),
  restoreUnit: ns.some((n) => n.restoreUnit),
});
const covers = (have: Needs, want: Needs) =>
  (have.preflight || !want.preflight) &&
  (have.keepalived || !want.keepalived) &&
  want.sysctls.every((s) => have.sysctls.includes(s)) &&
  want.routes.every((r) => have.routes.includes(r)) &&
  want.modules.every((m) => have.modules.includes(m)) &&
  (have.prep || !want.prep) &&
  (have.restoreUnit || !want.restoreUnit);

export function parseSnapshot(out: string): Snapshot {
  const s = namedSections(out);
  return {
    ledger: parseLedger(s.ledger ?? "", LEDGER),
    pending: s.pending?.trim() ? parseLedger(s.pending, LEDGER_NEXT) : undefined,
    addrs: parseIpAddr(s.addrs ?? ""),
    devices: "devices" in s ? parseDevices(s.devices) : undefined,
    sysctls: parseSysctls(s.sysctls ?? ""),
    ipvs: "thresholds" in s ? mergeThresholds(parseIpvsSave(s.ipvs ?? ""), s.thresholds) : undefined,
    routes: parseRoutes(s.routes ?? ""),
    daemons: parseDaemons(s.daemons ?? ""),
    keepalived: parseKeepalivedState(s.keepalived ?? ""),
    files: parseHashes(s.files ?? ""),
    links: parseLinks(s.links ?? ""),
    gateways: {
      ...prefixed("ipv4", parseGateways(s.gateways4 ?? "")),
      ...prefixed("ipv6", parseGateways(s.gateways6 ?? "")),
    },
    fou: parseFou(s.fou ?? ""),
    timeouts: parseTimeouts(s.timeouts ?? ""),
    nft: nftState(s.nft ?? ""),
    restoreFailed: s.restore?.trim() === "failed",
    arping: toolOf(s.arping ?? ""),
    na6: (s.na6 ?? "").trim().endsWith("/na6"),
  };
}
/** What `command -v arping || command -v busybox` found, by the command's name. */
const toolOf = (out: string) => {
  const name = out.trim().split("/").pop();
  return name === "arping" || name === "busybox" ? name : undefined;
};
const prefixed = (family: string, r: Record<string, string>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [`${family} ${k}`, v]));
/** The nft section: the table's hash now and the recorded one, or nothing when we never wrote it. */
const nftState = (out: string) => {
  const [live, written] = out.split("\n").map((l) => l.trim());
  return written ? { live, written } : undefined;
};

/** The write of a transaction, or undefined when nothing changes. Intent first, commit last. */
export function writeScript(plan: Plan, snap: Snapshot, { coalesce = true } = {}): string | undefined {
  const files = snap.files ?? {};
  const groups = plan.groups.map((g, i) => ({ ...g, i })).filter((g) => g.commands.length);
  const boot = bootCommands(bootFiles(plan.ledger), files);
  const ka = keepalivedCommands(snap.ledger, plan.ledger, snap.keepalived, files, plan.keepalivedRestart);
  const marks = nftCommands(snap.ledger, plan.ledger, snap.nft);
  const ledger = plan.ledgerChanged();
  if (!ledger && !groups.length && !boot.length && !ka.before.length && !ka.after.length && !marks.length) return undefined;
  const empty = Object.keys(plan.ledger.entries).length === 0;
  return [
    "umask 022",
    ...(ledger
      ? [`mkdir -p ${q(STATE_DIR)}`, `cat > ${q(LEDGER_NEXT)} <<'PULUMI_LVS_LEDGER'`, JSON.stringify(plan.ledger), "PULUMI_LVS_LEDGER"]
      : []),
    // keepalived's config test comes before any change: when it fails, nothing was changed.
    ...(ka.before.length ? [`echo '${GROUP} keepalived'`, ...ka.before] : []),
    ...(coalesce ? coalesced(groups) : groups.flatMap(marked)),
    ...(marks.length ? [`echo '${GROUP} nftables'`, ...marks] : []),
    `echo '${GROUP} boot'`,
    ...boot,
    ...ka.after,
    ...(ledger ? [empty ? `rm -rf ${q(STATE_DIR)}` : `mv ${q(LEDGER_NEXT)} ${q(LEDGER)}`] : []),
  ].join("\n");
}

type Group = { i: number; commands: Command[] };
/** A group's commands as shell text, after its marker. */
const marked = (g: Group): string[] => [`echo '${GROUP} ${g.i}'`, ...g.commands.map(String)];

/**
 * The groups' commands, each after its marker; consecutive groups made only of IPVS rule
 * changes go as one `ipvsadm -R`, marked with their range (a failure there names no single
 * operation, so the batch goes again with each operation's rules on their own).
 */
function coalesced(groups: Group[]): string[] {
  const out: string[] = [];
  let run: (Group & { lines: string[] })[] = [];
  const flush = () => {
    if (run.length > 1) out.push(`echo '${GROUP} ${run[0].i}-${run[run.length - 1].i}'`, ...ipvs.restore(run.flatMap((g) => g.lines)));
    else out.push(...run.flatMap(marked));
    run = [];
  };
  for (const g of groups) {
    const lines = g.commands.map((c) => (c instanceof RuleChange ? c.line : undefined));
    if (lines.every((l): l is string => l !== undefined)) {
      run.push({ ...g, lines });
      continue;
    }
    flush();
    out.push(...marked(g));
  }
  flush();
  return out;
}

/** How to remove holders that may be gone (a stack destroyed without them, a run stopped half-way). */
const releaseHint = (target: string, holders: string[]): string =>
  holders.length
    ? `. If ${holders.length > 1 ? "these holders are" : "that holder is"} gone (a stack removed, a run stopped half-way), release ${holders.length > 1 ? "them" : "it"}: ` +
      holders.map((h) => `npx pulumi-lvs ledger release ${target} --owner '${h.replace(/'/g, `'\\''`)}'`).join("; ")
    : "";

export class HostQueue {
  private queued: Queued[] = [];
  private running = false;
  private lastRead?: { at: number; out: string; needs: Needs };
  /** `host`: the connection operations go over unless they name their own (one machine, one queue). */
  constructor(private readonly host: Host) {}

  submit<R>(op: Op<R>, host = this.host): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queued.push({ op, host, resolve: resolve as (v: unknown) => void, reject, retries: 0 });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    let widest = 0;
    try {
      do {
        await this.gather(widest);
        // One session per batch: the operations of the first one's connection; the rest wait their turn.
        const items = this.queued.filter((q) => q.host === this.queued[0].host);
        this.queued = this.queued.filter((q) => !items.includes(q));
        widest = Math.max(widest, items.length);
        try {
          await this.batch(items);
        } catch (e) {
          // batch settles its items itself; whatever escapes it still fails them, never the queue.
          for (const item of items) item.reject(e as Error);
        }
      } while (this.queued.length);
    } finally {
      this.running = false;
    }
  }

  /** Waits for operations to join: GATHER_MS at first, then until `expect` wait or NEXT_GATHER_MS passed. */
  private async gather(expect: number): Promise<void> {
    const until = Date.now() + (expect ? NEXT_GATHER_MS : GATHER_MS);
    while (Date.now() < until && (expect === 0 || this.queued.length < expect)) await sleep(5);
  }

  private async batch(items: Queued[]): Promise<void> {
    const host = items[0].host;
    const readOnly = items.every((i) => i.op.readOnly);
    const needs = mergeNeeds(items.map((i) => i.op.needs ?? {}));
    let plan: Plan | undefined;
    const results = new Map<Queued, { ok: true; value: unknown } | { ok: false; error: Error }>();
    const decide = (out: string) => {
      const snap = { ...parseSnapshot(out), at: new Date().toISOString() };
      // A refresh never changes a host, not even to finish an interrupted transaction.
      plan = new Plan(readOnly ? { ...snap, pending: undefined } : snap);
      items.forEach((item, i) => {
        try {
          results.set(item, { ok: true, value: plan!.op(String(i), (p) => item.op.apply(p)) });
        } catch (e) {
          if (!(e instanceof ClaimError)) throw e;
          results.set(item, {
            ok: false,
            error: new Error(`${host.target}: ${e.message}${releaseHint(host.target, e.holders)}`),
          });
        }
      });
      if (readOnly) return undefined;
      plan.settle();
      return writeScript(plan, snap, { coalesce: !items.some((i) => i.uncoalesced) });
    };
    const reuse = this.lastRead;
    if (!readOnly) this.lastRead = undefined;
    try {
      if (readOnly && reuse && Date.now() - reuse.at < READ_REUSE_MS && covers(reuse.needs, needs)) {
        decide(reuse.out);
      } else {
        const summary = `${items.length} operation(s): ${items
          .map((i) => i.op.label)
          .slice(0, 3)
          .join(", ")}${items.length > 3 ? ", ..." : ""}`;
        const { read } = await host.transaction(snapshotRead({ ...needs, files: Object.values(BOOT_FILES) }), decide, summary);
        if (readOnly) this.lastRead = { at: Date.now(), out: read, needs };
      }
    } catch (e) {
      return this.failed(items, e as Error, plan);
    }
    for (const item of items) {
      const r = results.get(item)!;
      if (r.ok) item.resolve(r.value);
      else item.reject(r.error);
    }
  }

  /**
   * The write failed part-way. The operation whose commands failed gets the error; the others
   * go again in the next batch, where what the failed script applied for them stays applied
   * (Plan.settle undoes only what nobody claims again). When the failure is in a shared
   * `ipvsadm -R` (a range of operations), every operation goes again with its rules on their
   * own, so the next failure names the one at fault.
   */
  private failed(items: Queued[], e: Error, plan: Plan | undefined): void {
    const marker = e instanceof RemoteCommandError ? [...e.stdout.matchAll(new RegExp(`^${GROUP} (\\S+)$`, "gm"))].pop()?.[1] : undefined;
    if (marker?.includes("-") && items.every((i) => !i.uncoalesced)) {
      for (const item of items) this.queued.push({ ...item, uncoalesced: true });
      return;
    }
    const label = marker !== undefined && marker !== "boot" ? plan?.groups[Number(marker)]?.label : undefined;
    const culprit = label !== undefined && /^\d+$/.test(label) ? items[Number(label)] : undefined;
    for (const item of items) {
      if (item === culprit || !culprit) item.reject(e);
      else if (item.retries >= MAX_RETRIES) item.reject(new Error(`${e.message} (while applying ${culprit.op.label} in the same batch)`));
      else this.queued.push({ ...item, retries: item.retries + 1 });
    }
  }
}

/**
 * The queue of a machine: every resource on that host goes through it, whichever user or key
 * reaches it, so one process never waits on its own host lock. Each batch still goes over the
 * connection its operations came with: one user's changes never run with another's credentials.
 */
const queues = new Map<string, HostQueue>();
export function queueOf(host: Host): { submit<R>(op: Op<R>): Promise<R> } {
  let q = queues.get(host.machine);
  if (!q) queues.set(host.machine, (q = new HostQueue(host)));
  const queue = q;
  return { submit: (op) => queue.submit(op, host) };
}
