// Many operations on one host at once (the engine's default parallelism): 50 backends are
// created concurrently, then 25 removed while others change weight. The per-host queue
// coalesces them into a few transactions; the exact IPVS rules and boot rules must follow.
import * as path from "path";
import { REPO, Stack, conn, labHost, labStatus, onHost } from "./harness";

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
  expect(r.output).toMatch(/25 deleted/);
  expect(r.output).toMatch(/10 updated/);
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual(expected(kept));
  const boot = ours(onHost("director", "cat /etc/pulumi-lvs/ipvs.rules")).map((l) => l.replace(/ -x 0 -y 0$/, ""));
  expect(boot).toEqual(expected(kept));
});

test("3. destroy removes every rule and the boot files", async () => {
  await stack.destroy();
  expect(ours(onHost("director", "ipvsadm -S -n"))).toEqual([]);
  expect(onHost("director", "ls /etc/pulumi-lvs /var/lib/pulumi-lvs 2>/dev/null || true").trim()).toBe("");
});
