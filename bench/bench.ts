// `make bench`: pulumi-lvs against the VM lab's director through the real `pulumi` CLI,
// next to the baselines measured in the same run. For each column it times create,
// no-op up, refresh, a weight update and destroy, and counts the SSH sessions each step
// opened (sshd's "Accepted publickey for root" lines in the director's journal).
//
// Columns (programs in bench/programs/):
//   pulumi-lvs      one VirtualService per service, one RealServer per backend
//   lvs/inline      one VirtualService per service with its backends inline (`realServers`)
//   baseline        an empty program's `pulumi up` (refresh: `pulumi refresh`) plus one
//                   `ssh` running `ipvsadm -R` with the same rules (refresh: `ipvsadm -S -n`)
//   command/rule    @pulumi/command: one remote.Command per ipvsadm rule
//   command/script  @pulumi/command: one remote.Command feeding every rule to `ipvsadm -R`
//   dynamic floor   the pulumi-lvs column's resources registered as pulumi-lvs registers them, served
//                   by a dynamic provider that does nothing (no SSH): what Pulumi's engine, SDK and
//                   dynamic provider cost per resource, below which no pulumi.dynamic provider goes
// The two command columns run only when a `pulumi-resource-command` plugin is on PATH.
//
// Prints figures, ratios and whether the targets are met; asserts nothing about time.
// Exits non-zero only when a step fails. Environment:
//   BENCH_N        backends (default 100)
//   BENCH_SERVICES services (default 1; 10 when BENCH_N >= 1000)
//   BENCH_WEIGHTS  backends whose weight the update step changes (default 10)
//   BENCH_COLUMNS  comma-separated subset of: lvs,lvs-inline,baseline,command-per-rule,command-script,dynamic-floor
//   BENCH_PERSIST  pulumi-lvs's `persist` (default true, the provider's default)
//   BENCH_LOG_DIR  where each pulumi run's output is kept (default: a new temp dir)
//   BENCH_STEP_TIMEOUT_MIN  per pulumi command (default 120)
//   BENCH_PARALLEL `pulumi --parallel` for every column (default: the engine's, 8)
//   BENCH_RTT_MS   milliseconds of delay added to the director's management link (its eth0, where
//                  SSH arrives) for every column, baselines included: `tc qdisc ... netem delay`,
//                  removed when the bench ends (default 0: none)
//   PULUMI_LVS_LAB_DIR, LAB_SSH_BASE_PORT  which lab (test/lab/lab.sh reads them)
//   PULUMI_SKIP_CHECKPOINTS  passed to pulumi as it is (every column): the engine then writes the
//                  state once at the end instead of twice per step; the header says which
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LabHost, REPO, SshdLog, asOps, hr, labStatus, sshOnce } from "./lab";
import { Measure, Stack } from "./stack";
import { PlannedService, createLines, deleteLines, editChangedLines, plan } from "./rules";
import { printReport, secs } from "./report";
import {
  COLUMNS,
  Column,
  ColumnKey,
  MANAGEMENT_DEV,
  PARALLEL,
  PERSIST,
  REPEATS,
  RTT_MS,
  SPEC,
  STEP_TIMEOUT_MS,
  TITLES,
  WEIGHTS,
} from "./settings";

// ---------------------------------------------------------------------------- measuring

const sshLog = new SshdLog();

const median = (ms: Measure[]): Measure => ({
  ...[...ms].sort((a, b) => a.ms - b.ms)[Math.floor(ms.length / 2)],
  ssh: Math.max(...ms.map((m) => m.ssh)),
});

/** `fn` measured REPEATS times in a row, its median kept. */
async function medianOf(fn: () => Promise<{ ms: number; summary?: string }>): Promise<Measure> {
  const ms: Measure[] = [];
  for (let i = 0; i < REPEATS; i++) ms.push(await measured(fn));
  return median(ms);
}

async function measured<T extends { ms: number; summary?: string }>(fn: () => Promise<T> | T): Promise<Measure> {
  const cursor = sshLog.mark();
  const r = await fn();
  return { ms: r.ms, ssh: sshLog.sessionsSince(cursor), summary: r.summary };
}

/** The bench's rules on the director now: `ipvsadm -S -n` lines for the bench VIP. */
function liveRules(): string[] {
  return asOps("ipvsadm -S -n")
    .split("\n")
    .filter((l) => l.includes(`-t ${SPEC.vip}:`));
}

/**
 * The director's bench rules are exactly `want` (`ipvsadm -S -n` prints the lines createLines
 * writes): every service and backend with its scheduler, forwarding and weight, nothing more.
 */
function expectRules(when: string, want: string[], problems: string[]): void {
  const live = new Set(liveRules());
  const missing = want.filter((l) => !live.has(l));
  const wanted = new Set(want);
  const extra = [...live].filter((l) => !wanted.has(l));
  if (!missing.length && !extra.length) return;
  const some = (ls: string[]) => ls.slice(0, 3).join("; ") + (ls.length > 3 ? "; ..." : "");
  problems.push(
    `${when}: the director's bench rules differ from the ${want.length} expected` +
      (missing.length ? `; ${missing.length} missing (${some(missing)})` : "") +
      (extra.length ? `; ${extra.length} unexpected (${some(extra)})` : ""),
  );
}

/** Removes rules an interrupted run left on the bench VIP (only ever used by the bench). */
function clearLeftovers(): void {
  const services = liveRules()
    .filter((l) => l.startsWith("-A "))
    .map((l) => l.split(" ").slice(1, 3).join(" "));
  if (!services.length) return;
  console.log(`note: removing ${services.length} IPVS service(s) on ${SPEC.vip} left by an earlier, interrupted run`);
  asOps(services.map((s) => `ipvsadm -D ${s}`).join("; "));
}

const weighted = (w: number): PlannedService[] => plan({ ...SPEC, weighted: w });

function baseConfig(director: LabHost, weights: number, inline = false): Record<string, unknown> {
  return {
    host: director.sshHost,
    port: director.sshPort,
    user: "root",
    privateKeyPath: director.keyPath,
    backends: SPEC.backends,
    services: SPEC.services,
    vip: SPEC.vip,
    basePort: SPEC.basePort,
    weighted: weights,
    persist: PERSIST,
    inline,
  };
}

/** create, no-op up, refresh, update, destroy of one program; the stack is destroyed and removed in any case. */
async function runProgram(column: ColumnKey, director: LabHost, logDir: string): Promise<Column> {
  const col: Column = { results: {}, problems: [] };
  const inline = column === "lvs-inline";
  // The floor's provider never touches the director: there are no rules of its own to check.
  const expect = column === "dynamic-floor" ? () => undefined : expectRules;
  const stack = new Stack(inline ? "lvs" : column, logDir, STEP_TIMEOUT_MS, PARALLEL, column);
  let created = false;
  try {
    await stack.init();
    stack.setConfig(baseConfig(director, 0, inline));
    created = true;
    col.results.create = await measured(stack.up);
    expect("after create", createLines(weighted(0)), col.problems);
    // The no-op up and the refresh are the cheapest steps and the ones compared with each other:
    // each is taken REPEATS times, in turn, and its median kept.
    const noops: Measure[] = [];
    const refreshes: Measure[] = [];
    for (let i = 0; i < REPEATS; i++) {
      noops.push(await measured(stack.up));
      refreshes.push(await measured(stack.refresh));
    }
    col.results.noop = median(noops);
    col.results.refresh = median(refreshes);
    stack.setConfig(baseConfig(director, WEIGHTS, inline));
    col.results.update = await measured(stack.up);
    expect("after update", createLines(weighted(WEIGHTS)), col.problems);
    col.results.destroy = await measured(stack.destroy);
    created = false;
    expect("after destroy", [], col.problems);
  } catch (e) {
    col.error = (e as Error).message;
    if (created) await stack.destroy().catch((d: Error) => col.problems.push(`cleanup destroy failed too: ${d.message.split("\n")[0]}`));
  } finally {
    await stack.remove();
  }
  return col;
}

/** The empty program's up (or refresh), each plus one ssh doing the step's IPVS work in one go. */
async function runBaseline(director: LabHost, logDir: string): Promise<Column> {
  const col: Column = { results: {}, problems: [], extra: {} };
  const stack = new Stack("empty", logDir, STEP_TIMEOUT_MS, PARALLEL);
  const before = weighted(0);
  const after = weighted(WEIGHTS);
  const add = (a: Measure, b: Measure, summary?: string): Measure => ({ ms: a.ms + b.ms, ssh: a.ssh + b.ssh, summary });
  try {
    await stack.init();
    stack.setConfig(baseConfig(director, 0));
    await stack.run("preview"); // warms the disk cache for the first measured run of the whole bench
    // The first up creates the stack's root resource, the others change nothing: for an empty
    // program they cost the same, so the median of REPEATS steadies the figure every target uses.
    const up = await medianOf(stack.up);
    const refresh = await medianOf(stack.refresh);
    const sshCreate = await measured(() => sshOnce(director, "ipvsadm -R", createLines(before).join("\n") + "\n", STEP_TIMEOUT_MS));
    expectRules("after ipvsadm -R (create)", createLines(before), col.problems);
    const sshRead = await measured(() => sshOnce(director, "ipvsadm -S -n; ipvsadm -L -n --thresholds", "", STEP_TIMEOUT_MS));
    const sshEdit = await measured(() =>
      sshOnce(director, "ipvsadm -R", editChangedLines(before, after).join("\n") + "\n", STEP_TIMEOUT_MS),
    );
    expectRules("after ipvsadm -R (edit)", createLines(after), col.problems);
    const sshDelete = await measured(() => sshOnce(director, "ipvsadm -R", deleteLines(after).join("\n") + "\n", STEP_TIMEOUT_MS));
    expectRules("after ipvsadm -R (delete)", [], col.problems);
    col.results = {
      create: add(up, sshCreate, "empty up + ssh ipvsadm -R"),
      noop: { ...up, summary: "empty up" },
      refresh: add(refresh, sshRead, "empty refresh + ssh ipvsadm -S -n"),
      update: add(up, sshEdit, `empty up + ssh ipvsadm -R (${WEIGHTS} -e)`),
      destroy: add(up, sshDelete, "empty up + ssh ipvsadm -R (-d, -D)"),
    };
    Object.assign(col.extra!, {
      "empty up": up.ms,
      "empty refresh": refresh.ms,
      "ssh -R create": sshCreate.ms,
      "ssh -S read": sshRead.ms,
      "ssh -R edit": sshEdit.ms,
      "ssh -R delete": sshDelete.ms,
    });
    await stack.destroy();
  } catch (e) {
    col.error = (e as Error).message;
    try {
      clearLeftovers();
    } catch {
      /* reported by the next run */
    }
  } finally {
    await stack.remove();
  }
  return col;
}

/** Delays every packet the director sends on its management link by RTT_MS (so each round trip by as much); 0 removes it. */
function setLinkDelay(ms: number): void {
  asOps(
    ms > 0
      ? `modprobe sch_netem && tc qdisc replace dev ${MANAGEMENT_DEV} root netem delay ${ms}ms`
      : `tc qdisc del dev ${MANAGEMENT_DEV} root 2>/dev/null || true`,
  );
}

function onPath(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? "").split(path.delimiter)) {
    const f = path.join(d || ".", bin);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return undefined;
}

async function main(): Promise<number> {
  if (!RTT_MS) return measureAll();
  setLinkDelay(RTT_MS);
  try {
    return await measureAll();
  } finally {
    setLinkDelay(0);
  }
}

async function measureAll(): Promise<number> {
  const lab = labStatus();
  const director = lab.hosts.find((h) => h.name === "director");
  if (!director?.running) {
    throw new Error(
      `the lab's director is not running (lab ${lab.stateDir}): start it with \`bash test/lab/lab.sh up director\` (make bench does this)`,
    );
  }
  const pulumi = onPath("pulumi");
  if (!pulumi) throw new Error("no pulumi on PATH: make bench puts the one tools/pulumi/install.sh builds there");
  const pulumiVersion = spawnSync("pulumi", ["version"], { encoding: "utf8" }).stdout.trim();
  const commandVersion = (
    JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/@pulumi/command/package.json"), "utf8")) as { version: string }
  ).version;
  const commandPlugin = onPath("pulumi-resource-command");

  const logDir = process.env.BENCH_LOG_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-bench-logs-"));
  fs.mkdirSync(logDir, { recursive: true });
  console.log(
    `pulumi-lvs bench: ${SPEC.backends} backends in ${SPEC.services} service(s) on ${SPEC.vip}, update changes ${WEIGHTS} weights; persist ${PERSIST}; ` +
      `--parallel ${PARALLEL ?? "not set (the engine's default)"}; ` +
      `management link delay ${RTT_MS ? `${RTT_MS} ms (netem on the director's ${MANAGEMENT_DEV}, every column)` : "none"}; ` +
      // The engine writes the whole state twice per step unless told not to: at a thousand
      // resources that is most of a run, so the figures say which was measured.
      `engine checkpoints ${/^(1|true)$/i.test(process.env.PULUMI_SKIP_CHECKPOINTS ?? "") ? "skipped (PULUMI_SKIP_CHECKPOINTS)" : "written after every step (the default)"}`,
  );
  console.log(`director root@${director.sshHost}:${director.sshPort} (lab ${lab.stateDir}); pulumi ${pulumiVersion} (${pulumi})`);
  console.log(`pulumi-resource-command: ${commandPlugin ?? "not on PATH"}; logs of every pulumi run: ${logDir}`);
  clearLeftovers();

  const cols: Partial<Record<ColumnKey, Column>> = {};
  const noPlugin =
    `not run: no pulumi-resource-command plugin on PATH. No registry serves it to this machine and automatic plugin ` +
    `acquisition is off (PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true), so the engine looks only on PATH; ` +
    `put a pulumi-resource-command matching @pulumi/command ${commandVersion} there to run them`;
  const order: ColumnKey[] = ["baseline", "lvs", "lvs-inline", "dynamic-floor", "command-per-rule", "command-script"];
  const shown = order.filter((k) => COLUMNS.includes(k));
  for (const key of shown) {
    const t0 = hr();
    process.stdout.write(`running ${TITLES[key]} ... `);
    if ((key === "command-per-rule" || key === "command-script") && !commandPlugin) {
      cols[key] = { results: {}, problems: [], skipped: noPlugin };
      console.log("skipped (no pulumi-resource-command on PATH)");
      continue;
    }
    cols[key] = key === "baseline" ? await runBaseline(director, logDir) : await runProgram(key, director, logDir);
    console.log(cols[key]!.error ? "FAILED" : `done in ${secs(hr() - t0)}`);
  }

  printReport(cols, shown);

  const skipped = shown.filter((k) => cols[k]!.skipped);
  if (skipped.length) console.log(`\n${skipped.map((k) => TITLES[k]).join(", ")}: ${cols[skipped[0]]!.skipped}`);
  let failed = false;
  for (const k of shown) {
    const c = cols[k]!;
    for (const p of c.problems) console.log(`\n${TITLES[k]}: warning: ${p}`);
    if (c.error) {
      failed = true;
      console.log(`\n${TITLES[k]}: FAILED: ${c.error}`);
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`bench: ${e.message}`);
    process.exit(1);
  },
);
