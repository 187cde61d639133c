// Backends given inline on a VirtualService (`realServers`), in the plain setup: one director,
// two DR backends, the default scheduler, no VRRP. One resource holds the service and its pool:
// created, reweighted, repaired after drift, shrunk, shrunk again while a download runs through
// the backend taken off (it drains) and destroyed, each step checked on the director's IPVS
// table, the client's requests and the engine's structured steps.
import * as path from "path";
import {
  BIG,
  REPO,
  Stack,
  changes,
  conn,
  expectAlternating,
  hostState,
  ipvsRules,
  labHost,
  labStatus,
  removeSlowDownload,
  serveSlowDownload,
  onHost,
  requestsFromClient,
  servingBackend,
  startTransfer,
  transferDone,
  waitFor,
} from "./harness";

jest.setTimeout(15 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "rs-a", "rs-b"];
const A = rsA.lanAddress;
const B = rsB.lanAddress;
const stack = new Stack(path.join(REPO, "test/e2e/program"), "inline");

const hosts = [
  { type: "DirectorHost", name: "director", args: { connection: conn(director), vips: [VIP] } },
  { type: "DrRealServerHost", name: "host-a", args: { connection: conn(rsA), vips: [VIP] } },
  { type: "DrRealServerHost", name: "host-b", args: { connection: conn(rsB), vips: [VIP] } },
];
const web = (realServers: Record<string, unknown>[]) => ({
  type: "VirtualService",
  name: "web",
  args: { connection: conn(director), address: VIP, port: 80, realServers },
});

let before: Record<string, string>;
beforeAll(async () => {
  before = hostState(HOSTS);
  await stack.init();
});
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
});

test("1. one VirtualService with two inline backends: one create for the pool, both backends in the kernel, traffic alternates", async () => {
  stack.declare(...hosts, web([{ address: A }, { address: B }]));
  const r = await stack.up();
  expect(changes(r)).toEqual({ director: "create", "host-a": "create", "host-b": "create", web: "create" });
  expect(ipvsRules()).toEqual([`-A -t ${VIP}:80 -s wlc`, `-a -t ${VIP}:80 -r ${A}:80 -g -w 1`, `-a -t ${VIP}:80 -r ${B}:80 -g -w 1`]);
  expectAlternating(VIP);
  await stack.must("preview", "--expect-no-changes");
});

test("2. a weight changed in the list is an update of the service's resource, and the kernel has it", async () => {
  stack.declare(...hosts, web([{ address: A }, { address: B, weight: 3 }]));
  const r = await stack.up();
  expect(changes(r)).toEqual({ web: "update" });
  expect(ipvsRules()).toContain(`-a -t ${VIP}:80 -r ${B}:80 -g -w 3`);
});

test("3. a backend deleted by hand is drift: refresh sees it, preview plans an update, up puts it back", async () => {
  onHost("director", `ipvsadm -d -t ${VIP}:80 -r ${B}:80`);
  await stack.refresh();
  expect((await stack.outputsOf("web")).realServers).toEqual([expect.objectContaining({ address: A, weight: 1 })]);
  const planned = await stack.must("preview");
  expect(changes(planned)).toEqual({ web: "update" });
  await stack.up();
  expect(ipvsRules()).toContain(`-a -t ${VIP}:80 -r ${B}:80 -g -w 3`);
  await stack.must("preview", "--expect-no-changes");
});

test("4. a backend taken off the list is removed from the kernel; the other keeps serving", async () => {
  stack.declare(...hosts, web([{ address: B, weight: 3 }]));
  const r = await stack.up();
  expect(changes(r)).toEqual({ web: "update" });
  expect(ipvsRules()).toEqual([`-A -t ${VIP}:80 -s wlc`, `-a -t ${VIP}:80 -r ${B}:80 -g -w 3`]);
  expect(requestsFromClient(VIP, 4)).toEqual(Array(4).fill("This is test page,this is B."));
});

test("5. a backend taken off the list while a download runs through it drains: weight 0, new requests elsewhere, the download completes, then it goes", async () => {
  serveSlowDownload(["rs-a", "rs-b"]);
  try {
    stack.declare(...hosts, web([{ address: A }, { address: B, weight: 3 }]));
    await stack.up();
    startTransfer(VIP, "inline-drain");
    const serving = await servingBackend("director", VIP, "inline-drain");
    const other = serving === A ? B : A;
    const page = (a: string) => `This is test page,this is ${a === A ? "A" : "B"}.`;
    stack.declare(...hosts, web([{ address: other, weight: 3, drainTimeout: 90 }]));
    const up = stack.up();
    let quiesced: boolean | undefined;
    let during: string[] = [];
    try {
      quiesced = await waitFor(
        `${serving} at weight 0 while it drains`,
        60,
        () => ipvsRules().includes(`-a -t ${VIP}:80 -r ${serving}:80 -g -w 0`) || undefined,
      );
      during = requestsFromClient(VIP, 3);
    } finally {
      await up.catch(() => undefined); // never leave the stack locked for the next step
    }
    expect(changes(await up)).toEqual({ web: "update" });
    expect(quiesced).toBe(true);
    expect(during).toEqual(Array(3).fill(page(other)));
    expect(await transferDone("inline-drain")).toEqual({ rc: "0", result: `200 ${BIG}` });
    expect(ipvsRules()).toEqual([`-A -t ${VIP}:80 -s wlc`, `-a -t ${VIP}:80 -r ${other}:80 -g -w 3`]);
  } finally {
    removeSlowDownload(["rs-a", "rs-b"]);
  }
});

test("6. destroy leaves every host as it was", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before);
});
