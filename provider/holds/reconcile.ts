// The ledger agrees with the kernel: on every read, entries for objects that cannot exist any
// more are dropped before anything is decided. A run that was killed, a service deleted by hand
// or a device that went away must not leave holders that conflict with every later claim:
// the holder whose object vanished sees it missing (refresh reports drift, up re-creates it),
// and nobody else sees a conflict. Pure, like the plan that calls it.
import type { IpvsTable } from "../remote/parsers";
import { serviceKeyString } from "../model";
import { Ledger, desiredOf, keys } from "../ledger";

/** What the kernel has, as one read saw it; undefined parts were not read and resolve nothing. */
export interface KernelView {
  /** The IPVS table; undefined when the ip_vs module is not loaded (then no service exists). */
  ipvs?: IpvsTable;
  /** Every network device (/sys/class/net); undefined when not read. */
  devices?: string[];
}

/** One entry dropped, and why: for the ledger tool and the tests. */
export interface Resolved {
  key: string;
  holders: string[];
  reason: string;
}

/**
 * Drops from `ledger` (in place) every entry whose object cannot exist: a destination whose
 * service is neither in the kernel nor held in the ledger (the kernel deleted it with its
 * service), an address on a device that no longer exists. Returns what it dropped.
 */
export function reconcile(ledger: Ledger, kernel: KernelView): Resolved[] {
  const resolved: Resolved[] = [];
  const drop = (key: string, reason: string) => {
    resolved.push({ key, holders: Object.keys(ledger.entries[key].holders), reason });
    delete ledger.entries[key];
  };
  const devices = kernel.devices && new Set(kernel.devices);
  for (const [key, e] of Object.entries(ledger.entries)) {
    if (e.kind === "dest") {
      const { service } = e.where;
      const inKernel = kernel.ipvs?.has(serviceKeyString(service)) ?? false;
      const held = ledger.entries[keys.service(service)];
      if (!inKernel && !(held && desiredOf(held).present)) drop(key, `its service ${serviceKeyString(service)} is gone`);
    } else if (e.kind === "addr" && devices) {
      const { dev } = e.where;
      if (!devices.has(dev)) drop(key, `device ${dev} is gone`);
    }
  }
  return resolved;
}
