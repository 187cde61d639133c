// Many operations on one host at once (the engine's default parallelism): 50 backends are
// created concurrently, then 25 removed while others change weight. The per-host queue
// coalesces them into a few transactions; the exact IPVS rules and boot rules must follow.
// Then the host lock held by a stopped process: an up waits at most its lockTimeout, fails
// naming the holder, and succeeds once the holder is gone; and an up killed while it waits for
// the lock leaves no trace once the lock is free (no ghost holder), so another stack then
// declares the same backend without conflict. Last, the director's management link frozen
// while a run's transaction holds the lock: the run fails by itself within the keepalive and
// dial budget, the host lets the lock go, and the next up converges with a ledger that matches
// the stack's state.
import * as path from "path";
import { execFileSync } from "child_process";
import { REPO, Stack, conn, labHost, labStatus, onHost, opCounts, waitFor } from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const director = labHost(lab, "director");
const VIP = lab.vip;
const PORT = 9100;
const connection = conn(director);
const stack = new Stack(path.join(REPO, "test/e2e/program"), "concurrency");
/** Backends in TEST-NET-2's neighbour range 198.18.0.0/15: never contacted, only scheduled. */
const rip = (i: number) => `198.18.0.${i + 1}`;
const service = { type: "VirtualService", name: "many", args: { connection, address: VIP, port: PORT, scheduler: "wrr" } };
const backend = (i: number, weight: number) => ({
  type: "RealServer",
  name: `many-${i}`,
  args: { service: "many", address: rip(i), weight, drainTimeout: 0 },
});
const declare = (backends: [number, number][]) =>
  stack.setConfig({ "lvs-e2e:resources": [service, ...backends.map(([i, w]) => backend(i, w))] });
const range = (n: number) => [...Array(n).keys()];

const ours = (lines: string) =>
  lines
    .split("\n")
    .filter((l) => l.includes(`${VIP}:${PORT}`))
    .sort();
const expected = (backends: [number, number][]) =>
  [`-A -t ${VIP}:${PORT} -s wrr`, ...backends.map(([i, w]) => `-a -t ${VIP}:${PORT} -r ${rip(i)}:${PORT} -g -w ${w}`)].sort();

beforeAll(() => stack.init());
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
});

test("1. 50 backends created concurrently: exact rules in the kernel and in the boot rules", async () => {
  const all = range(50).map((i) => [i, 1] as [number, number]);
  declare(all);
  await stack.up();
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual(expected(all));
  // The boot rules carry thresholds too (-x/-y), which ipvsadm -S leaves out.
  const boot = ours(onHost("director", "cat /etc/pulumi-lvs/ipvs.rules")).map((l) => l.replace(/ -x 0 -y 0$/, ""));
  expect(boot).toEqual(expected(all));
});

test("2. 25 removed while 10 others change weight, in one up", async () => {
  const kept = range(50)
    .filter((i) => i % 2 === 0)
    .map((i) => [i, i < 20 ? 5 : 1] as [number, number]);
  declare(kept);
  const r = await stack.up();
  expect(opCounts(r)).toEqual({ delete: 25, update: 10 });
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual(expected(kept));
  const boot = ours(onHost("director", "cat /etc/pulumi-lvs/ipvs.rules")).map((l) => l.replace(/ -x 0 -y 0$/, ""));
  expect(boot).toEqual(expected(kept));
});

test("3. destroy removes every rule and the boot files", async () => {
  await stack.destroy();
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([]);
  expect(onHost("director", "ls /etc/pulumi-lvs /var/lib/pulumi-lvs 2>/dev/null || true").trim()).toBe("");
});

/** Takes the host lock as a stopped run would hold it; returns the holder's pid. */
const holdLock = async () => {
  const pid = onHost(
    "director",
    `sh -c 'exec 9>>/run/pulumi-lvs.lock; flock 9; echo "stack frozen (pid 4711 on ci-3): a test since then, remote pid $$" > /run/pulumi-lvs.lock.holder; exec sleep 900' >/dev/null 2>&1 & echo $!`,
  ).trim();
  await waitFor("the test's holder to record itself", 30, () =>
    onHost("director", "cat /run/pulumi-lvs.lock.holder 2>/dev/null || true").includes("frozen") ? true : undefined,
  );
  return pid;
};
test("4. a host lock held by a stopped process: up fails after lockTimeout naming the holder, then succeeds once it is gone", async () => {
  // A holder as a stopped run would leave it: the lock taken, its record written, the process frozen.
  const pid = await holdLock();
  try {
    onHost("director", `kill -STOP ${pid}`);
    const locked = { ...service, args: { ...service.args, connection: { ...connection, lockTimeout: 5 } } };
    stack.setConfig({ "lvs-e2e:resources": [locked] });
    const r = await stack.run("up", "--yes", "--skip-preview");
    expect(r.code).not.toBe(0);
    expect(r.errors.join("\n")).toContain("is still held after 5s, by stack frozen (pid 4711 on ci-3): a test since then, remote pid");
    expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([]);
  } finally {
    onHost("director", `kill -KILL ${pid}`, { allowFail: true });
  }
  const r = await stack.up();
  expect(opCounts(r)).toEqual({ create: 1 });
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([`-A -t ${VIP}:${PORT} -s wrr`]);
});

/** Until a run's transaction waits for the host lock (flock -w on the director). */
const waitingForLock = () =>
  waitFor("the run's transaction to wait for the lock (flock -w on the director)", 120, () =>
    onHost("director", "ps -eo args")
      .split("\n")
      .some((l) => l.startsWith("flock -w"))
      ? true
      : undefined,
  );

const ledger = () => onHost("director", "cat /var/lib/pulumi-lvs/ledger.json 2>/dev/null || true");

test("5. an up killed while it waits for the lock never writes later: no ghost holder once the lock is free", async () => {
  const pid = await holdLock();
  const ghost = backend(7, 2);
  stack.setConfig({ "lvs-e2e:resources": [service, ghost] });
  const run = stack.start("up", "--yes", "--skip-preview");
  try {
    await waitingForLock();
    // The operator gives up: the CLI is killed outright (its provider process is left running).
    execFileSync("kill", ["-KILL", String(run.pid)]);
    await run.result;
  } finally {
    onHost("director", `kill -KILL ${pid}`, { allowFail: true });
  }
  // The lock is free now: for longer than the provider takes to notice (4 s) and a transaction
  // to run, nothing of the killed run appears, in the kernel or in the ledger.
  for (const until = Date.now() + 15_000; Date.now() < until;) {
    expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([`-A -t ${VIP}:${PORT} -s wrr`]);
    expect(ledger()).not.toContain(rip(7));
    await new Promise((r) => setTimeout(r, 1000)); // an invariant sampled every second
  }
  // Another stack declares the same backend (another weight): no conflict with a ghost.
  const other = new Stack(path.join(REPO, "test/e2e/program"), "concurrency-other");
  await other.init();
  try {
    other.setConfig({
      "lvs-e2e:resources": [
        { ...service, name: "many-other" },
        { ...ghost, args: { ...ghost.args, service: "many-other", weight: 3 } },
      ],
    });
    // (The same service is adopted as is; the backend is new.)
    await other.up();
    expect(ours(onHost("director", "ipvsadm -S -n"))).toContain(`-a -t ${VIP}:${PORT} -r ${rip(7)}:${PORT} -g -w 3`);
    await other.destroy();
  } finally {
    await other.remove();
  }
  // The killed run's lock on its stack (file backend) and its pending create, as an operator clears them.
  await stack.run("cancel", "--yes");
  await stack.must("refresh", "--yes", "--skip-preview", "--clear-pending-creates");
  await stack.destroy();
  // The destroy's session lets the lock go once its provider process is gone (or after 1 s idle).
  await waitFor("the director's lock to be free after the destroy", 10, () =>
    onHost("director", "ls /run/pulumi-lvs.lock.holder 2>/dev/null || true").trim() === "" ? true : undefined,
  );
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([]);
});

/** Drops every SSH packet on the director for `seconds` (its own timer lifts it: nothing can reach it meanwhile). */
const freezeManagementLink = (seconds: number, then = "true") =>
  onHost(
    "director",
    `setsid sh -c 'nft add table inet e2e_freeze; ` +
      `nft add chain inet e2e_freeze in "{ type filter hook input priority -300; }"; nft add rule inet e2e_freeze in tcp dport 22 drop; ` +
      `nft add chain inet e2e_freeze out "{ type filter hook output priority -300; }"; nft add rule inet e2e_freeze out tcp sport 22 drop; ` +
      `sleep 1; ${then}; sleep ${seconds}; nft delete table inet e2e_freeze' >/dev/null 2>&1 < /dev/null &`,
  );

test("6. the management link frozen while a run's transaction holds the lock: the run fails by itself, the next up converges", async () => {
  const pid = await holdLock();
  const frozen = { ...connection, dialErrorLimit: 1, perDialTimeout: 5 };
  const svc = { ...service, args: { ...service.args, connection: frozen } };
  stack.setConfig({ "lvs-e2e:resources": [svc, backend(8, 1)] });
  const run = stack.start("up", "--yes", "--skip-preview");
  await waitingForLock();
  // Frozen, then the lock freed: the transaction takes it and reads, and its client never hears.
  const started = Date.now();
  freezeManagementLink(45, `kill -KILL ${pid}`);
  const r = await run.result;
  const took = (Date.now() - started) / 1000;
  expect(r.code).not.toBe(0);
  // Its error diagnostic: the session lost (keepalives), or the one dial allowed after it refused.
  const target = `${director.user}@${director.sshHost}:${director.sshPort}`;
  expect(
    r.errors.some(
      (e) => e.includes(`${target}: the connection was lost during`) || e.includes(`${target}: cannot connect after 1 attempt(s)`),
    ),
  ).toBe(true);
  // Keepalives (5 s x 3) notice it, one dial of 5 s is allowed: well before the link returns.
  expect(took).toBeLessThan(45);
  // The link back: the host let the lock go (no script came within its wait), nothing was written.
  await waitFor("the director to answer again", 120, () => (onHost("director", "true", { allowFail: true }) === "" ? true : undefined));
  await waitFor("the host to release the lock of the cut-off transaction", 120, () =>
    onHost("director", "ls /run/pulumi-lvs.lock.holder 2>/dev/null || true").trim() === "" ? true : undefined,
  );
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([]);
  // The next up of the same stack converges exactly, and the ledger names what its state has.
  stack.setConfig({ "lvs-e2e:resources": [service, backend(8, 1)] });
  await stack.up();
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual(expected([[8, 1]]));
  const holders = Object.values((JSON.parse(ledger()) as { entries: Record<string, { holders: Record<string, unknown> }> }).entries)
    .flatMap((e) => Object.keys(e.holders))
    .sort();
  // Each resource's owner (its URN and what it identifies on the host) as its state records it.
  const owners = [(await stack.outputsOf("many")).owner, (await stack.outputsOf("many-8")).owner].sort();
  expect([...new Set(holders)]).toEqual(owners);
  await stack.destroy();
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([]);
});
