// Coalesces the operations on one host into transactions: every operation that arrives while
// a transaction is in flight goes out with the next one, so a hundred resources on a director
// cost a handful of round trips, not a hundred. One transaction = one round of a locked
// session: read everything (holds/snapshot.ts parses it, holds/plan.ts decides on it), then one
// script with every change (holds/script.ts). The session stays open for the next batch a
// little while (the engine sends the next operations as results come back): the host reads
// again right after each round, under the same lock, while the engine turns round, so a burst
// of rounds pays one session and no read of its own (after a round of rules only, the IPVS
// table alone: our own files are as that round wrote them). Results and errors go back to the
// operation that asked; one operation's refusal fails only it.
import { BOOT_FILES } from "../remote/boot";
import { LOCK_TIMEOUT, snapshotRead } from "../remote/commands";
import { namedSections } from "../remote/parsers";
import { Host, RemoteCommandError, Session } from "../remote/ssh";
import { ClaimError, Plan, Snapshot } from "../holds/plan";
import { parseSnapshot } from "../holds/snapshot";
import { Ours, stoppedIn, write } from "../holds/script";

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
 * The first batch waits GATHER_MS; later ones wait up to NEXT_GATHER_MS until as many operations
 * are queued as were ever outstanding at once (an estimate of the engine's parallelism). Taking
 * only those already queued would split the engine's operations into two halves that take turns
 * (one written while the other gathers), each round paying the host's fixed cost for half as many.
 */
const GATHER_MS = 50;
const NEXT_GATHER_MS = 250;
/** A refresh's reads this soon after the last read share it, unless this process wrote since. */
const READ_REUSE_MS = 2000;
/** How long an open session waits for the next batch before it ends (and the host lock is released). */
const SESSION_IDLE_MS = 1000;
/**
 * A session older than this takes no new batch, so that whoever else waits for the host lock gets
 * a turn well within their lock timeout (half of ours, when that is shorter).
 */
const SESSION_MAX_MS = 20_000;
const sessionMaxMs = (host: Host) => Math.min(SESSION_MAX_MS, ((host.lockTimeout ?? LOCK_TIMEOUT) * 1000) / 2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A read's text or sections as the snapshot a plan decides on, stamped with when it was taken. */
const parsed = (out: string | Record<string, string>): Snapshot => ({ ...parseSnapshot(out), at: new Date().toISOString() });
/** The boot files whose hashes every read takes. */
const FILES = Object.values(BOOT_FILES);

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

/** `v` in single quotes, for a person to paste into a shell (commands.q escapes a URN's colons: hard to read). */
const pasteable = (v: string): string => "'" + v.split("'").join("'\\''") + "'";
/** How to remove holders that may be gone (a stack destroyed without them, a run stopped half-way). */
const releaseHint = (target: string, holders: string[]): string =>
  holders.length
    ? `. If ${holders.length > 1 ? "these holders are" : "that holder is"} gone (a stack removed, a run stopped half-way), release ${holders.length > 1 ? "them" : "it"}: ` +
      holders.map((h) => `npx pulumi-lvs ledger release ${target} --owner ${pasteable(h)}`).join("; ")
    : "";

export class HostQueue {
  private queued: Queued[] = [];
  private running = false;
  /**
   * The last read of a refresh, parsed, and the plan made of it: reads that come soon after it
   * share both (READ_REUSE_MS). Read-only operations change no plan, so one plan answers them all
   * (a plan per batch cost O(ledger) each: seconds for a thousand backends).
   */
  private lastRead?: { at: number; plan: Plan; needs: Needs };
  /**
   * Operations submitted and not yet answered, and the most there were at once in this burst. A
   * burst ends when none was outstanding for SESSION_IDLE_MS: a lone operation later (another
   * step of the same run) waits GATHER_MS for company, not the burst's NEXT_GATHER_MS.
   */
  private outstanding = 0;
  private widest = 0;
  private idleSince = 0;
  /** The session kept open after the last write batch, its read the host as that batch left it. */
  private open?: {
    session: Session;
    host: Host;
    needs: Needs;
    idle?: NodeJS.Timeout;
    /** The sections of the session's last read, whole (see snapshotOf). */
    sections: Record<string, string>;
    /** The session's read follows a round of rules only: our files as that round left them. */
    ours?: Ours;
  };
  /** `host`: the connection operations go over unless they name their own (one machine, one queue). */
  constructor(private readonly host: Host) {}

  submit<R>(op: Op<R>, host = this.host): Promise<R> {
    if (this.outstanding === 0 && Date.now() - this.idleSince > SESSION_IDLE_MS) this.widest = 0;
    this.widest = Math.max(this.widest, ++this.outstanding);
    let done = false;
    const answered = () => {
      if (done) return;
      done = true;
      if (--this.outstanding === 0) this.idleSince = Date.now();
    };
    return new Promise<R>((resolve, reject) => {
      this.queued.push({
        op,
        host,
        resolve: (v) => (answered(), resolve(v as R)),
        reject: (e) => (answered(), reject(e)),
        retries: 0,
      });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        // Until more than one operation was ever outstanding, nothing says how many to expect.
        await this.gather(this.widest > 1 ? this.widest : 0);
        // One session per batch: the operations of the first one's connection; the rest wait their turn.
        const items = this.queued.filter((q) => q.host === this.queued[0].host);
        this.queued = this.queued.filter((q) => !items.includes(q));
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

  /**
   * Waits for operations to join: GATHER_MS at first, then until `expect` wait or NEXT_GATHER_MS
   * passed; not at all while the last read answers every queued operation (no host work to share).
   */
  private async gather(expect: number): Promise<void> {
    const until = Date.now() + (expect ? NEXT_GATHER_MS : GATHER_MS);
    while (Date.now() < until && (expect === 0 || this.queued.length < expect) && !this.answerable()) await sleep(5);
  }

  /** Every queued operation only reads, and the last read answers them. */
  private answerable(): boolean {
    return (
      this.queued.length > 0 &&
      this.queued.every((q) => q.op.readOnly) &&
      this.sharedRead(mergeNeeds(this.queued.map((q) => q.op.needs ?? {}))) !== undefined
    );
  }

  /** The last refresh read, when it is young enough and read what `needs` asks. */
  private sharedRead(needs: Needs): Plan | undefined {
    const r = this.lastRead;
    return r && Date.now() - r.at < READ_REUSE_MS && covers(r.needs, needs) ? r.plan : undefined;
  }

  private async batch(items: Queued[]): Promise<void> {
    const host = items[0].host;
    const readOnly = items.every((i) => i.op.readOnly);
    const needs = mergeNeeds(items.map((i) => i.op.needs ?? {}));
    let plan: Plan | undefined;
    const results = new Map<Queued, { ok: true; value: unknown } | { ok: false; error: Error }>();
    /** Runs every operation of the batch on `p`; a refusal fails its operation only. */
    const answer = (p: Plan) => {
      plan = p;
      items.forEach((item, i) => {
        try {
          results.set(item, { ok: true, value: p.op(String(i), (q) => item.op.apply(q)) });
        } catch (e) {
          if (!(e instanceof ClaimError)) throw e;
          results.set(item, {
            ok: false,
            error: new Error(`${host.target}: ${e.message}${releaseHint(host.target, e.holders)}`),
          });
        }
      });
    };
    const decide = (snap: Snapshot) => {
      const p = new Plan(snap);
      answer(p);
      p.settle();
      const w = write(p, snap, { coalesce: !items.some((i) => i.uncoalesced) });
      settled = w.settled;
      ours = w.ours;
      return w.script;
    };
    /** Whether the host is settled after this batch's write, so the session may go on, and what it left of our files when it wrote rules only (see holds/script.write). */
    let settled = false;
    let ours: Ours | undefined;
    const shared = readOnly ? this.sharedRead(needs) : undefined;
    if (!readOnly) this.lastRead = undefined;
    const summary = `${items.length} operation(s): ${items
      .map((i) => i.op.label)
      .slice(0, 3)
      .join(", ")}${items.length > 3 ? ", ..." : ""}`;
    const read = snapshotRead({ ...needs, files: FILES });
    try {
      if (readOnly) {
        // A refresh holds no lock longer than its read: a session kept open for writes ends first.
        await this.closeSession();
        if (shared) answer(shared);
        else {
          const at = Date.now();
          // A refresh never changes a host, not even to finish an interrupted transaction.
          const fresh = new Plan({ ...parsed(await host.readOnce(read, summary)), pending: undefined });
          answer(fresh);
          this.lastRead = { at, plan: fresh, needs };
        }
      } else {
        const session = await this.session(host, needs, read, summary);
        let script: string | undefined;
        try {
          script = decide(this.snapshotOf(await session.read()));
        } catch (e) {
          await this.closeSession();
          throw e;
        }
        // More to come: the host reads again right away, for the next batch (after rules only,
        // only what they change). Not when keepalived still applies part of this write, nor when
        // the session's read loads kernel modules: read again after a write that unloaded one (a
        // TUN backend's destroy), it would load it back.
        if (script !== undefined) {
          const then = !settled || this.open?.needs.modules.length ? undefined : ours ? "reread" : "read";
          if (this.open) this.open.ours = then === "reread" ? ours : undefined;
          await session.write(script, then);
        }
        this.keepOpen();
      }
    } catch (e) {
      if (!readOnly) await this.closeSession();
      return this.failed(items, e as Error, plan);
    }
    for (const item of items) {
      const r = results.get(item)!;
      if (r.ok) item.resolve(r.value);
      else item.reject(r.error);
    }
  }

  /**
   * The session for a batch over `host`: the one kept open when it is that connection's, read
   * what the batch needs, is young enough and its read after the last round came back; else a
   * new one (the open one ended first: one session per machine at a time).
   */
  private async session(host: Host, needs: Needs, read: string, summary: string): Promise<Session> {
    const open = this.open;
    if (open) clearTimeout(open.idle);
    if (
      open &&
      open.host === host &&
      open.session.open &&
      covers(open.needs, needs) &&
      Date.now() - open.session.opened < sessionMaxMs(host)
    ) {
      // A read after the last round that failed (the session died since) costs nothing: open another.
      if (
        await open.session.read().then(
          () => true,
          () => false,
        )
      )
        return open.session;
    }
    await this.closeSession();
    // What the host reads after a round of rules only: fixed for the session, as its needs are.
    const session = await host.open(read, summary, { reread: snapshotRead({ ...needs, files: FILES, rulesOnly: true }) });
    this.open = { session, host, needs, sections: {} };
    return session;
  }

  /**
   * The open session's read: after a round of rules only, the IPVS table the host read again over
   * the rest of the read before it (which that round, under the same lock, did not change), with
   * our files as that round wrote them.
   */
  private snapshotOf(out: string): Snapshot {
    const open = this.open!;
    const read = namedSections(out);
    const ours = open.ours;
    // The last read's ledger, intent and hashes are stale then: not parsed again (430 kB at a
    // thousand backends). The same read again (the batch before it wrote nothing) gives the same.
    open.sections = ours ? { ...open.sections, ...read, ledger: "", pending: "", files: "" } : read;
    const snap = parsed(open.sections);
    return ours ? { ...snap, ledger: ours.ledger, pending: undefined, files: ours.files } : snap;
  }

  /** Ends the open session a while after its last batch, unless another batch takes it first. */
  private keepOpen(): void {
    const open = this.open;
    if (!open) return;
    open.idle = setTimeout(() => void this.closeSession(), SESSION_IDLE_MS);
    open.idle.unref?.();
  }

  private async closeSession(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    if (!open) return;
    clearTimeout(open.idle);
    await open.session.close();
  }

  /**
   * The write failed part-way. The operation whose commands failed gets the error; the others
   * go again in the next batch, where what the failed script applied for them stays applied
   * (Plan.settle undoes only what nobody claims again). When the failure is in a shared
   * `ipvsadm -R` (a range of operations), every operation goes again with its rules on their
   * own, so the next failure names the one at fault.
   */
  private failed(items: Queued[], e: Error, plan: Plan | undefined): void {
    const at = e instanceof RemoteCommandError ? stoppedIn(e.stdout) : undefined;
    const groups = at && "groups" in at ? at.groups : [];
    if (groups.length > 1 && items.every((i) => !i.uncoalesced)) {
      for (const item of items) this.queued.push({ ...item, uncoalesced: true });
      return;
    }
    // Each operation's group is labelled with its index in the batch (batch() names them so).
    const label = groups.length === 1 ? plan?.groups[groups[0]]?.label : undefined;
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
