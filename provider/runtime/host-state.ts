// The one way runtime kinds touch a host: an operation handed to the host's queue, which
// decides it on a snapshot read under the host lock (holds/plan.ts) and writes it in the
// same locked session. Also the migration of state written by release 0.1, which kept what
// a resource had changed in its own outputs instead of in the host's ledger.
import { STATE_VERSION } from "../model";
import { Claim, ClaimError, LegacyHold, Plan } from "../holds/plan";
import { q } from "../remote/commands";
import { legacyFiles } from "../remote/boot";
import { Host } from "../remote/ssh";
import { Op, queueOf } from "./host-queue";

/** An operation on one host, built by a kind and run with `.on(host)`. */
export function hostOp<R>(label: string, needs: Op<R>["needs"], apply: (plan: Plan) => R) {
  let migrate: ((plan: Plan) => void) | undefined;
  const builder = {
    /** Before `apply`, takes over what `outs` (state of release 0.1) says the resource held. */
    migrating(outs: Record<string, unknown>, legacy: (plan: Plan) => LegacyHold[], files: string[], owner: string, persist: boolean) {
      if (((outs.stateVersion as number | undefined) ?? 0) < STATE_VERSION && !outs.owner) {
        migrate = (plan) => {
          plan.adopt(owner, legacy(plan), persist);
          plan.run(files.map((f) => `rm -f ${q(f)}`));
        };
      }
      return builder;
    },
    on(host: Host): Promise<R> {
      return queueOf(host).submit({ label, needs, apply: (plan) => (migrate?.(plan), apply(plan)) });
    },
  };
  return builder;
}

/**
 * create, update and delete of a kind that only holds host settings (no state of release 0.1 to
 * migrate): converging claims `claimOf`, deleting releases everything the resource held.
 */
export function settingsOps<A>(name: string, needs: (a: A) => Op<unknown>["needs"], claimOf: (plan: Plan, a: A) => Claim) {
  const converge = (a: A, owner: string) =>
    hostOp(`${name} ${owner}`, needs(a), (plan) => {
      plan.claim(owner, claimOf(plan, a));
      return {};
    });
  return {
    create: (host: Host, a: A, { owner }: { owner: string }) => converge(a, owner).on(host),
    update: (host: Host, _olds: A, news: A, { owner }: { owner: string }) => converge(news, owner).on(host),
    async delete(host: Host, outs: A, { owner }: { owner: string }) {
      await hostOp(`${name} ${owner}`, needs(outs), (plan) => plan.claim(owner, { persist: false })).on(host);
    },
  };
}

/** A read-only look at addresses and sysctls, shared with every other operation in the batch. */
export function readHostState(host: Host, sysctls: string[]) {
  return queueOf(host).submit({
    label: "read addresses and sysctls",
    readOnly: true,
    needs: { sysctls },
    apply: (plan) => ({ addrs: plan.liveAddrs(), sysctls: Object.fromEntries(sysctls.map((k) => [k, plan.liveSysctl(k)])) }),
  });
}

/** What a release-0.1 DirectorHost or DrRealServerHost held: its VIPs on `dev` and the sysctls it set. */
export function legacyHostHolds(outs: Record<string, unknown>, dev: string) {
  const added = (outs.addedVips as string[] | undefined) ?? [];
  const previous = (outs.previousSysctls as Record<string, number> | undefined) ?? {};
  return {
    files: legacyFiles.host(dev === "lo" ? "dr-real-server" : "director"),
    holds: (plan: Plan): LegacyHold[] => [
      ...((outs.vips as string[] | undefined) ?? []).map((address) => {
        const where = { address, prefix: 32, dev };
        return {
          key: `addr ${address}/32 ${dev}`,
          kind: "addr" as const,
          where,
          value: true as const,
          original: added.includes(address) ? null : (true as const),
        };
      }),
      ...Object.entries(previous).map(([name, original]) => ({
        key: `sysctl ${name}`,
        kind: "sysctl" as const,
        where: name,
        value: plan.liveSysctl(name) ?? original,
        original,
      })),
    ],
  };
}

/** Refuses to go on without keepalived when installing it is off. */
export function needKeepalived(plan: Plan, install: boolean): void {
  if (!install && !plan.keepalived()?.installed)
    throw new ClaimError(
      "keepalived is not installed and installKeepalived is false: install the keepalived package, or set installKeepalived: true",
    );
}
