// What the bench prints: the figures of every column, their ratios to the baseline, what each
// step did, and issue 20's targets for the pulumi-lvs columns (with the dynamic floor's figure for each, when it ran).
import { Measure } from "./stack";
import { Column, ColumnKey, PARALLEL, REPEATS, Results, RTT_MS, SPEC, Step, STEP_TITLES, STEPS, TITLES, WEIGHTS } from "./settings";

export const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(a < b ? 2 : 1)}x`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("   ")
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join("\n");
}

/** Issue 20's targets for one pulumi-lvs column, against the baseline and @pulumi/command of the same run. */
function printTargets(
  key: "lvs" | "lvs-inline",
  lvs: Results,
  base: Results | undefined,
  perRule: Results | undefined,
  floor: Results | undefined,
): void {
  const shape = key === "lvs" ? `${SPEC.backends} RealServers` : `${SPEC.backends} backends inline`;
  // One resource per backend costs at least what the same resources cost served by a provider that
  // does nothing: next to each timed target, whether that floor itself meets it (when it ran).
  const onFloor = key === "lvs" ? floor : undefined;
  console.log("");
  console.log(
    `targets (${TITLES[key]}, ${SPEC.services} VirtualService(s) + ${shape}, 1 host, --parallel ${PARALLEL ?? 8}, ${RTT_MS} ms added delay)` +
      (onFloor ? "; last column: the dynamic floor's figure for the same target (no pulumi.dynamic provider does better)" : ""),
  );
  type Verdict = { text: string; ok: boolean | undefined };
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "met" : "NOT MET");
  const rows: string[][] = [];
  const target = (name: string, v: Verdict, floorV?: Verdict) =>
    rows.push([name, v.text, verdict(v.ok), ...(onFloor ? [floorV ? `floor ${floorV.text} ${verdict(floorV.ok)}` : ""] : [])]);
  const within = (a: Measure | undefined, b: Measure | undefined, limit: number): Verdict =>
    a && b ? { text: `${secs(a.ms)} / ${secs(b.ms)} = ${ratio(a.ms, b.ms)}`, ok: a.ms <= limit * b.ms } : { text: "-", ok: undefined };
  const under = (m: Measure | undefined, limitMs: number): Verdict => ({ text: m ? secs(m.ms) : "-", ok: m && m.ms < limitMs });
  // At --parallel 64 the engine feeds whole services at once: the issue asks 3x there, 5x at its default.
  const limit = (PARALLEL ?? 0) >= 64 ? 3 : 5;
  for (const step of ["create", "destroy"] as const)
    target(
      `${step} <= ${limit}x baseline (empty up + one ssh ipvsadm -R)`,
      within(lvs[step], base?.[step], limit),
      onFloor && within(onFloor[step], base?.[step], limit),
    );
  // @pulumi/command with one remote.Command per ipvsadm rule: as many resources as RealServers.
  target(
    "no-op up <= 1.2x @pulumi/command's (one remote.Command per rule)",
    within(lvs.noop, perRule?.noop, 1.2),
    onFloor && within(onFloor.noop, perRule?.noop, 1.2),
  );
  target("refresh <= 1x its no-op up", within(lvs.refresh, lvs.noop, 1));
  target("no-op up opens no SSH session", { text: lvs.noop ? `${lvs.noop.ssh} session(s)` : "-", ok: lvs.noop && lvs.noop.ssh === 0 });
  target("refresh opens at most one SSH session per host", {
    text: lvs.refresh ? `${lvs.refresh.ssh} session(s), 1 host` : "-",
    ok: lvs.refresh && lvs.refresh.ssh <= 1,
  });
  if (RTT_MS)
    target(
      "create <= @pulumi/command's per-rule create / 10",
      within(lvs.create, perRule?.create, 0.1),
      onFloor && within(onFloor.create, perRule?.create, 0.1),
    );
  if (SPEC.backends >= 1000)
    for (const step of ["create", "destroy"] as const)
      target(`${step} of ${SPEC.backends} backends < 60 s`, under(lvs[step], 60_000), onFloor && under(onFloor[step], 60_000));
  console.log(
    table(["", "", "", ...(onFloor ? [""] : [])], rows)
      .split("\n")
      .slice(1)
      .map((l) => `  ${l}`)
      .join("\n"),
  );
  if (onFloor) {
    const of = (a: Measure | undefined, b: Measure | undefined) => (a && b ? ratio(a.ms, b.ms) : "-");
    console.log(
      `  pulumi-lvs's create, destroy and no-op up are ${of(lvs.create, onFloor.create)}, ${of(lvs.destroy, onFloor.destroy)} ` +
        `and ${of(lvs.noop, onFloor.noop)} the dynamic floor's`,
    );
  }
}

/** Every column's figures, ratios and steps, then the targets of each pulumi-lvs column that ran. */
export function printReport(cols: Partial<Record<ColumnKey, Column>>, shown: ColumnKey[]): void {
  const cell = (c: Column | undefined, s: Step) => {
    const m = c?.results[s];
    if (!m) return c?.skipped ? "not run" : c?.error && STEPS.find((x) => !c.results[x]) === s ? "failed" : "-";
    return `${secs(m.ms)} ${String(m.ssh).padStart(4)} ssh`;
  };
  console.log("");
  console.log(
    table(
      ["", ...shown.map((k) => TITLES[k])],
      STEPS.map((s) => [STEP_TITLES[s], ...shown.map((k) => cell(cols[k], s))]),
    ),
  );

  const base = cols.baseline;
  if (base && !base.error) {
    console.log("");
    console.log("time relative to the baseline (same step)");
    const others = shown.filter((k) => k !== "baseline");
    console.log(
      table(
        ["", ...others.map((k) => TITLES[k])],
        STEPS.map((s) => [
          STEP_TITLES[s],
          ...others.map((k) => {
            const m = cols[k]?.results[s];
            const b = base.results[s];
            return m && b ? ratio(m.ms, b.ms) : "-";
          }),
        ]),
      ),
    );
    const x = base.extra!;
    console.log("");
    console.log(
      `baseline parts: empty program up ${secs(x["empty up"])} (median of ${REPEATS}), refresh ${secs(x["empty refresh"])} (median of ${REPEATS}); ` +
        `one ssh: ipvsadm -R create ${secs(x["ssh -R create"])}, ${WEIGHTS} edits ${secs(x["ssh -R edit"])}, delete ${secs(x["ssh -R delete"])}, ` +
        `ipvsadm -S -n read ${secs(x["ssh -S read"])}`,
    );
  }

  const ran = shown.filter((k) => !cols[k]!.skipped);
  if (ran.length) {
    console.log("");
    console.log("what each step did (the engine's resource summary)");
  }
  for (const k of ran) {
    const c = cols[k]!;
    console.log(`  ${TITLES[k]}: ${STEPS.map((s) => `${STEP_TITLES[s]}: ${c.results[s]?.summary || "-"}`).join("; ")}`);
  }

  // --- targets: issue 20's, for the run's parallelism and link
  for (const k of ["lvs", "lvs-inline"] as const) {
    const results = cols[k]?.results;
    if (results && Object.keys(results).length)
      printTargets(k, results, base?.results, cols["command-per-rule"]?.results, cols["dynamic-floor"]?.results);
  }
}
