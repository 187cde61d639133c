// The host's ledger agrees with its kernel, and `pulumi-lvs ledger show|release` is the way
// out when it names a holder no stack knows. On the director: a stack's backend on a service
// made by hand; the service deleted by hand: the ledger drops the backend on its next read (the
// stack's refresh sees its backend gone, another stack declares it anew without conflict); a
// service is not deleted from under another stack's backend (refused, naming it and the
// command that releases it); `ledger release` removes that holder as its own delete would.
import * as path from "path";
import { execFile } from "child_process";
import { promisify } from "util";
import { REPO, Stack, conn, labHost, labStatus, onHost, opCounts } from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const director = labHost(lab, "director");
const VIP = lab.vip;
const PORT = 9200;
const RIP = "198.18.1.1";
const connection = conn(director);
const program = path.join(REPO, "test/e2e/program");
const a = new Stack(program, "ledger-a");
const b = new Stack(program, "ledger-b");
const c = new Stack(program, "ledger-c");
const key = { address: VIP, port: PORT, protocol: "tcp" };
const backend = (name: string, weight: number, address = RIP) => ({
  type: "RealServer",
  name,
  args: { connection, service: key, address, weight, drainTimeout: 0 },
});
const service = { type: "VirtualService", name: "svc", args: { connection, address: VIP, port: PORT, scheduler: "rr" } };

/** `pulumi-lvs` as an operator runs it, against the director (its host key pinned). */
async function tool(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const hostKey = onHost("director", "cat /etc/ssh/ssh_host_ed25519_key.pub").trim();
  const target = `${director.user}@${director.sshHost}:${director.sshPort}`;
  const [verb, ...rest] = args;
  try {
    const { stdout, stderr } = await promisify(execFile)(
      path.join(REPO, "bin/provider/cli/main.js"),
      ["ledger", verb, target, "--key", director.keyPath, "--host-key", hostKey, ...rest],
      { encoding: "utf8", timeout: 5 * 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : 1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}
type Shown = {
  holds: { key: string; owner: string; stack: string; since?: string; adopted?: string }[];
  resolved: { key: string; holders: string[]; reason: string }[];
};
const show = async (): Promise<Shown> => {
  const r = await tool("show", "--json");
  if (r.code !== 0) throw new Error(`ledger show failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Shown;
};
const ours = () =>
  onHost("director", "ipvsadm -S -n")
    .split("\n")
    .filter((l) => l.includes(`${VIP}:${PORT}`))
    .sort();
const DEST = `dest tcp/${VIP}:${PORT} ${RIP}:${PORT}`;
/** The resources a stack's state holds, by name. */
const inState = async (s: Stack) =>
  (JSON.parse(await s.exportState()) as { deployment: { resources?: { urn: string }[] } }).deployment.resources
    ?.map((r) => r.urn.split("::").pop()!)
    .filter((n) => !n.includes("-lvs-e2e")) ?? [];

beforeAll(async () => {
  await Promise.all([a.init(), b.init(), c.init()]);
});
afterAll(async () => {
  // c before b: b's service is not deleted while c's backend on it is held.
  for (const s of [a, c, b]) await s.run("destroy", "--yes", "--skip-preview");
  onHost("director", `ipvsadm -D -t ${VIP}:${PORT} 2>/dev/null || true`);
  for (const s of [a, b, c]) await s.remove();
});

test("1. a backend on a service made by hand: ledger show lists its holder, stack and since when", async () => {
  onHost("director", `ipvsadm -A -t ${VIP}:${PORT} -s rr`);
  a.declare(backend("r1", 1));
  expect(opCounts(await a.up())).toEqual({ create: 1 });
  const shown = await show();
  const hold = shown.holds.find((h) => h.key === DEST)!;
  expect(hold).toMatchObject({ stack: "ledger-a" });
  expect(hold.owner).toBe(`urn:pulumi:ledger-a::lvs-e2e::pulumi-nodejs:dynamic/lvs:RealServer::r1#tcp/${VIP}:${PORT}/${RIP}:${PORT}`);
  expect(Date.now() - Date.parse(hold.since!)).toBeLessThan(10 * 60_000);
  // pulumi-lvs created the destination: nothing was adopted.
  expect(hold.adopted).toBeUndefined();
  // The table an operator reads: one row per holder.
  const table = await tool("show");
  expect(table.code).toBe(0);
  expect(table.stdout.split("\n")[0].split(/\s{2,}/)).toEqual(["OBJECT", "STACK", "RESOURCE", "VALUE", "ADOPTED", "SINCE"]);
});

test("2. the service deleted by hand: the next read drops the backend's entry; its stack's refresh sees it gone", async () => {
  onHost("director", `ipvsadm -D -t ${VIP}:${PORT}`);
  const shown = await show();
  expect(shown.holds.map((h) => h.key)).not.toContain(DEST);
  expect(shown.resolved).toEqual([expect.objectContaining({ key: DEST, reason: `its service tcp/${VIP}:${PORT} is gone` })]);
  await a.refresh();
  expect(await inState(a)).not.toContain("r1");
});

test("3. another stack declares the service and that backend with another weight: no conflict", async () => {
  b.declare(service, { ...backend("r1", 2), args: { ...backend("r1", 2).args, service: "svc" } });
  expect(opCounts(await b.up())).toEqual({ create: 2 });
  expect(ours()).toEqual([`-A -t ${VIP}:${PORT} -s rr`, `-a -t ${VIP}:${PORT} -r ${RIP}:${PORT} -g -w 2`]);
});

test("4. a service is not deleted from under another stack's backend: refused, naming it and how to release it", async () => {
  c.declare(backend("r2", 1, "198.18.1.2"));
  await c.up();
  const r = await b.run("destroy", "--yes", "--skip-preview");
  expect(r.code).not.toBe(0);
  // The engine's error diagnostic names c's backend by its owner (as c's state records it) and how to release it.
  const owner = (await c.outputsOf("r2")).owner as string;
  const target = `${director.user}@${director.sshHost}:${director.sshPort}`;
  const error = r.errors.join("\n");
  expect(error).toContain(
    `${target}: IPVS service tcp/${VIP}:${PORT} still has real servers held by others: real server tcp/${VIP}:${PORT} 198.18.1.2:${PORT} by ${owner}; ` +
      "deleting the service would delete them too, so nothing was changed",
  );
  expect(error).toContain(`npx pulumi-lvs ledger release ${target} --owner '${owner}'`);
  // b's own backend went first, as its delete should; the service and c's backend stay.
  expect(ours()).toEqual([`-A -t ${VIP}:${PORT} -s rr`, `-a -t ${VIP}:${PORT} -r 198.18.1.2:${PORT} -g -w 1`]);
});

test("5. ledger release: refused without confirmation; with --yes it removes the holder as its delete would", async () => {
  const unconfirmed = await tool("release", "--stack", "ledger-c");
  expect(unconfirmed.code).toBe(1);
  expect(unconfirmed.stderr).toContain("pass --yes");
  expect((await show()).holds.some((h) => h.stack === "ledger-c")).toBe(true);

  const none = await tool("release", "--stack", "no-such-stack", "--yes");
  expect(none.code).toBe(1);

  const r = await tool("release", "--stack", "ledger-c", "--yes", "--json");
  expect(r.code).toBe(0);
  const released = JSON.parse(r.stdout) as { released: { key: string }[]; commands: string[] };
  expect(released.released.map((x) => x.key)).toEqual([`dest tcp/${VIP}:${PORT} 198.18.1.2:${PORT}`]);
  expect(ours()).toEqual([`-A -t ${VIP}:${PORT} -s rr`]);
  expect((await show()).holds.some((h) => h.stack === "ledger-c")).toBe(false);
  // Now the service goes, and nothing of either stack is left on the host.
  await b.destroy();
  expect(ours()).toEqual([]);
  expect((await show()).holds).toEqual([]);
  // c's backend vanished under it: its refresh drops it from its state.
  await c.refresh();
  expect(await inState(c)).not.toContain("r2");
});

test("6. bad input: a usage error names the flag, exit 2, before anything connects", async () => {
  const r = await tool("show", "--lock-timeout", "0");
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("--lock-timeout: lockTimeout must be between 1 and 86400, got 0");
});
