// The bench's settings, read from the environment once (see bench.ts for each variable), and
// what a column's run yields.
import { Measure } from "./stack";
import { BenchSpec } from "./rules";

const intEnv = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
};

const N = intEnv("BENCH_N", 100);
export const SPEC: BenchSpec = {
  backends: N,
  services: Math.max(1, intEnv("BENCH_SERVICES", N >= 1000 ? 10 : 1)),
  weighted: 0,
  vip: "198.51.100.250", // not the lab's test VIP, so a bench never meets the e2e suite's services
  basePort: 8000,
};
export const WEIGHTS = Math.min(intEnv("BENCH_WEIGHTS", 10), N);
export const PERSIST = (process.env.BENCH_PERSIST ?? "true") !== "false";
export const STEP_TIMEOUT_MS = intEnv("BENCH_STEP_TIMEOUT_MIN", 120) * 60_000;
export const PARALLEL = process.env.BENCH_PARALLEL ? intEnv("BENCH_PARALLEL", 0) : undefined;
export const RTT_MS = intEnv("BENCH_RTT_MS", 0);
/** The director's management interface: the lab forwards its SSH port there. */
export const MANAGEMENT_DEV = "eth0";
const ALL_COLUMNS = ["lvs", "lvs-inline", "baseline", "command-per-rule", "command-script", "dynamic-floor"] as const;
export type ColumnKey = (typeof ALL_COLUMNS)[number];
export const COLUMNS: ColumnKey[] = (() => {
  const want = (process.env.BENCH_COLUMNS ?? ALL_COLUMNS.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = want.filter((w) => !(ALL_COLUMNS as readonly string[]).includes(w));
  if (bad.length) throw new Error(`BENCH_COLUMNS: unknown ${bad.join(", ")} (known: ${ALL_COLUMNS.join(", ")})`);
  return ALL_COLUMNS.filter((c) => want.includes(c));
})();
export const TITLES: Record<ColumnKey, string> = {
  lvs: "pulumi-lvs",
  "lvs-inline": "lvs/inline",
  baseline: "baseline",
  "command-per-rule": "command/rule",
  "command-script": "command/script",
  "dynamic-floor": "dynamic floor",
};

export const STEPS = ["create", "noop", "refresh", "update", "destroy"] as const;
export type Step = (typeof STEPS)[number];
export const STEP_TITLES: Record<Step, string> = {
  create: "create",
  noop: "no-op up",
  refresh: "refresh",
  update: `update (${WEIGHTS} weights)`,
  destroy: "destroy",
};

/**
 * How often the cheap steps (no-op up, refresh, the baseline's empty up and refresh) are measured:
 * their median time is kept, with the most SSH sessions any of them opened.
 */
export const REPEATS = 3;

export type Results = Partial<Record<Step, Measure>>;

export interface Column {
  results: Results;
  problems: string[];
  error?: string;
  skipped?: string;
  extra?: Record<string, number>;
}
