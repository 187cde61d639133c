// Where the end-to-end suite's time went, from the lines test/e2e/harness.ts appends to
// PULUMI_LVS_E2E_TIMINGS ({ test, what, start, end }): per test file, the wall time spent in
// pulumi runs, in lab VM operations (reboot, stop, start, up, host-key rotation) and in host probes, each the union of
// its intervals (reboots run side by side count once), and the rest (waits, requests, setup).
//   node tools/e2e-timings.js FILE
const fs = require("fs");

const CATEGORIES = [
  ["pulumi", (w) => w.startsWith("pulumi ")],
  ["lab VMs", (w) => w.startsWith("lab ")],
  ["probes", (w) => w === "host probe"],
];

/** Seconds covered by the union of [start, end] intervals. */
function covered(intervals) {
  let total = 0;
  let until = -Infinity;
  for (const [s, e] of [...intervals].sort((a, b) => a[0] - b[0])) {
    if (e <= until) continue;
    total += e - Math.max(s, until);
    until = e;
  }
  return total / 1000;
}

const file = process.argv[2];
if (!file || !fs.existsSync(file)) {
  console.error(`e2e-timings: no timings file ${file ?? "(none given)"}`);
  process.exit(1);
}
const byTest = new Map();
for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
  const r = JSON.parse(line);
  if (!byTest.has(r.test)) byTest.set(r.test, []);
  byTest.get(r.test).push(r);
}
const rows = [...byTest].map(([test, rs]) => {
  const span = (Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.start))) / 1000;
  const parts = CATEGORIES.map(([, is]) => covered(rs.filter((r) => is(r.what)).map((r) => [r.start, r.end])));
  const all = covered(rs.map((r) => [r.start, r.end]));
  const runs = rs.filter((r) => r.what.startsWith("pulumi ")).length;
  const reboots = rs.filter((r) => r.what === "lab reboot").length;
  return { test, span, parts, rest: span - all, runs, reboots };
});
rows.sort((a, b) => b.span - a.span);
const n = (x) => x.toFixed(0).padStart(6);
console.log("e2e time by file (s): span from first to last operation; pulumi, lab VMs, probes: wall time in each");
console.log(
  `${"file".padEnd(18)}  ${"span".padStart(6)}  ${"pulumi".padStart(6)} (runs)  ${"VMs".padStart(6)} (reboots)  ${"probes".padStart(6)}  ${"rest".padStart(6)}`,
);
const sum = { span: 0, parts: [0, 0, 0], rest: 0, runs: 0, reboots: 0 };
for (const r of rows) {
  console.log(
    `${r.test.padEnd(18)}  ${n(r.span)}  ${n(r.parts[0])} (${String(r.runs).padStart(4)})  ${n(r.parts[1])} (${String(r.reboots).padStart(7)})  ${n(r.parts[2])}  ${n(r.rest)}`,
  );
  sum.span += r.span;
  sum.rest += r.rest;
  sum.runs += r.runs;
  sum.reboots += r.reboots;
  r.parts.forEach((p, i) => (sum.parts[i] += p));
}
console.log(
  `${"all".padEnd(18)}  ${n(sum.span)}  ${n(sum.parts[0])} (${String(sum.runs).padStart(4)})  ${n(sum.parts[1])} (${String(sum.reboots).padStart(7)})  ${n(sum.parts[2])}  ${n(sum.rest)}`,
);
