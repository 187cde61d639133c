// Scenario 8: bad input fails at preview with a message naming the field and the value,
// and nothing dials any host. The connection points at a tripwire listener that counts
// every TCP connection it receives; the real lab hosts are checked for changes too.
import * as path from "path";
import { REPO, Stack, connectionOf, ipvsRules, labHost, labStatus, tripwire } from "./harness";

jest.setTimeout(10 * 60_000);

const lab = labStatus();
const director = labHost(lab, "director");
let wire: Awaited<ReturnType<typeof tripwire>>;
const program = new Stack(path.join(REPO, "test/e2e/program"), "bad-input");
const root = new Stack(REPO, "bad-config");
let rulesBefore: string[];

beforeAll(async () => {
  wire = await tripwire();
  rulesBefore = ipvsRules();
  await program.init();
  await root.init();
});
afterAll(async () => {
  await wire.close();
  await program.remove();
  await root.remove();
});

// Resolved when each test runs, after the tripwire listens.
const trap = () => ({ host: "127.0.0.1", port: wire.port, user: "root", privateKey: "not-a-key", dialErrorLimit: 1 });
type Make = () => Record<string, unknown>;
const service =
  (args: Record<string, unknown>): Make =>
  () => ({
    type: "VirtualService",
    name: "svc",
    args: { connection: trap(), address: "198.51.100.100", port: 80, scheduler: "rr", ...args },
  });

test.each([
  ["address", service({ address: "1.2.3.4; reboot" }), "1.2.3.4; reboot"],
  ["scheduler", service({ scheduler: "fastest" }), "fastest"],
  [
    "weight",
    () => ({
      type: "RealServer",
      name: "rs",
      args: { connection: trap(), service: { address: "198.51.100.100", port: 80 }, address: "198.51.100.11", weight: 70000 },
    }),
    "70000",
  ],
  [
    "port",
    () => ({
      type: "RealServer",
      name: "rs",
      args: { connection: trap(), service: { address: "198.51.100.100", port: 80 }, address: "198.51.100.11", port: 8080 },
    }),
    "8080",
  ],
  ["vips.0", () => ({ type: "DrRealServerHost", name: "h", args: { connection: trap(), vips: ["198.51.100.300"] } }), "198.51.100.300"],
] as [string, Make, string][])("8. %s: preview fails naming the field and value; no connection is made", async (field, make, value) => {
  program.setConfig({ "lvs-e2e:resources": [make()] });
  const r = await program.run("preview");
  expect(r.code).not.toBe(0);
  expect(r.output).toContain(field);
  expect(r.output).toContain(value);
  expect(wire.count()).toBe(0);
});

test("8. bad stack config of the root program names the config key; no host is touched", async () => {
  root.setConfig({
    "pulumi-lvs:vip": "1.2.3.4; reboot",
    "pulumi-lvs:port": 80,
    "pulumi-lvs:director": connectionOf(director),
    "pulumi-lvs:backends": [{ name: "a", address: "198.51.100.11", weight: 70000, connection: trap() }],
  });
  const r = await root.run("preview");
  expect(r.code).not.toBe(0);
  expect(r.output).toContain("pulumi-lvs:vip");
  expect(r.output).toContain("1.2.3.4; reboot");
  expect(r.output).toContain("pulumi-lvs:backends[0].weight");
  expect(wire.count()).toBe(0);
  expect(ipvsRules()).toEqual(rulesBefore);
});
