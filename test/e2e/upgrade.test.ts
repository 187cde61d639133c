// Upgrade: state written by the previous release (0.1.0, kept as its source in
// test/upgrade/pulumi-lvs-0.1.0.tar.gz) is read, updated and destroyed by this one. 0.1.0
// kept what it changed in each resource's outputs and named boot files per resource; this
// release takes those over into the host's ledger the first time it touches the resource.
import * as fs from "fs";
import * as path from "path";
import {
  REPO,
  Stack,
  conn,
  expectAlternating,
  hostState,
  installRelease,
  labAsync,
  labHost,
  labStatus,
  onHost,
  requestsFromClient,
} from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "rs-a", "rs-b"];
const config = (weightB = 1, scheduler = "rr") => ({
  "pulumi-lvs:vip": VIP,
  "pulumi-lvs:port": 80,
  "pulumi-lvs:scheduler": scheduler,
  "pulumi-lvs:director": conn(director),
  "pulumi-lvs:backends": [
    { name: "a", address: rsA.lanAddress, connection: conn(rsA) },
    { name: "b", address: rsB.lanAddress, weight: weightB, connection: conn(rsB) },
  ],
});

const stack = new Stack(REPO, "upgrade");
let release: string;
let before: Record<string, string>;

beforeAll(async () => {
  release = installRelease("0.1.0");
  before = hostState(HOSTS);
  await stack.init();
});
afterAll(async () => {
  stack.programDir = REPO;
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  fs.rmSync(path.dirname(release), { recursive: true, force: true });
});

test("1. release 0.1.0 creates the seed cluster", async () => {
  stack.programDir = release;
  stack.setConfig(config());
  await stack.up();
  expectAlternating(VIP);
  expect(onHost("director", "ls /etc/pulumi-lvs/ipvs")).toContain("tcp_198.51.100.100_80.service.rules");
  expect(await stack.exportState()).toMatch(/"stateVersion": 1/);
});

test("2. this release reads that state: preview is clean, refresh succeeds and finds nothing to change", async () => {
  stack.programDir = REPO;
  await stack.must("preview", "--expect-no-changes");
  await stack.refresh();
  await stack.must("preview", "--expect-no-changes");
});

test("3. an update takes the resources over into the ledger; traffic follows the new weights", async () => {
  stack.setConfig(config(3, "wrr"));
  await stack.up();
  const replies = requestsFromClient(VIP, 8);
  expect(replies.filter((r) => r.endsWith("A.")).length).toBe(2);
  expect(replies.filter((r) => r.endsWith("B.")).length).toBe(6);
  expect(onHost("director", "cat /var/lib/pulumi-lvs/ledger.json")).toContain(`service tcp/${VIP}:80`);
  // The service's 0.1.0 file went with its migration; its rule now lives in ipvs.rules.
  expect(onHost("director", "ls /etc/pulumi-lvs/ipvs 2>/dev/null || true")).not.toContain("service.rules");
  expect(onHost("director", "cat /etc/pulumi-lvs/ipvs.rules")).toContain(`-A -t ${VIP}:80 -s wrr`);
});

test("4. a reboot with files of both releases brings everything back with no pulumi run", async () => {
  await Promise.all(HOSTS.map((h) => labAsync("reboot", h)));
  const replies = requestsFromClient(VIP, 8);
  expect(replies.filter((r) => r.endsWith("B.")).length).toBe(6);
  await stack.must("preview", "--expect-no-changes");
});

test("5. destroy leaves every host as it was before release 0.1.0 touched it", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before);
});
