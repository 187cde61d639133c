// The host-side decisions (holds/plan.ts) without a host: who holds what, the last holder
// restoring what was there before, adoption of what pulumi-lvs did not create, conflicts that
// fail one operation only, and finishing a transaction that died between intent and commit.
import { EntryOf, adopted, keys, parseLedger } from "../../provider/ledger";
import { ClaimError, Plan, Snapshot } from "../../provider/holds/plan";
import { BOOT_FILES, legacyFiles, sha256 } from "../../provider/remote/boot";
import { bootFiles } from "../../provider/holds/boot-files";
import { parseSnapshot } from "../../provider/holds/snapshot";
import { stoppedIn, write } from "../../provider/holds/script";
import { LEDGER, SECTION, SchedulerModule } from "../../provider/remote/commands";
import { IpvsTable } from "../../provider/remote/parsers";
import { Host } from "../../provider/remote/ssh";
import { RealServerArgs, VirtualServiceArgs } from "../../provider/model";
import { virtualServiceKind } from "../../provider/runtime/virtual-service";
import { realServerKind } from "../../provider/runtime/real-server";
import { emitted, emptySnapshot, run } from "./plan-support";

const VIP = "198.51.100.100";
const ARP = "net.ipv4.conf.all.arp_ignore";
const vipOnLo = { address: VIP, prefix: 32, dev: "lo" };
const svc = { address: VIP, port: 80, protocol: "tcp" as const, scheduler: "rr" as const };
const dest = (weight = 1) => ({
  service: { address: VIP, port: 80, protocol: "tcp" as const },
  dest: { address: "198.51.100.11", port: 80, forwarding: "direct" as const, weight },
});

const snapshot = (over: Partial<Snapshot> = {}): Snapshot =>
  emptySnapshot({ addrs: [{ address: "198.51.100.11", prefix: 24, dev: "eth1" }], sysctls: { [ARP]: 0 }, ...over });
/** The snapshot the next transaction would read after `plan` was applied on the host. */
const after = (plan: Plan, snap: Snapshot): Snapshot => ({
  ...snap,
  ledger: plan.ledger,
  addrs: plan.liveAddrs(),
  sysctls: Object.fromEntries(Object.keys(snap.sysctls).map((k) => [k, plan.liveSysctl(k)])),
  ipvs: (plan as unknown as { live: { ipvs: IpvsTable } }).live.ipvs,
});
const backend = (p: Plan, owner: string) => p.claim(owner, { addrs: [vipOnLo], sysctls: { [ARP]: 1 }, persist: true });

describe("holds", () => {
  test("the first holder adds the VIP and sets the sysctl, recording what was there before", () => {
    const { plan, commands } = run(snapshot(), (p) => backend(p, "web"));
    expect(commands).toEqual(["echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore", "ip addr replace 198.51.100.100/32 dev lo"]);
    expect(plan.ledger.entries[keys.sysctl(ARP)]).toMatchObject({ original: 0, holders: { web: { value: 1 } } });
    expect(plan.ledger.entries[keys.addr(vipOnLo)]).toMatchObject({ original: null });
  });

  test("two holders share the VIP: it stays until the last lets go, then everything is as before", () => {
    const s0 = snapshot();
    const both = run(
      s0,
      (p) => backend(p, "web"),
      (p) => backend(p, "alt"),
    );
    expect(both.commands).toHaveLength(2); // the second holder finds everything in place
    const s1 = after(both.plan, s0);
    const first = run(s1, (p) => p.claim("alt", { persist: false }));
    expect(first.commands).toEqual([]);
    expect(Object.keys(first.plan.ledger.entries[keys.addr(vipOnLo)].holders)).toEqual(["web"]);
    const last = run(after(first.plan, s1), (p) => p.claim("web", { persist: false }));
    expect(last.commands).toEqual(["ip addr del 198.51.100.100/32 dev lo", "echo 0 > /proc/sys/net/ipv4/conf/all/arp_ignore"]);
    expect(last.plan.ledger.entries).toEqual({});
  });

  test("a VIP that was there before pulumi-lvs is never removed", () => {
    const s0 = snapshot({ addrs: [vipOnLo] });
    const held = run(s0, (p) => backend(p, "web"));
    expect(held.commands).toEqual(["echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore"]);
    const released = run(after(held.plan, s0), (p) => p.claim("web", { persist: false }));
    expect(released.commands).toEqual(["echo 0 > /proc/sys/net/ipv4/conf/all/arp_ignore"]);
  });

  test("holders that want different sysctl values conflict; the second operation fails alone", () => {
    const plan = new Plan(snapshot());
    plan.op("0", (p) => backend(p, "web"));
    expect(() => plan.op("1", (p) => p.claim("alt", { sysctls: { [ARP]: 2 }, persist: true }))).toThrow(
      /held by web with value 1, but this declares value 2/,
    );
    expect(plan.groups.map((g) => g.label)).toEqual(["0"]);
    expect(Object.keys(plan.ledger.entries[keys.sysctl(ARP)].holders)).toEqual(["web"]);
  });

  test("a failed operation leaves nothing of itself, half-held objects included; those before it and after it stand", () => {
    const other = { address: "198.51.100.101", prefix: 32, dev: "lo" };
    const plan = new Plan(snapshot());
    plan.op("0", (p) => backend(p, "web"));
    // The address is held before the sysctl conflicts: the throw comes half-way through the claim.
    expect(() => plan.op("1", (p) => p.claim("alt", { addrs: [other], sysctls: { [ARP]: 2 }, persist: true }))).toThrow(ClaimError);
    expect(plan.ledger.entries[keys.addr(other)]).toBeUndefined();
    plan.op("2", (p) => p.claim("third", { addrs: [other], persist: true }));
    expect(plan.groups.map((g) => g.label)).toEqual(["0", "2"]);
    expect(emitted(plan)).toEqual([
      "echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore",
      "ip addr replace 198.51.100.100/32 dev lo",
      "ip addr replace 198.51.100.101/32 dev lo",
    ]);
    expect(Object.keys(plan.ledger.entries[keys.addr(other)].holders)).toEqual(["third"]);
  });

  test("an interface change moves the VIP: removed there first, then added here", () => {
    const eth1 = { address: VIP, prefix: 32, dev: "eth1" };
    const s0 = snapshot();
    const created = run(s0, (p) => p.claim("d", { addrs: [eth1], persist: true }));
    const moved = run(after(created.plan, s0), (p) => p.claim("d", { addrs: [{ ...eth1, dev: "eth2" }], persist: true }));
    expect(moved.commands).toEqual(["ip addr del 198.51.100.100/32 dev eth1", "ip addr replace 198.51.100.100/32 dev eth2"]);
  });

  test("a VIP on another device that is not ours is refused", () => {
    expect(() => run(snapshot({ addrs: [{ address: VIP, prefix: 32, dev: "eth1" }] }), (p) => backend(p, "web"))).toThrow(ClaimError);
  });
});

/** The IPVS table with the service `svc` and, for each weight given, its destination at that weight. */
const table = (...weights: number[]): IpvsTable =>
  new Map([
    [
      "tcp/198.51.100.100:80",
      {
        ...svc,
        persistence: undefined,
        extra: [],
        destinations: weights.map((w) => ({ ...dest(w).dest, activeConn: 0, inactConn: 0 })),
      },
    ],
  ]);

describe("IPVS objects", () => {
  test("an identical existing service is adopted and survives its holder's release", () => {
    const s0 = snapshot({ ipvs: table(1) });
    const held = run(s0, (p) => p.claim("web", { services: [svc], persist: true }));
    expect(held.commands).toEqual([]);
    expect(held.plan.ledger.entries[keys.service(svc)].original).not.toBeNull();
    expect(run(after(held.plan, s0), (p) => p.claim("web", { persist: false })).commands).toEqual([]);
  });

  test("a different existing service is refused naming both settings", () => {
    expect(() =>
      run(snapshot({ ipvs: table(1) }), (p) => p.claim("web", { services: [{ ...svc, scheduler: "wlc" }], persist: true })),
    ).toThrow(/already exists with scheduler rr, .* but this declares scheduler wlc/);
  });

  test("an imported service that differs is taken over, and given back as it was found when released", () => {
    const s0 = snapshot({ ipvs: table(1) });
    const changed = run(s0, (p) => p.claim("web", { services: [{ ...svc, scheduler: "wlc" }], persist: true, imported: true }));
    expect(changed.commands).toContain("ipvsadm -E -t 198.51.100.100\\:80 -s wlc");
    expect(changed.plan.ledger.entries[keys.service(svc)].original).toMatchObject({ scheduler: "rr" });
    const released = run(after(changed.plan, s0), (p) => p.claim("web", { persist: false }));
    expect(released.commands).toContain("ipvsadm -E -t 198.51.100.100\\:80 -s rr");
  });

  test("a rename hands a destination over without removing it", () => {
    const s0 = snapshot({ ipvs: table() });
    const old = run(s0, (p) => p.claim("old", { dests: [dest()], persist: true }));
    expect(old.commands).toEqual(["ipvsadm -a -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 1 -x 0 -y 0"]);
    const s1 = after(old.plan, s0);
    const renamed = run(
      s1,
      (p) => p.claim("new", { dests: [dest()], persist: true }),
      (p) => p.claim("old", { persist: false }),
    );
    expect(renamed.commands).toEqual([]);
    expect(Object.keys(renamed.plan.ledger.entries[keys.dest(dest().service, dest().dest)].holders)).toEqual(["new"]);
  });

  test("a destination with active connections drains first (weight 0 in the kernel and the boot rules); one without goes at once", () => {
    const s0 = snapshot({ ipvs: table() });
    const held = run(s0, (p) => p.claim("rs", { dests: [dest(3)], persist: true }));
    const s1 = after(held.plan, s0);
    s1.ipvs!.get("tcp/198.51.100.100:80")!.destinations[0].activeConn = 2;
    const draining = run(s1, (p) => expect(p.releaseOrDrain("rs", dest(3))).toBe(2));
    expect(draining.commands).toEqual(["ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 0 -x 0 -y 0"]);
    expect(bootFiles(draining.plan.ledger)["/etc/pulumi-lvs/ipvs.rules"]).toContain("-w 0");
    const s2 = after(draining.plan, s1);
    s2.ipvs!.get("tcp/198.51.100.100:80")!.destinations[0].activeConn = 0;
    const gone = run(s2, (p) => expect(p.releaseOrDrain("rs", dest(3))).toBeUndefined());
    expect(gone.commands).toEqual(["ipvsadm -d -t 198.51.100.100\\:80 -r 198.51.100.11\\:80"]);
  });
});

test("a pool's backend taken off its list with active connections stays at weight 0 next to the service, then goes", () => {
  const b = { ...dest(3), dest: { ...dest(3).dest, address: "198.51.100.12" } };
  const s0 = snapshot({ ipvs: table() });
  const s1 = after(run(s0, (p) => p.claim("pool", { services: [svc], dests: [dest(3), b], persist: true })).plan, s0);
  s1.ipvs!.get("tcp/198.51.100.100:80")!.destinations[1].activeConn = 2;
  const drained = run(s1, (p) => {
    expect(p.activeOwned("pool", b)).toBe(2);
    expect(p.activeOwned("pool", dest(3))).toBe(0);
    p.claim("pool", { services: [svc], dests: [dest(3), b], persist: true });
    p.drain(b);
  });
  expect(drained.commands).toEqual(["ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.12\\:80 -g -w 0 -x 0 -y 0"]);
  const s2 = after(drained.plan, s1);
  s2.ipvs!.get("tcp/198.51.100.100:80")!.destinations[1].activeConn = 0;
  const gone = run(s2, (p) => p.claim("pool", { services: [svc], dests: [dest(3)], persist: true }));
  expect(gone.commands).toEqual(["ipvsadm -d -t 198.51.100.100\\:80 -r 198.51.100.12\\:80"]);
});

describe("adoption: what was found is kept (adopt keep, the default) or taken over (adopt own)", () => {
  const entry = (plan: Plan, key: string) => plan.ledger.entries[key];
  const release = (snap: Snapshot, owner = "web") => run(snap, (p) => p.claim(owner, { persist: false }));

  test("an identical service claimed with own runs nothing, is recorded as ours, and its release deletes it", () => {
    const s0 = snapshot({ ipvs: table() });
    const held = run(s0, (p) => p.claim("web", { services: [svc], persist: true, own: true }));
    expect(held.commands).toEqual([]);
    expect(entry(held.plan, keys.service(svc))).toMatchObject({ original: null, adopted: "own" });
    expect(adopted(entry(held.plan, keys.service(svc)))).toBe(true); // VirtualService's `adopted` output
    expect(release(after(held.plan, s0)).commands).toEqual(["ipvsadm -D -t 198.51.100.100\\:80"]);
  });

  test("with keep (today's behaviour) it is marked keep, keeps what was found, and stays when released", () => {
    const s0 = snapshot({ ipvs: table() });
    const held = run(s0, (p) => p.claim("web", { services: [svc], persist: true }));
    expect(entry(held.plan, keys.service(svc))).toMatchObject({ original: { scheduler: "rr" }, adopted: "keep" });
    expect(adopted(entry(held.plan, keys.service(svc)))).toBe(true);
    expect(release(after(held.plan, s0)).commands).toEqual([]);
  });

  test("what pulumi-lvs creates is not marked; a ledger of 0.2 (no marker) tells adoption by its original", () => {
    const created = run(snapshot(), (p) => p.claim("web", { services: [svc], persist: true, own: true }));
    const e = entry(created.plan, keys.service(svc));
    expect(e.adopted).toBeUndefined();
    expect(adopted(e)).toBe(false);
    const of02 = (original: EntryOf<"service">["original"]): EntryOf<"service"> => ({ kind: "service", where: svc, original, holders: {} });
    expect(adopted(of02({ ...svc, extra: [] }))).toBe(true);
    expect(adopted(of02(null))).toBe(false);
  });

  test("a destination found there and claimed with own is ours: RealServer's `adopted` stays true, and it drains before it goes", () => {
    const s0 = snapshot({ ipvs: table(1) });
    const key = keys.dest(dest().service, dest().dest);
    const held = run(s0, (p) => p.claim("rs", { dests: [dest()], persist: true, own: true }));
    expect(held.commands).toEqual([]);
    expect(entry(held.plan, key)).toMatchObject({ original: null, adopted: "own" });
    expect(adopted(entry(held.plan, key))).toBe(true);
    const s1 = after(held.plan, s0);
    s1.ipvs!.get("tcp/198.51.100.100:80")!.destinations[0].activeConn = 1;
    expect(run(s1, (p) => expect(p.releaseOrDrain("rs", dest())).toBe(1)).commands).toEqual([
      "ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 0 -x 0 -y 0",
    ]);
  });

  test("a sysctl found at arp_ignore=1 and claimed with own goes back to the kernel's 0; rp_filter keeps what was found", () => {
    const RP = "net.ipv4.conf.tunl0.rp_filter";
    const s0 = snapshot({ sysctls: { [ARP]: 1, [RP]: 1 } });
    const held = run(s0, (p) => p.claim("web", { sysctls: { [ARP]: 1, [RP]: 0 }, persist: true, own: true }));
    expect(held.commands).toEqual(["echo 0 > /proc/sys/net/ipv4/conf/tunl0/rp_filter"]);
    expect(entry(held.plan, keys.sysctl(ARP))).toMatchObject({ original: 0, adopted: "own" });
    expect(entry(held.plan, keys.sysctl(RP))).toMatchObject({ original: 1, adopted: "keep" });
    expect(release(after(held.plan, s0)).commands).toEqual([
      "echo 0 > /proc/sys/net/ipv4/conf/all/arp_ignore",
      "echo 1 > /proc/sys/net/ipv4/conf/tunl0/rp_filter",
    ]);
  });

  test("IPVS timeouts claimed with own go back to ipvsadm's defaults, 900 120 300", () => {
    const s0 = snapshot({ timeouts: { tcp: 7200, tcpFin: 30, udp: 60 } });
    const held = run(s0, (p) => p.claim("dir", { timeouts: { tcp: 7200 }, persist: true, own: true }));
    expect(held.commands).toEqual([]);
    expect(release({ ...after(held.plan, s0), timeouts: held.plan.liveTimeouts() }, "dir").commands).toEqual(["ipvsadm --set 900 120 300"]);
  });

  test("keep, then own on an update: the object becomes ours at once, and stays ours when keep comes back (one-way)", () => {
    const s0 = snapshot({ ipvs: table() });
    const kept = run(s0, (p) => p.claim("web", { services: [svc], persist: true }));
    const s1 = after(kept.plan, s0);
    const owned = run(s1, (p) => p.claim("web", { services: [svc], persist: true, own: true }));
    expect(owned.commands).toEqual([]);
    expect(entry(owned.plan, keys.service(svc))).toMatchObject({ original: null, adopted: "own" });
    const s2 = after(owned.plan, s1);
    const back = run(s2, (p) => p.claim("web", { services: [svc], persist: true }));
    expect(entry(back.plan, keys.service(svc))).toMatchObject({ original: null, adopted: "own" });
    expect(release(after(back.plan, s2)).commands).toEqual(["ipvsadm -D -t 198.51.100.100\\:80"]);
  });

  test("an address owned on eth1 goes with the host route beside it (if any); on lo there is none to delete; kept ones stay", () => {
    const eth1 = { address: VIP, prefix: 32, dev: "eth1" };
    const v6 = { address: "2001:db8::100", prefix: 128, dev: "eth1" };
    const releasedOf = (a: typeof eth1, own: boolean) => {
      const s0 = snapshot({ addrs: [a] });
      return release(after(run(s0, (p) => p.claim("web", { addrs: [a], persist: true, own })).plan, s0)).commands;
    };
    expect(releasedOf(eth1, true)).toEqual([
      "ip addr del 198.51.100.100/32 dev eth1",
      "ip route del 198.51.100.100 dev eth1 table main 2>/dev/null || true",
    ]);
    expect(releasedOf(v6, true)).toEqual([
      "ip addr del 2001\\:db8\\:\\:100/128 dev eth1",
      "ip -6 route del 2001\\:db8\\:\\:100 dev eth1 table main 2>/dev/null || true",
    ]);
    expect(releasedOf(vipOnLo, true)).toEqual(["ip addr del 198.51.100.100/32 dev lo"]);
    expect(releasedOf(eth1, false)).toEqual([]);
  });

  test("VirtualService and RealServer report `adopted: true` for what own took over", async () => {
    const read = [
      `${SECTION} ipvs`,
      "-A -t 198.51.100.100:80 -s rr",
      "-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1",
      `${SECTION} thresholds`,
    ].join("\n");
    // The queue opens sessions and reads target and machine: a fake stands in for a Host. Its
    // writes change nothing: each batch reads the same host.
    const host = {
      target: "root@fake:22",
      machine: "fake-adopt",
      open: async () => ({ opened: Date.now(), open: true, read: async () => read, write: async () => "", close: async () => undefined }),
    } as unknown as Host;
    const connection = { host: "fake" };
    const ctx = (owner: string) => ({ owner, log: () => undefined, imported: false });
    const service = VirtualServiceArgs.parse({ connection, ...svc, adopt: "own" });
    expect(await virtualServiceKind.create(host, service, ctx("vs"))).toMatchObject({ adopted: true });
    const backend = RealServerArgs.parse({ connection, service: { address: VIP, port: 80 }, address: "198.51.100.11", adopt: "own" });
    expect(await realServerKind.create(host, backend, ctx("rs"))).toMatchObject({ adopted: true });
  });
});

describe("what the host reads again after a write (holds/script.write's rulesOnly)", () => {
  test("a new service (its scheduler's module loaded, then the service): the rules only; real servers on it after that: the rules only", () => {
    const s0 = snapshot();
    const service = run(s0, (p) => p.claim("web", { services: [svc], persist: true }));
    expect(service.plan.groups.flatMap((g) => g.commands).some((c) => c instanceof SchedulerModule)).toBe(true);
    expect(write(service.plan, s0)).toMatchObject({ settled: true, rulesOnly: true });
    const s1 = after(service.plan, s0);
    const backends = run(s1, (p) => p.claim("rs", { dests: [dest(3)], persist: true }));
    expect(write(backends.plan, s1)).toMatchObject({ settled: true, rulesOnly: true });
    const s2 = after(backends.plan, s1);
    expect(write(run(s2, (p) => p.claim("rs", { dests: [dest(5)], persist: true })).plan, s2).rulesOnly).toBe(true);
    expect(write(run(s2, (p) => p.claim("rs", { persist: true })).plan, s2).rulesOnly).toBe(true);
  });

  test("an address, a sysctl: everything", () => {
    const s0 = snapshot();
    expect(write(run(s0, (p) => backend(p, "web")).plan, s0)).toMatchObject({ settled: true, rulesOnly: false });
  });

  test("a round of rules only says what it leaves of our files: the ledger as it reads back, and the hash of each boot file it wrote", () => {
    const s0 = snapshot();
    const service = run(s0, (p) => p.claim("web", { services: [svc], persist: true })).plan;
    const { ours } = write(service, s0);
    expect(ours!.ledger).toEqual(parseLedger(JSON.stringify(service.ledger), LEDGER));
    expect(ours!.files[BOOT_FILES.rules]).toBe(sha256(bootFiles(service.ledger)[BOOT_FILES.rules]!));
    // Deciding on them, the same claim again writes nothing: no ledger, no boot file written twice.
    const s1 = { ...after(service, s0), ledger: ours!.ledger, files: ours!.files };
    expect(write(run(s1, (p) => p.claim("web", { services: [svc], persist: true })).plan, s1).script).toBeUndefined();
  });

  test("the last object gone: the ledger's directory goes with it, so everything is read again", () => {
    const s0 = snapshot();
    const service = run(s0, (p) => p.claim("web", { services: [svc], persist: true })).plan;
    const s1 = { ...after(service, s0), files: write(service, s0).ours!.files };
    const gone = run(s1, (p) => p.claim("web", { persist: true })).plan;
    expect(Object.keys(gone.ledger.entries)).toEqual([]);
    expect(write(gone, s1)).toMatchObject({ settled: true, rulesOnly: false, ours: undefined });
  });
});

describe("intent and commit", () => {
  test("the write script records intent before any change and commits last", () => {
    const s0 = snapshot();
    const { plan } = run(s0, (p) => backend(p, "web"));
    const script = write(plan, snapshot()).script!.split("\n");
    const intent = script.findIndex((l) => l.includes("ledger.next.json"));
    const change = script.findIndex((l) => l.startsWith("ip addr replace"));
    const commit = script.findIndex((l) => l.startsWith("mv /var/lib/pulumi-lvs/ledger.next.json"));
    expect(intent).toBeGreaterThanOrEqual(0);
    expect(intent).toBeLessThan(change);
    expect(commit).toBe(script.length - 1);
  });

  test("every command of a write script stands on its own line, so `sh -e` stops at any failure", () => {
    const { plan } = run(snapshot(), (p) => backend(p, "web"));
    const script = write(plan, snapshot()).script!;
    expect(script).toContain("/etc/pulumi-lvs/addrs.conf");
    // (The restore script travels inside a quoted argument; only the script's own commands count.)
    const commands = script.split("\n").filter((l) => /^(mkdir|printf|mv|ip|sysctl|ipvsadm|rm|systemctl|chmod) /.test(l));
    expect(commands.filter((l) => / && /.test(l))).toEqual([]);
  });

  test("consecutive operations that only change IPVS rules go as one ipvsadm -R, marked with their range", () => {
    const rs = (i: number) => ({ ...dest(), dest: { ...dest().dest, address: `198.18.0.${i}` } });
    const s0 = snapshot({ ipvs: table() });
    const { plan } = run(
      s0,
      (p) => backend(p, "host"),
      (p) => p.claim("a", { dests: [rs(1)], persist: false }),
      (p) => p.claim("b", { dests: [rs(2)], persist: false }),
    );
    const script = write(plan, snapshot()).script!.split("\n");
    const at = script.indexOf("echo 'pulumi-lvs-group 1-2'");
    expect(script.slice(at - 3, at)).toEqual([
      "echo 'pulumi-lvs-group 0'",
      "echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore",
      "ip addr replace 198.51.100.100/32 dev lo",
    ]);
    expect(script.slice(at + 1, at + 5)).toEqual([
      "e=$(ipvsadm -R 2>&1 <<'PULUMI_LVS_RULES'",
      "-a -t 198.51.100.100:80 -r 198.18.0.1:80 -g -w 1 -x 0 -y 0",
      "-a -t 198.51.100.100:80 -r 198.18.0.2:80 -g -w 1 -x 0 -y 0",
      "PULUMI_LVS_RULES",
    ]);
  });

  test("one operation's consecutive rule changes (a service and its pool) go as one ipvsadm -R after its marker, also when retried", () => {
    const rs = (i: number) => ({ ...dest(), dest: { ...dest().dest, address: `198.18.0.${i}` } });
    const { plan } = run(snapshot(), (p) => p.claim("pool", { services: [svc], dests: [rs(1), rs(2), rs(3)], persist: false }));
    for (const coalesce of [true, false]) {
      const script = write(plan, snapshot(), { coalesce }).script!.split("\n");
      expect(script.filter((l) => l.startsWith("ipvsadm "))).toEqual([]);
      const at = script.indexOf("e=$(ipvsadm -R 2>&1 <<'PULUMI_LVS_RULES'");
      expect(script.slice(at - 2, at)).toEqual(["echo 'pulumi-lvs-group 0'", expect.stringMatching(/^modprobe -q ip_vs_rr /)]);
      expect(script.slice(at + 1, at + 6)).toEqual([
        "-A -t 198.51.100.100:80 -s rr",
        "-a -t 198.51.100.100:80 -r 198.18.0.1:80 -g -w 1 -x 0 -y 0",
        "-a -t 198.51.100.100:80 -r 198.18.0.2:80 -g -w 1 -x 0 -y 0",
        "-a -t 198.51.100.100:80 -r 198.18.0.3:80 -g -w 1 -x 0 -y 0",
        "PULUMI_LVS_RULES",
      ]);
    }
  });

  test("retried after a failure in a shared ipvsadm -R, each operation's rules go on their own, each after its marker", () => {
    const rs = (i: number) => ({ ...dest(), dest: { ...dest().dest, address: `198.18.0.${i}` } });
    const s0 = snapshot({ ipvs: table() });
    const { plan } = run(
      s0,
      (p) => p.claim("a", { dests: [rs(1)], persist: false }),
      (p) => p.claim("b", { dests: [rs(2)], persist: false }),
    );
    const script = write(plan, snapshot(), { coalesce: false }).script!.split("\n");
    expect(script).not.toContain("PULUMI_LVS_RULES");
    const at = script.indexOf("echo 'pulumi-lvs-group 0'");
    expect(script.slice(at, at + 4)).toEqual([
      "echo 'pulumi-lvs-group 0'",
      "ipvsadm -a -t 198.51.100.100\\:80 -r 198.18.0.1\\:80 -g -w 1 -x 0 -y 0",
      "echo 'pulumi-lvs-group 1'",
      "ipvsadm -a -t 198.51.100.100\\:80 -r 198.18.0.2\\:80 -g -w 1 -x 0 -y 0",
    ]);
  });

  test("a failed script's output says where it stopped: one group, a shared ipvsadm -R's groups, a step of its own, or before any", () => {
    // What the host printed before the failure: the markers of what ran, the last one where it stopped.
    expect(stoppedIn("pulumi-lvs-group 0\npulumi-lvs-group 1\n")).toEqual({ groups: [1] });
    expect(stoppedIn("pulumi-lvs-group 0\npulumi-lvs-group 1-3\n")).toEqual({ groups: [1, 2, 3] });
    expect(stoppedIn("pulumi-lvs-group 2\npulumi-lvs-group boot\n")).toEqual({ step: "boot" });
    expect(stoppedIn("pulumi-lvs-group keepalived\n")).toEqual({ step: "keepalived" });
    expect(stoppedIn("")).toBeUndefined();
    // A command's own output that looks like a marker but is not one of ours, or not on its own line.
    expect(stoppedIn("pulumi-lvs-group 0\nsaid pulumi-lvs-group 5\n")).toEqual({ groups: [0] });
    expect(stoppedIn("pulumi-lvs-group 0\npulumi-lvs-group later\n")).toBeUndefined();
  });

  test("release 0.1's files are named as 0.1 named them", () => {
    expect(legacyFiles.host("dr-real-server")).toContain("/etc/sysctl.d/90-pulumi-lvs-dr_real_server.conf");
    expect(legacyFiles.object("tcp_198.51.100.100_80", "service")).toEqual(["/etc/pulumi-lvs/ipvs/tcp_198.51.100.100_80.service.rules"]);
  });

  test("nothing to do writes nothing", () => {
    const s0 = snapshot();
    const { plan } = run(s0, (p) => backend(p, "web"));
    const s1 = after(plan, s0);
    const again = run(s1, (p) => backend(p, "web"));
    const files = Object.fromEntries(
      Object.entries(bootFiles(again.plan.ledger))
        .filter(([, c]) => c !== null)
        .map(([f, c]) => [f, require("crypto").createHash("sha256").update(c).digest("hex")]),
    );
    expect(write(again.plan, { ...s1, files }).script).toBeUndefined();
  });

  test("a transaction that died after its intent is undone: the VIP it added goes, the sysctl comes back", () => {
    const s0 = snapshot();
    const { plan } = run(s0, (p) => backend(p, "web"));
    // The host after the script died halfway: intent written, VIP added, not committed.
    const died: Snapshot = { ...s0, pending: plan.ledger, addrs: [...s0.addrs, vipOnLo], sysctls: { [ARP]: 1 } };
    const next = new Plan(died);
    next.settle();
    expect(next.groups[0]).toEqual({
      label: "finishing an interrupted transaction",
      commands: ["ip addr del 198.51.100.100/32 dev lo", "echo 0 > /proc/sys/net/ipv4/conf/all/arp_ignore"],
    });
    expect(next.ledger.entries).toEqual({});
    expect(next.ledgerChanged()).toBe(true);
  });

  test("no blinking: what the died transaction applied for an operation that goes again stays, only the rest is undone", () => {
    const s0 = snapshot();
    // The failed batch: "web" took the VIP and the sysctl, "alt" a service; the script died after web's group.
    const { plan } = run(
      s0,
      (p) => backend(p, "web"),
      (p) => p.claim("alt", { services: [svc], persist: false }),
    );
    const died: Snapshot = { ...s0, pending: plan.ledger, addrs: [...s0.addrs, vipOnLo], sysctls: { [ARP]: 1 } };
    // web goes again: nothing of its is removed and added back; alt's service (never created) is not claimed.
    const next = run(died, (p) => backend(p, "web"));
    next.plan.settle();
    expect(emitted(next.plan)).toEqual([]);
    expect(Object.keys(next.plan.ledger.entries).sort()).toEqual([keys.addr(vipOnLo), keys.sysctl(ARP)].sort());
    expect(next.plan.ledger.entries[keys.addr(vipOnLo)]).toMatchObject({ original: null, holders: { web: { value: true } } });
    expect(next.plan.ledger.entries[keys.sysctl(ARP)]).toMatchObject({ original: 0, holders: { web: { value: 1 } } });
  });

  test("no blinking: a service the died transaction created is kept for the operation that claims it again, as ours (not adopted)", () => {
    const s0 = snapshot();
    const { plan } = run(s0, (p) => p.claim("alt", { services: [svc], persist: false }));
    const live = (after(plan, s0).ipvs ?? new Map()) as IpvsTable;
    const died: Snapshot = { ...s0, pending: plan.ledger, ipvs: live };
    const next = run(died, (p) => p.claim("alt", { services: [svc], persist: false }));
    next.plan.settle();
    expect(next.commands).toEqual([]);
    expect(emitted(next.plan)).toEqual([]);
    expect(next.plan.ledger.entries[keys.service(svc)]).toMatchObject({ original: null, holders: { alt: {} } });
    // Unclaimed, the same service is removed, and a destination cannot be added to it meanwhile.
    const other = new Plan(died);
    expect(() => other.op("0", (p) => p.claim("rs", { dests: [dest()], persist: false }))).toThrow(ClaimError);
    other.settle();
    expect(emitted(other)).toEqual(["ipvsadm -D -t 198.51.100.100\\:80"]);
  });
});

describe("the boot restore unit", () => {
  test("failed: refresh reports it as drift, and a converging operation runs it again", () => {
    const failed = new Plan(snapshot({ restoreFailed: true }));
    expect(failed.restoreUnitDrift()).toEqual([
      "the boot restore unit pulumi-lvs-restore.service failed (`systemctl status pulumi-lvs-restore.service` names the line); up runs it again",
    ]);
    failed.op("0", (p) => p.rerunFailedRestore());
    expect(emitted(failed)).toEqual(["systemctl restart pulumi-lvs-restore.service || true"]);
  });
  test("healthy (or not read): no drift, nothing run", () => {
    const ok = run(snapshot(), (p) => p.rerunFailedRestore());
    expect(ok.plan.restoreUnitDrift()).toEqual([]);
    expect(ok.commands).toEqual([]);
  });
  test("the snapshot's restore section, as systemctl is-failed prints it", () => {
    const section = (state: string) => parseSnapshot(`${SECTION} restore\n${state}\n`).restoreFailed;
    expect([section("failed"), section("active"), section("inactive")]).toEqual([true, false, false]);
    expect(parseSnapshot("").restoreFailed).toBe(false);
  });
});

describe("gratuitous ARP and unsolicited neighbour advertisements for a director's new VIPs", () => {
  test("with arping (or busybox's) and na6: one unsolicited ARP or NA per new address, after it is added", () => {
    const { commands } = run(snapshot({ arping: "busybox", na6: true }), (p) => {
      p.claim("d", { addrs: [{ address: VIP, prefix: 32, dev: "eth1" }], persist: false });
      expect(p.announce("eth1", [VIP, "2001:db8::100"])).toEqual([]);
    });
    expect(commands).toEqual([
      "ip addr replace 198.51.100.100/32 dev eth1",
      "busybox arping -U -c 1 -w 1 -I eth1 198.51.100.100 >/dev/null 2>&1 || true",
      "na6 -i eth1 -s 2001\\:db8\\:\\:100 -d ff02::1 -t 2001\\:db8\\:\\:100 -o -e >/dev/null 2>&1 || true",
    ]);
  });
  test("without: nothing is run, and the addresses are returned for the warning", () => {
    const { plan, commands } = run(snapshot(), () => undefined);
    expect(plan.announce("eth1", [VIP, "2001:db8::100"])).toEqual([VIP, "2001:db8::100"]);
    expect(commands).toEqual([]);
    // With arping only, the IPv6 address alone goes unannounced.
    expect(run(snapshot({ arping: "arping" }), () => undefined).plan.announce("eth1", [VIP, "2001:db8::100"])).toEqual(["2001:db8::100"]);
  });
  test("the snapshot's na6 section, as `command -v` prints it", () => {
    const na6 = (out: string) => parseSnapshot(`${SECTION} na6\n${out}\n`).na6;
    expect([na6("/usr/sbin/na6"), na6("")]).toEqual([true, false]);
  });
  test("the snapshot's arping section, as `command -v` prints it", () => {
    const tool = (out: string) => parseSnapshot(`${SECTION} arping\n${out}\n`).arping;
    expect([tool("/usr/sbin/arping"), tool("/usr/bin/busybox"), tool("")]).toEqual(["arping", "busybox", undefined]);
  });
});
