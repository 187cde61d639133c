// The host's ledger as stored (provider/ledger.ts): one schema per kind of object, checked on
// every read and kept as read. A ledger of every kind, as the plan writes it, reads back the
// same to the byte; one written by release 0.2.0 reads; one with a value of the wrong type is
// refused, naming the entry; what this release does not know survives a read and a write.
import * as fs from "fs";
import * as path from "path";
import * as model from "../../provider/model";
import {
  EntryOf,
  Ledger,
  OBJECT_KINDS,
  ObjectKind,
  canonical,
  desiredOf,
  keys,
  liveTarget,
  parseLedger,
  sameLedger,
} from "../../provider/ledger";
import { Plan, Snapshot } from "../../provider/holds/plan";
import { bootFiles } from "../../provider/holds/boot-files";
import { keepalivedFiles } from "../../provider/remote/keepalived";
import { IpvsTable } from "../../provider/remote/parsers";
import { emptySnapshot, run } from "./plan-support";
import { serviceValue } from "../../provider/runtime/virtual-service";

const KINDS: ObjectKind[] = OBJECT_KINDS;
const AT = "2026-12-02T04:00:00.000Z";
const VIP = "198.51.100.100";
const connection = { host: "198.51.100.1" };
const service = model.VirtualServiceArgs.parse({
  connection,
  address: VIP,
  port: 80,
  scheduler: "wrr",
  persistence: { timeout: 300, netmask: "255.255.255.0" },
  healthCheck: { type: "http", path: "/health" },
  sorryServer: { address: "198.51.100.50", port: 80 },
});
const fwmark = model.VirtualServiceArgs.parse({
  connection,
  fwmark: 7,
  scheduler: "sh",
  schedulerFlags: ["sh-port", "sh-fallback"],
  match: [{ address: VIP, ports: [443, 80] }],
});
/** A destination value as RealServer claims it. */
const destValue = (input: object) => {
  const a = model.RealServerArgs.parse({ connection, ...input });
  const { address, port, forwarding, tunnelType, tunnelPort, weight, upperThreshold, lowerThreshold } = a;
  return {
    service: a.service,
    dest: { address, port, forwarding, tunnelType, tunnelPort, weight, upperThreshold, lowerThreshold },
    ...(a.healthCheck ? { healthCheck: a.healthCheck } : {}),
  };
};
const { syncDaemon: _, ...vrrp } = model.Vrrp.parse({
  virtualRouterId: 51,
  priority: 150,
  unicastPeers: ["198.51.100.2"],
  authPass: "s3cret",
});
const draining = destValue({ service: { address: VIP, port: 8080 }, address: "198.51.100.14" });

/**
 * A director, a TUN and a NAT backend in one (every kind of object), with some objects there
 * before pulumi-lvs: a service on port 8080, with `active` connections to 198.51.100.14 once it is there.
 */
const host = (active?: number): Snapshot => {
  const destinations = active === undefined ? [] : [{ ...draining.dest, activeConn: active, inactConn: 0 }];
  const ipvs: IpvsTable = new Map([
    [`tcp/${VIP}:8080`, { address: VIP, port: 8080, protocol: "tcp", scheduler: "rr", destinations, extra: [] }],
  ]);
  return emptySnapshot({
    at: AT,
    addrs: [{ address: "198.51.100.1", prefix: 24, dev: "eth0" }],
    sysctls: { "net.ipv4.ip_forward": 0, "net.ipv4.conf.tunl0.rp_filter": 1, "net.ipv4.conf.eth0.accept_redirects": 1 },
    ipvs,
    keepalived: { installed: true, enabled: false, active: false, conf: "no-newline", include: false },
    timeouts: { tcp: 900, tcpFin: 120, udp: 300 },
    links: { tunl0: false },
    gateways: { "ipv4 default": "198.51.100.254" },
  });
};
const everyKind = () => {
  const { plan } = run(
    host(),
    (p) =>
      p.claim("director", {
        addrs: [{ address: "198.51.100.101", prefix: 32, dev: "eth0" }],
        sysctls: { "net.ipv4.ip_forward": 1 },
        timeouts: model.IpvsTimeouts.parse({ tcp: 600 }),
        vrrp: [{ ...vrrp, dev: "eth0", vips: [VIP] }],
        syncd: { master: { dev: "eth0", syncId: 51 }, backup: { dev: "eth0", syncId: 51 } },
        keepalived: true,
        persist: true,
      }),
    (p) => p.claim("web", { services: [serviceValue(service)], keepalived: true, persist: true }),
    (p) =>
      p.claim("mark", { services: [serviceValue(fwmark)], marks: [{ fwmark: 7, family: "ipv4", match: fwmark.match! }], persist: true }),
    (p) =>
      p.claim("r1", {
        dests: [destValue({ service: { address: VIP, port: 80 }, address: "198.51.100.11", weight: 3, healthCheck: { type: "tcp" } })],
        persist: true,
      }),
    (p) =>
      p.claim("r2", {
        dests: [destValue({ service: { fwmark: 7 }, address: "198.51.100.12", upperThreshold: 100, lowerThreshold: 10 })],
        persist: true,
      }),
    (p) =>
      p.claim("tun", {
        links: [{ dev: "tunl0", module: "ipip" }],
        fou: [6080],
        sysctls: { "net.ipv4.conf.tunl0.rp_filter": 0 },
        persist: true,
      }),
    (p) => p.claim("nat", { routes: [{ network: "default", family: "ipv4", via: "198.51.100.1" }], persist: true }),
    (p) => p.claim("old", { services: [{ address: VIP, port: 8080, protocol: "tcp", scheduler: "rr" }], dests: [draining], persist: true }),
  );
  // Released while it has connections: drained.
  return run({ ...host(2), ledger: plan.ledger }, (p) => p.releaseOrDrain("old", draining)).plan.ledger;
};
const kinds = (l: Ledger) => new Set(Object.values(l.entries).map((e) => e.kind));
const fixture = fs.readFileSync(path.join(__dirname, "fixtures/ledger-0.2.0.json"), "utf8");

describe("a ledger of every kind, as the plan writes it", () => {
  const ledger = everyKind();
  const text = JSON.stringify(ledger);
  const read = parseLedger(text, "ledger.json");

  test("holds every kind, with originals found on the host, a draining destination and since when", () => {
    expect(kinds(ledger)).toEqual(new Set(KINDS));
    expect(ledger.entries[keys.sysctl("net.ipv4.ip_forward")].original).toBe(0);
    expect(ledger.entries[keys.keepalived()].original).toEqual({ installed: true, enabled: false, active: false, conf: "no-newline" });
    expect(ledger.entries[keys.timeouts()].original).toEqual({ tcp: 900, tcpFin: 120, udp: 300 });
    expect(ledger.entries[keys.link("tunl0")].original).toBe(false);
    expect(ledger.entries[keys.route({ network: "default", family: "ipv4" })].original).toBe("198.51.100.254");
    expect(ledger.entries[keys.service({ address: VIP, port: 8080, protocol: "tcp" })].original).not.toBeNull();
    expect(ledger.entries[keys.dest(draining.service, draining.dest)]).toMatchObject({ draining: true, holders: { old: { since: AT } } });
  });

  test("reads back to the same JSON, byte for byte (so canonically too)", () => {
    expect(JSON.stringify(read)).toBe(text);
    expect(canonical(read)).toBe(canonical(ledger));
  });

  test("is the same ledger with its entries and their keys in any order, and not with one value, holder or entry changed", () => {
    const reversed = <T extends object>(o: T): T =>
      Object.fromEntries(
        Object.entries(o)
          .reverse()
          .map(([k, v]) => [k, v && typeof v === "object" && !Array.isArray(v) ? reversed(v) : v]),
      ) as T;
    expect(JSON.stringify(reversed(ledger))).not.toBe(text);
    expect(sameLedger(reversed(ledger), read)).toBe(true);
    const changed = (f: (l: Ledger) => void) => {
      const l = parseLedger(text, "ledger.json");
      f(l);
      return sameLedger(l, read);
    };
    const dest = keys.dest(draining.service, draining.dest);
    expect(changed(() => undefined)).toBe(true);
    expect(changed((l) => (l.entries[keys.sysctl("net.ipv4.ip_forward")].original = 1))).toBe(false);
    expect(changed((l) => (l.entries[dest].holders.other = l.entries[dest].holders.old))).toBe(false);
    expect(changed((l) => delete l.entries[dest])).toBe(false);
    expect(changed((l) => (l.entries["addr lo 192.0.2.9/32"] = l.entries[dest]))).toBe(false);
  });

  test("renders the same boot files and keepalived files once read back, and a plan on it has nothing to write", () => {
    expect(bootFiles(read)).toEqual(bootFiles(ledger));
    expect(keepalivedFiles(read)).toEqual(keepalivedFiles(ledger));
    expect(new Plan({ ...host(), ledger: read }).ledgerChanged()).toBe(false);
  });

  test("its values are typed by kind: a draining destination is at weight 0 live, its holder's value unchanged", () => {
    const e = read.entries[keys.dest(draining.service, draining.dest)];
    if (e.kind !== "dest") throw new Error(`expected a dest entry, got ${e.kind}`);
    expect(liveTarget(e)?.dest.weight).toBe(0);
    const want = desiredOf(e);
    expect(want.present && want.value.dest.weight).toBe(1);
  });
});

/**
 * What names each kind's object in the files that bring it back at boot (our boot files, or our
 * keepalived files for what keepalived runs): a Record over every kind, so a new kind must say.
 */
const bootToken: { [K in ObjectKind]: (e: EntryOf<K>) => string } = {
  addr: (e) => `${e.where.address}/${e.where.prefix} ${e.where.dev}`,
  sysctl: (e) => e.where,
  service: (e) => (e.where.fwmark !== undefined ? `-f ${e.where.fwmark}` : `${e.where.address}:${e.where.port}`),
  dest: (e) => e.where.dest.address,
  vrrp: (e) => `virtual_router_id ${e.where.virtualRouterId}`,
  syncd: (e) => `${e.where} ${e.holders[Object.keys(e.holders)[0]].value.dev}`,
  keepalived: () => "vrrp_instance",
  timeouts: () => "--set",
  link: (e) => `${e.where.module} ${e.where.dev}`,
  fou: (e) => `fou ${e.where}`,
  route: (e) => `${e.where.network} ${e.holders[Object.keys(e.holders)[0]].value}`,
  mark: (e) => `meta mark set ${e.where.fwmark}`,
};

describe("every kind of the ledger's schema", () => {
  const ledger = everyKind();
  test("is written, kept for boot and restored: none is left out of any", () => {
    // Written: the plan that built the ledger held an object of every kind.
    expect(kinds(ledger)).toEqual(new Set(OBJECT_KINDS));
    // Kept for boot: every persisted object is named in the boot files or keepalived's files.
    const boot = [...Object.values(bootFiles(ledger)), ...Object.values(keepalivedFiles(ledger))].join("\n");
    for (const [key, e] of Object.entries(ledger.entries)) {
      if (!Object.values(e.holders).some((h) => h.persist)) continue;
      const token = (bootToken[e.kind] as (e: unknown) => string)(e);
      if (!boot.includes(token)) throw new Error(`${key} (kind ${e.kind}) is not in the boot files: no ${JSON.stringify(token)}`);
    }
    // Restored: once every holder let go, nothing is left in the ledger or the boot files.
    // (Real servers' holders first: a service is not deleted from under their destinations.)
    const holdsDest = (o: string) => Object.values(ledger.entries).some((e) => e.kind === "dest" && o in e.holders);
    const owners = [...new Set(Object.values(ledger.entries).flatMap((e) => Object.keys(e.holders)))].sort(
      (a, b) => Number(holdsDest(b)) - Number(holdsDest(a)),
    );
    const { plan } = run({ ...host(), ledger }, ...owners.map((o) => (p: Plan) => p.claim(o, { persist: false })));
    expect(plan.ledger.entries).toEqual({});
    expect(Object.values(bootFiles(plan.ledger)).filter((c) => c !== null)).toEqual([]);
  });
});

describe("a ledger of release 0.2.0", () => {
  // Written by 0.2.0's plan (its provider/holds from test/upgrade/pulumi-lvs-0.2.0.tar.gz) for claims
  // built as 0.2.0's resources build them: no `since`; a service and a destination of release 0.1
  // taken over, with the netmask 255.255.255.255 and the threshold 0 that 0.1 kept as given.
  const read = parseLedger(fixture, "ledger.json");

  test("holds every kind and reads, kept as it was: nothing filled in, normalised or dropped", () => {
    expect(kinds(read)).toEqual(new Set(KINDS));
    expect(JSON.stringify(read)).toBe(JSON.stringify(JSON.parse(fixture)));
    const legacy = read.entries[keys.service({ address: VIP, port: 8080, protocol: "tcp" })];
    expect(legacy.original).toMatchObject({ persistence: { netmask: "255.255.255.255" } });
    const since = Object.values(read.entries).flatMap((e) => Object.values(e.holders).map((h) => h.since));
    expect(since.filter((s) => s !== undefined)).toEqual([]);
  });

  test("a plan on it decides from it: the next holder of a sysctl records since when, the rest stays as read", () => {
    const { plan } = run(emptySnapshot({ ledger: read, sysctls: { "net.ipv4.ip_forward": 1 }, at: AT }), (p) =>
      p.claim("urn:pulumi:prod::lvs::lvs:DirectorHost::d2", { sysctls: { "net.ipv4.ip_forward": 1 }, persist: true }),
    );
    const after = JSON.parse(JSON.stringify(plan.ledger)) as Ledger;
    expect(after.entries[keys.sysctl("net.ipv4.ip_forward")].holders["urn:pulumi:prod::lvs::lvs:DirectorHost::d2"]).toEqual({
      value: 1,
      persist: true,
      since: AT,
    });
    delete after.entries[keys.sysctl("net.ipv4.ip_forward")].holders["urn:pulumi:prod::lvs::lvs:DirectorHost::d2"];
    expect(canonical(after)).toBe(canonical(JSON.parse(fixture)));
  });
});

describe("what this release does not know", () => {
  test("keys a later release added, at every level, survive a read, a change and a write", () => {
    const raw = JSON.parse(JSON.stringify(everyKind()));
    const sysctl = keys.sysctl("net.ipv4.ip_forward");
    const dest = keys.dest({ address: VIP, port: 80, protocol: "tcp" }, { address: "198.51.100.11", port: 80 });
    raw.generation = 4;
    raw.entries[sysctl].note = "n";
    raw.entries[sysctl].holders.director.lease = 3;
    raw.entries[dest].where.dest.mtu = 1400;
    raw.entries[dest].holders.r1.value.dest.mtu = 1400;
    const { plan, commands } = run({ ...host(), ledger: parseLedger(JSON.stringify(raw), "ledger.json") }, (p) =>
      p.claim("r9", { sysctls: { "net.ipv4.ip_forward": 1 }, persist: true }),
    );
    expect(commands).toEqual(["echo 1 > /proc/sys/net/ipv4/ip_forward"]);
    const written = JSON.parse(JSON.stringify(plan.ledger));
    expect(written.generation).toBe(4);
    expect(written.entries[sysctl]).toMatchObject({ note: "n", holders: { director: { lease: 3 }, r9: { value: 1 } } });
    expect(written.entries[dest]).toEqual(raw.entries[dest]);
  });
});

describe("a ledger this release cannot read", () => {
  const text = JSON.stringify(everyKind());
  /** Parses the ledger with `path` in it set to `value`. */
  const edited = (path: string[], value: unknown) => {
    const raw = JSON.parse(text);
    path.slice(0, -1).reduce((o, k) => o[k], raw)[path[path.length - 1]] = value;
    return () => parseLedger(JSON.stringify(raw), "/var/lib/pulumi-lvs/ledger.json");
  };
  const dest = keys.dest({ address: VIP, port: 80, protocol: "tcp" }, { address: "198.51.100.11", port: 80 });

  test("a value of the wrong type is refused, naming the entry and the field", () => {
    expect(edited(["entries", dest, "holders", "r1", "value", "dest", "port"], "80")).toThrow(
      `/var/lib/pulumi-lvs/ledger.json is not a ledger this pulumi-lvs understands: entry "${dest}", at holders.r1.value.dest.port: port must be a number, got "80"`,
    );
    expect(edited(["entries", keys.sysctl("net.ipv4.ip_forward"), "original"], "0")).toThrow(
      `entry "sysctl net.ipv4.ip_forward", at original: Invalid input: expected number, received string`,
    );
    expect(edited(["entries", keys.keepalived(), "holders", "director", "value"], 1)).toThrow(
      `entry "keepalived", at holders.director.value: `,
    );
    expect(edited(["entries", "addr 198.51.100.101/32 eth0", "where"], "198.51.100.101/32")).toThrow(
      `entry "addr 198.51.100.101/32 eth0", at where: Invalid input: expected object, received string`,
    );
  });

  test("an entry of a kind it does not know is refused naming the entry; another version, naming it", () => {
    expect(edited(["entries", "tunnel gre0"], { kind: "tunnel", where: "gre0", original: null, holders: {} })).toThrow(
      `entry "tunnel gre0", at kind: `,
    );
    expect(edited(["version"], 2)).toThrow("ledger.json is not a ledger this pulumi-lvs understands: version: Invalid input: expected 1");
  });
});
