// Coalesces the operations on one host into transactions: every operation that arrives while
// a transaction is in flight goes out with the next one, so a hundred resources on a director
// cost a handful of round trips, not a hundred. One transaction = one locked session: read
// everything (holds/plan.ts decides on it), then one script with every change. Results and
// errors go back to the operation that asked; one operation's refusal fails only it.
import { BOOT_FILES, bootCommands, bootFiles } from "../remote/boot";
import { LEDGER, LEDGER_NEXT, STATE_DIR, q, snapshotRead } from "../remote/commands";
import { namedSections, parseHashes, parseIpAddr, parseIpvsSave, mergeThresholds, parseRoutes, parseSysctls } from "../remote/parsers";
import { Host, RemoteCommandError } from "../remote/ssh";
import { parseLedger } from "../holds/ledger";
import { ClaimError, Plan, Snapshot } from "../holds/plan";

/** One operation of a batch: what it needs read, and what it decides on the snapshot. */
export interface Op<R> {
  /** Names the resource in errors. */
  label: string;
  /** Reads only: never changes the host (refresh). */
  readOnly?: boolean;
  needs?: { ipvs?: boolean; sysctls?: string[]; routes?: string[] };
  apply(plan: Plan): R;
}

interface Queued {
  op: Op<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  retried: boolean;
}

/** How long the first operation waits for others to join its batch. */
const GATHER_MS = 25;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GROUP = "pulumi-lvs-group";

export function parseSnapshot(out: string): Snapshot & { files: Record<string, string> } {
  const s = namedSections(out);
  return {
    ledger: parseLedger(s.ledger ?? "", LEDGER),
    pending: s.pending?.trim() ? parseLedger(s.pending, LEDGER_NEXT) : undefined,
    addrs: parseIpAddr(s.addrs ?? ""),
    sysctls: parseSysctls(s.sysctls ?? ""),
    ipvs: "thresholds" in s ? mergeThresholds(parseIpvsSave(s.ipvs ?? ""), s.thresholds) : undefined,
    routes: parseRoutes(s.routes ?? ""),
    files: parseHashes(s.files ?? ""),
  };
}

/** The write of a transaction, or undefined when nothing changes. Intent first, commit last. */
export function writeScript(plan: Plan, files: Record<string, string>): string | undefined {
  const groups = plan.groups.map((g, i) => ({ ...g, i })).filter((g) => g.commands.length);
  const boot = bootCommands(bootFiles(plan.ledger), files);
  const ledger = plan.ledgerChanged();
  if (!ledger && !groups.length && !boot.length) return undefined;
  const empty = Object.keys(plan.ledger.entries).length === 0;
  return [
    "umask 022",
    ...(ledger
      ? [`mkdir -p ${q(STATE_DIR)}`, `cat > ${q(LEDGER_NEXT)} <<'PULUMI_LVS_LEDGER'`, JSON.stringify(plan.ledger), "PULUMI_LVS_LEDGER"]
      : []),
    ...groups.flatMap((g) => [`echo '${GROUP} ${g.i}'`, ...g.commands]),
    `echo '${GROUP} boot'`,
    ...boot,
    ...(ledger ? [empty ? `rm -rf ${q(STATE_DIR)}` : `mv ${q(LEDGER_NEXT)} ${q(LEDGER)}`] : []),
  ].join("\n");
}

export class HostQueue {
  private queued: Queued[] = [];
  private running = false;
  constructor(private readonly host: Host) {}

  submit<R>(op: Op<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queued.push({ op, resolve: resolve as (v: unknown) => void, reject, retried: false });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    await sleep(GATHER_MS);
    while (this.queued.length) await this.batch(this.queued.splice(0));
    this.running = false;
  }

  private async batch(items: Queued[]): Promise<void> {
    const readOnly = items.every((i) => i.op.readOnly);
    const needs = items.map((i) => i.op.needs ?? {});
    const read = snapshotRead({
      preflight: needs.some((n) => n.ipvs),
      sysctls: [...new Set(needs.flatMap((n) => n.sysctls ?? []))],
      routes: [...new Set(needs.flatMap((n) => n.routes ?? []))],
      files: Object.values(BOOT_FILES),
    });
    let plan: Plan | undefined;
    const results = new Map<Queued, { ok: true; value: unknown } | { ok: false; error: Error }>();
    try {
      await this.host.transaction(
        read,
        (out) => {
          const snap = parseSnapshot(out);
          // A refresh never changes a host, not even to finish an interrupted transaction.
          plan = new Plan(readOnly ? { ...snap, pending: undefined } : snap);
          items.forEach((item, i) => {
            try {
              results.set(item, { ok: true, value: plan!.op(String(i), (p) => item.op.apply(p)) });
            } catch (e) {
              if (!(e instanceof ClaimError)) throw e;
              results.set(item, { ok: false, error: new Error(`${this.host.target}: ${e.message}`) });
            }
          });
          return readOnly ? undefined : writeScript(plan, snap.files);
        },
        `${items.length} operation(s): ${items
          .map((i) => i.op.label)
          .slice(0, 3)
          .join(", ")}${items.length > 3 ? ", ..." : ""}`,
      );
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
   * go again once in the next batch, which first undoes what the failed script left half done.
   */
  private failed(items: Queued[], e: Error, plan: Plan | undefined): void {
    const marker = e instanceof RemoteCommandError ? [...e.stdout.matchAll(new RegExp(`^${GROUP} (\\S+)$`, "gm"))].pop()?.[1] : undefined;
    const label = marker !== undefined && marker !== "boot" ? plan?.groups[Number(marker)]?.label : undefined;
    const culprit = label !== undefined && /^\d+$/.test(label) ? items[Number(label)] : undefined;
    for (const item of items) {
      if (item === culprit || item.retried || !culprit) {
        item.reject(item === culprit || !culprit ? e : new Error(`${e.message} (while applying ${culprit.op.label} in the same batch)`));
      } else {
        item.retried = true;
        this.queued.push(item);
      }
    }
  }
}

const queues = new WeakMap<Host, HostQueue>();
/** The queue of a shared connection: every resource on that host goes through it. */
export function queueOf(host: Host): HostQueue {
  let q = queues.get(host);
  if (!q) queues.set(host, (q = new HostQueue(host)));
  return q;
}
