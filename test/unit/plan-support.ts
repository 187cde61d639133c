// Shared by the unit tests of host-side decisions: a snapshot of an empty host (each test file
// adds what its host has) and a runner for operations on one plan.
import { emptyLedger } from "../../provider/ledger";
import { Plan, Snapshot } from "../../provider/holds/plan";

/** What a transaction reads from a host with nothing on it, plus `over`. */
export const emptySnapshot = (over: Partial<Snapshot> = {}): Snapshot => ({
  ledger: emptyLedger(),
  addrs: [],
  sysctls: {},
  ipvs: new Map(),
  routes: {},
  daemons: {},
  ...over,
});

/** Every command a plan emitted, as the shell text a write renders it to. */
export const emitted = (plan: Plan): string[] => plan.groups.flatMap((g) => g.commands.map(String));

/** Runs operations on a plan and returns it with every command it emitted. */
export function run(snap: Snapshot, ...ops: ((p: Plan) => void)[]) {
  const plan = new Plan(snap);
  ops.forEach((op, i) => plan.op(String(i), op));
  return { plan, commands: emitted(plan) };
}
