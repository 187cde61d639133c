// The ledger agrees with the kernel (holds/reconcile.ts), on snapshots built from output
// captured on the lab's director: entries whose objects cannot exist any more are dropped on
// reading, so the holder sees drift for itself and nobody else sees a conflict; and a service
// is not deleted from under destinations that other owners hold.
import * as fs from "fs";
import * as path from "path";
import { Ledger, keys } from "../../provider/ledger";
import { ClaimError, Plan, Snapshot } from "../../provider/holds/plan";
import { parseDevices, parseIpAddr, parseIpvsSave } from "../../provider/remote/parsers";
import { write } from "../../provider/holds/script";
import { emptySnapshot, run } from "./plan-support";

const captured = (f: string) => fs.readFileSync(path.join(__dirname, "../lab/captured", f), "utf8");
const VIP = "198.51.100.100";
const GHOST = "urn:pulumi:stall::lvs-e2e::lvs:index:RealServer::r2";
const OTHER = "urn:pulumi:other::lvs-e2e::lvs:index:RealServer::r2";
const svc = (port: number) => ({ address: VIP, port, protocol: "tcp" as const });
const dest = (port: number, weight: number) => ({
  service: svc(port),
  dest: { address: "203.0.113.3", port, forwarding: "direct" as const, weight },
});

/** The director as captured (services 80, 443, 8080, 8081/tcp, 53/udp; VIP on eth1), with `ledger`. */
const director = (ledger: Ledger["entries"], over: Partial<Snapshot> = {}): Snapshot =>
  emptySnapshot({
    ledger: { version: 1, entries: ledger },
    ipvs: parseIpvsSave(captured("ipvsadm-S-n.txt")),
    addrs: parseIpAddr(captured("ip-o-addr-director.txt")),
    devices: parseDevices(captured("sys-class-net-director.txt")),
    ...over,
  });
const ghostDest = (port: number, weight = 1) => ({
  [keys.dest(svc(port), dest(port, weight).dest)]: {
    kind: "dest" as const,
    where: dest(port, weight),
    original: null,
    holders: { [GHOST]: { value: dest(port, weight), persist: true } },
  },
});

test("the captured device list parses", () => {
  expect(parseDevices(captured("sys-class-net-director.txt"))).toEqual(expect.arrayContaining(["lo", "eth0", "eth1"]));
  expect(parseDevices("/sys/class/net/*")).toEqual([]); // a glob that matched nothing
});

describe("entries whose object cannot exist are dropped on reading", () => {
  test("a destination whose service is gone from the kernel and from the ledger", () => {
    const plan = new Plan(director(ghostDest(86)));
    expect(plan.ledger.entries).toEqual({});
    expect(plan.resolved).toEqual([
      { key: "dest tcp/198.51.100.100:86 203.0.113.3:86", holders: [GHOST], reason: "its service tcp/198.51.100.100:86 is gone" },
    ]);
    expect(plan.ledgerChanged()).toBe(true); // the next write records it
  });

  test("then another owner declares that backend, with another weight, without conflict", () => {
    const { plan, commands } = run(director(ghostDest(86)), (p) =>
      p.claim(OTHER, { services: [{ ...svc(86), scheduler: "rr" }], dests: [dest(86, 2)], persist: true }),
    );
    expect(commands).toEqual([
      expect.stringContaining("modprobe -q ip_vs_rr"),
      "ipvsadm -A -t 198.51.100.100\\:86 -s rr",
      "ipvsadm -a -t 198.51.100.100\\:86 -r 203.0.113.3\\:86 -g -w 2 -x 0 -y 0",
    ]);
    expect(Object.keys(plan.ledger.entries[keys.dest(svc(86), dest(86, 2).dest)].holders)).toEqual([OTHER]);
  });

  test("a destination whose service is still in the kernel stays (a service made by hand, or by another tool)", () => {
    const plan = new Plan(director(ghostDest(80)));
    expect(Object.keys(plan.ledger.entries)).toEqual([keys.dest(svc(80), dest(80, 1).dest)]);
    expect(plan.resolved).toEqual([]);
  });

  test("a destination whose service the ledger holds stays, even while it is missing from the kernel (keepalived restarts it)", () => {
    const service = { ...svc(86), scheduler: "rr" as const };
    const entries = {
      ...ghostDest(86),
      [keys.service(svc(86))]: {
        kind: "service" as const,
        where: service,
        original: null,
        holders: { x: { value: service, persist: true } },
      },
    };
    expect(new Plan(director(entries)).resolved).toEqual([]);
  });

  test("an address on a device that no longer exists; one on a device that does stays", () => {
    const gone = { address: VIP, prefix: 32, dev: "eth9" };
    const here = { address: VIP, prefix: 32, dev: "eth1" };
    const held = (a: typeof here) => ({
      kind: "addr" as const,
      where: a,
      original: null,
      holders: { [GHOST]: { value: true as const, persist: true } },
    });
    const plan = new Plan(director({ [keys.addr(gone)]: held(gone), [keys.addr(here)]: held(here) }));
    expect(Object.keys(plan.ledger.entries)).toEqual([keys.addr(here)]);
    expect(plan.resolved.map((r) => r.reason)).toEqual(["device eth9 is gone"]);
  });

  test("devices that were not read resolve nothing", () => {
    const gone = { address: VIP, prefix: 32, dev: "eth9" };
    const entries = {
      [keys.addr(gone)]: { kind: "addr" as const, where: gone, original: null, holders: { a: { value: true as const, persist: true } } },
    };
    expect(new Plan(director(entries, { devices: undefined })).resolved).toEqual([]);
  });

  test("a refresh (read only) sees the reconciled ledger and writes nothing", () => {
    const snap = director(ghostDest(86));
    const plan = new Plan(snap);
    expect(plan.liveDest(dest(86, 1))).toBeUndefined();
    // The write of a changing transaction carries the ledger without the ghost.
    const script = write(plan, snap).script!;
    expect(script).not.toContain("203.0.113.3");
  });
});

describe("a service is not deleted from under destinations others hold", () => {
  const service = { ...svc(86), scheduler: "rr" as const };
  const SERVICE_OWNER = "urn:pulumi:a::lvs-e2e::lvs:index:VirtualService::web";
  const withOthersDest = () => {
    const created = run(emptySnapshot(), (p) => p.claim(SERVICE_OWNER, { services: [service], persist: true }));
    const ipvs = (created.plan as unknown as { live: { ipvs: Snapshot["ipvs"] } }).live.ipvs;
    const both = run(emptySnapshot({ ledger: created.plan.ledger, ipvs }), (p) => p.claim(OTHER, { dests: [dest(86, 1)], persist: true }));
    return emptySnapshot({ ledger: both.plan.ledger, ipvs: (both.plan as unknown as { live: { ipvs: Snapshot["ipvs"] } }).live.ipvs });
  };

  test("refused, naming the holder, and nothing changes", () => {
    const plan = new Plan(withOthersDest());
    let error: unknown;
    try {
      plan.op("0", (p) => p.claim(SERVICE_OWNER, { persist: false }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ClaimError);
    expect((error as ClaimError).message).toContain(`real server tcp/198.51.100.100:86 203.0.113.3:86 by ${OTHER}`);
    expect((error as ClaimError).holders).toEqual([OTHER]);
    expect(plan.groups).toEqual([]);
    expect(plan.ledgerChanged()).toBe(false);
  });

  test("once that holder let go, the service is deleted", () => {
    const { commands } = run(
      withOthersDest(),
      (p) => p.claim(OTHER, { persist: false }),
      (p) => p.claim(SERVICE_OWNER, { persist: false }),
    );
    expect(commands).toEqual(["ipvsadm -d -t 198.51.100.100\\:86 -r 203.0.113.3\\:86", "ipvsadm -D -t 198.51.100.100\\:86"]);
  });
});
