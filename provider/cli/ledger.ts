// `pulumi-lvs ledger show|release`: the way out when a host's ledger names a holder that no
// stack knows any more (a stack removed without destroy, a run stopped half-way). Both go
// through the provider's own host queue: the same locked read, the same plan, the same write,
// so a release puts objects back exactly as the last holder's own delete would.
import { createInterface } from "readline";
import { Ledger, ObjectKind } from "../ledger";
import { Plan, describe, what } from "../holds/plan";
import { Resolved } from "../holds/reconcile";
import { queueOf } from "../runtime/host-queue";
import { Connection } from "../model";
import { Host } from "../remote/ssh";

/** One holder of one object, as the tool lists it. */
export interface HoldRow {
  key: string;
  kind: ObjectKind;
  object: string;
  owner: string;
  stack: string;
  resource: string;
  value: string;
  persist: boolean;
  since?: string;
  /** The object was on the host before pulumi-lvs: what was found is kept ("keep"), or it was taken over ("own"). */
  adopted?: "keep" | "own";
}

/**
 * An owner's stack and resource: owners are URNs (`urn:pulumi:STACK::PROJECT::TYPE::NAME`), with
 * `#` and what the resource identifies on the host after them.
 */
export function ownerParts(owner: string): { stack: string; resource: string } {
  const urn = owner.split("#")[0];
  const m = /^urn:pulumi:([^:]+)::[^:]+::(.+)::([^:]+)$/.exec(urn);
  if (!m) return { stack: "?", resource: owner };
  const type = m[2]
    .split("$")
    .pop()!
    .replace(/^pulumi-nodejs:dynamic\//, "");
  return { stack: m[1], resource: `${m[3]} (${type.replace(/^pulumi-nodejs:dynamic:Resource$/, "pulumi-lvs")})` };
}

/** Every holder of every object in `ledger`, sorted by object. */
export function rows(ledger: Ledger): HoldRow[] {
  return Object.entries(ledger.entries)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([key, e]) =>
      Object.entries(e.holders).map(([owner, h]) => ({
        key,
        kind: e.kind,
        object: what(key),
        owner,
        ...ownerParts(owner),
        value: describe(e.kind, h.value),
        persist: h.persist,
        since: h.since,
        adopted: e.adopted,
      })),
    );
}

/** The rows as an aligned text table. */
export function table(list: HoldRow[]): string {
  const head = ["OBJECT", "STACK", "RESOURCE", "VALUE", "ADOPTED", "SINCE"];
  const body = list.map((r) => [r.object, r.stack, r.resource, r.value, r.adopted ?? "-", r.since ?? "(before 0.3)"]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join("  ")).join("\n");
}

/** The host's ledger as the next transaction would see it, and what reading it resolved. */
export function readLedger(host: Host): Promise<{ ledger: Ledger; resolved: Resolved[] }> {
  return queueOf(host).submit({
    label: "ledger show",
    readOnly: true,
    needs: { ipvs: false },
    apply: (plan: Plan) => ({ ledger: plan.ledger, resolved: plan.resolved }),
  });
}

/** Owners matching `--owner` (exact URNs) or `--stack` (every owner of that stack). */
export function ownersOf(ledger: Ledger, sel: { owner?: string[]; stack?: string }): string[] {
  const all = [...new Set(Object.values(ledger.entries).flatMap((e) => Object.keys(e.holders)))];
  return all.filter((o) => sel.owner?.includes(o) || (sel.stack !== undefined && ownerParts(o).stack === sel.stack));
}

/** Releases every hold of `owners` in one transaction, as their own deletes would. */
export function release(host: Host, ledger: Ledger, owners: string[]): Promise<{ commands: string[] }> {
  const held = Object.entries(ledger.entries).filter(([, e]) => owners.some((o) => o in e.holders));
  const kinds = new Set(held.map(([, e]) => e.kind));
  return queueOf(host).submit({
    label: `ledger release of ${owners.length} holder(s)`,
    needs: {
      ipvs: (["service", "dest", "syncd", "timeouts"] as const).some((k) => kinds.has(k)),
      keepalived: (["keepalived", "vrrp", "service", "dest"] as const).some((k) => kinds.has(k)),
      sysctls: held.filter(([, e]) => e.kind === "sysctl").map(([k]) => k.slice("sysctl ".length)),
    },
    apply: (plan: Plan) => {
      for (const o of owners) plan.claim(o, { persist: false });
      return { commands: plan.groups.flatMap((g) => g.commands.map(String)) };
    },
  });
}

/** Asks on the terminal; refuses without one (pass --yes). */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new Error("not a terminal, so nothing to confirm with: pass --yes to release without asking");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((r) => rl.question(`${question} [y/N] `, r));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

/** The connection without secrets, for --json output. */
export const where = (c: Connection) => ({ host: c.host, port: c.port, user: c.user });
