// The wait of a graceful removal: destinations already at weight 0 (Plan.drain: no new
// connections) keep their established ones until those end or each one's drainTimeout passes.
// A RealServer drains one; a VirtualService the backends it takes off its `realServers` (or all
// of them when it goes). Whatever the wait saw, the removal that follows is decided again under
// the host lock.
import type { DestValue } from "../ledger";
import type { Host, Log } from "../remote/ssh";
import { queueOf } from "./host-queue";

/** A destination draining: what logs name it, its value, its active connections when last read and its drainTimeout. */
export interface Draining {
  name: string;
  dest: DestValue;
  active: number;
  drainTimeout: number;
}

/** Whether a service's destinations have connections to wait for: UDP has none (a fwmark service may carry TCP). */
export const hasConnections = (service: { protocol: string; fwmark?: number }) =>
  service.protocol !== "udp" || service.fwmark !== undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The first three names, and how many more: a pool may drain a hundred at once. */
const some = (names: string[]) => names.slice(0, 3).join(", ") + (names.length > 3 ? `, and ${names.length - 3} more` : "");
/** How often the draining destinations' connections are read again (each read is shared with the host's other work). */
const POLL_MS = 2000;

/** Waits until every one of `items` has no active connection or is past its drainTimeout (bounded by the largest). */
export async function waitDrained(host: Host, items: Draining[], log: Log): Promise<void> {
  const started = Date.now();
  const deadline = (d: Draining) => started + d.drainTimeout * 1000;
  let left = items;
  for (;;) {
    const now = Date.now();
    for (const d of left) {
      if (d.active === 0) log(`${host.target}: ${d.name} drained`);
      else if (now >= deadline(d))
        log(`${host.target}: ${d.name}: drainTimeout ${d.drainTimeout}s passed with ${d.active} active connection(s); removing it`);
    }
    left = left.filter((d) => d.active > 0 && now < deadline(d));
    if (!left.length) return;
    const active = left.reduce((n, d) => n + d.active, 0);
    const last = Math.max(...left.map(deadline));
    const what = left.length === 1 ? left[0].name : `${left.length} destinations (${some(left.map((d) => d.name))})`;
    log(`${host.target}: draining ${what}: weight 0, ${active} active connection(s), up to ${Math.ceil((last - now) / 1000)}s more`);
    await sleep(Math.min(POLL_MS, Math.max(0, Math.min(...left.map(deadline)) - now)));
    const counts = await queueOf(host).submit({
      label: `drain ${what}`,
      readOnly: true,
      apply: (plan) => left.map((d) => plan.liveDest(d.dest)?.activeConn ?? 0),
    });
    left.forEach((d, i) => (d.active = counts[i]));
  }
}
