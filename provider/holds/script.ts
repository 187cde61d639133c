// The write of a transaction: the plan's groups rendered to one shell script, intent first
// and commit last, each group after a marker line, so a failure names the group it stopped in
// (stoppedIn). Pure: the text only; runtime/host-queue.ts sends it.
import { BOOT_FILES, bootCommands, sha256 } from "../remote/boot";
import { Ledger } from "../ledger";
import { bootFiles } from "./boot-files";
import { Command, LEDGER, LEDGER_NEXT, RuleChange, STATE_DIR, SchedulerModule, ipvs, q } from "../remote/commands";
import { nftCommands } from "../remote/nftables";
import { keepalivedCommands } from "../remote/keepalived";
import { Plan, Snapshot } from "./plan";

/** The marker line before each group: `pulumi-lvs-group <index>` (or a range, or a named step). */
const GROUP = "pulumi-lvs-group";

/** Steps of a script that belong to no operation of the plan. */
const STEPS = ["keepalived", "nftables", "boot"] as const;
/**
 * Where a failed script stopped: in the plan's groups (one, or the several whose rules went in
 * one `ipvsadm -R`), or in a step of its own (keepalived's config test, our nftables table, the
 * boot files and the commit); undefined when it stopped before its first marker (the intent).
 */
export type StoppedIn = { groups: number[] } | { step: (typeof STEPS)[number] } | undefined;

/** Where a failed script stopped, from the last marker line it printed (write writes them). */
export function stoppedIn(stdout: string): StoppedIn {
  const last = [...stdout.matchAll(new RegExp(`^${GROUP} (\\S+)$`, "gm"))].pop()?.[1];
  if (last === undefined) return undefined;
  const step = STEPS.find((s) => s === last);
  if (step) return { step };
  const range = /^(\d+)(?:-(\d+))?$/.exec(last);
  if (!range) return undefined;
  const [from, to] = [Number(range[1]), Number(range[2] ?? range[1])];
  return { groups: Array.from({ length: to - from + 1 }, (_, i) => from + i) };
}

/**
 * The write of a transaction (undefined when nothing changes; intent first, commit last), and
 * whether the host is settled once it ran: not when keepalived applies part of it on its own, a
 * moment later (a reload, a restart), so a read right after it could see IPVS half way. The
 * session then ends with that write, and the next batch reads anew. `rulesOnly`: it changes
 * IPVS rules (loading a scheduler's module for them), the ledger and the boot files and
 * nothing else, and `ours` (then set) is what it leaves of those files, so the read after it
 * need read the IPVS table only (commands.snapshotRead's `rulesOnly`).
 */
export function write(
  plan: Plan,
  snap: Snapshot,
  { coalesce = true } = {},
): { script: string | undefined; settled: boolean; rulesOnly: boolean; ours: Ours | undefined } {
  const ka = keepalivedCommands(snap.ledger, plan.ledger, snap.keepalived, snap.files ?? {}, plan.keepalivedRestart);
  const marks = nftCommands(snap.ledger, plan.ledger, snap.nft);
  const settled = !ka.before.length && !ka.after.length && !plan.keepalivedRestart;
  const boot = bootFiles(plan.ledger);
  const ours =
    settled && !marks.length && plan.groups.every((g) => g.commands.every((c) => c instanceof RuleChange || c instanceof SchedulerModule))
      ? oursAfter(plan, snap, boot)
      : undefined;
  return { script: scriptOf(plan, snap, boot, ka, marks, coalesce), settled, rulesOnly: !!ours, ours };
}

/**
 * Our own files as a write leaves them once it ran whole: the ledger and the boot files' hashes.
 * Only pulumi-lvs writes them, under the host lock, so within a session they need no read back
 * (at a thousand backends the ledger alone is 430 kB a round). Undefined when that is not
 * certain: the ledger emptied (its directory goes), or the unit or restore script possibly
 * removed (bootCommands removes them only when nothing else of ours is left).
 */
export type Ours = { ledger: Ledger; files: Record<string, string> };
function oursAfter(plan: Plan, snap: Snapshot, boot: Record<string, string | null>): Ours | undefined {
  if (!Object.keys(plan.ledger.entries).length) return undefined;
  const files = { ...(snap.files ?? {}) };
  for (const [file, content] of Object.entries(boot)) {
    if (content !== null) files[file] = sha256(content);
    else if (!files[file]) continue;
    else if (file === BOOT_FILES.unit || file === BOOT_FILES.restore) return undefined;
    else delete files[file];
  }
  return { ledger: plan.ledger, files };
}

function scriptOf(
  plan: Plan,
  snap: Snapshot,
  bootWanted: Record<string, string | null>,
  ka: ReturnType<typeof keepalivedCommands>,
  marks: string[],
  coalesce: boolean,
): string | undefined {
  const files = snap.files ?? {};
  const groups = plan.groups.map((g, i) => ({ ...g, i })).filter((g) => g.commands.length);
  const boot = bootCommands(bootWanted, files);
  const ledger = plan.ledgerChanged();
  if (!ledger && !groups.length && !boot.length && !ka.before.length && !ka.after.length && !marks.length) return undefined;
  const empty = Object.keys(plan.ledger.entries).length === 0;
  return [
    "umask 022",
    ...(ledger
      ? // By the shell itself (printf), no process spawned: a spawn costs ~30 ms on a small VM.
        [`[ -d ${q(STATE_DIR)} ] || mkdir -p ${q(STATE_DIR)}`, `printf '%s\\n' ${q(JSON.stringify(plan.ledger))} > ${q(LEDGER_NEXT)}`]
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
const marked = (g: Group): string[] => [`echo '${GROUP} ${g.i}'`, ...restoring(g.commands)];

/**
 * Commands as shell text, consecutive plain IPVS rule changes as one `ipvsadm -R`: one process
 * for a service's whole pool, not one each (about 30 ms apiece on a small VM). They are one
 * operation's, so a failure among them names the same operation either way.
 */
function restoring(commands: Command[]): string[] {
  const out: string[] = [];
  let rules: RuleChange[] = [];
  const flush = () => {
    out.push(...(rules.length > 1 ? ipvs.restore(rules.map((r) => r.line!)) : rules.map(String)));
    rules = [];
  };
  for (const c of commands) {
    if (c instanceof RuleChange && c.line !== undefined) rules.push(c);
    else {
      flush();
      out.push(String(c));
    }
  }
  flush();
  return out;
}

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
