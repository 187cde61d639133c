// The commonest keepalived setup: one director, health-checked backends, no VRRP, through the
// real CLI on the lab, as ordered steps. First the LvsDrCluster a new user writes (its first
// `up` serves; a dead web server leaves rotation and returns; the check turned on for the
// service ipvsadm ran while a backend was dead; a backend removed; the cluster removed), then the same service declared resource by resource, so that it exists with no
// backend at all (keepalived is left alone: it would have nothing to run), gets one, and loses
// it again; then a firewall-mark service for HTTP and its alternative port, sticky, whose
// backend's death takes it out of both. keepalived on the director ends byte-identical to how
// the lab ships it (installed, enabled, inactive, no keepalived.conf), and so does everything
// else on the hosts.
import * as path from "path";
import {
  REPO,
  Stack,
  changes,
  conn,
  expectAlternating,
  hostState,
  labHost,
  labStatus,
  onHost,
  requestsFromClient,
  waitFor,
} from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "rs-a", "rs-b"];
const check = { type: "http", path: "/", interval: 1, timeout: 1, retries: 1 };
const stack = new Stack(path.join(REPO, "test/e2e/program"), "health");

const backend = (h: typeof rsA, name: string) => ({ name, address: h.lanAddress, connection: conn(h) });
const cluster = (backends: ReturnType<typeof backend>[], { checked = true } = {}) => ({
  type: "LvsDrCluster",
  name: "web",
  args: {
    director: conn(director),
    vip: VIP,
    port: 80,
    scheduler: "rr",
    drainTimeout: 0,
    healthCheck: checked ? check : undefined,
    backends,
  },
});
/** The same service resource by resource, with as many real servers (on rs-a) as asked. */
const resources = (withBackend: boolean) => [
  { type: "DirectorHost", name: "dir", args: { connection: conn(director), vips: [VIP] } },
  {
    type: "VirtualService",
    name: "svc",
    args: { connection: conn(director), address: VIP, port: 80, scheduler: "rr", healthCheck: check },
  },
  ...(withBackend
    ? [
        { type: "DrRealServerHost", name: "host-a", args: { connection: conn(rsA), vips: [VIP] } },
        { type: "RealServer", name: "rs-a", args: { service: "svc", address: rsA.lanAddress, drainTimeout: 0 } },
      ]
    : []),
];

/** The real servers of VIP:80 in the director's kernel (keepalived adds one once its first check passed). */
const inKernel = () =>
  onHost("director", "ipvsadm -S -n")
    .split("\n")
    .filter((l) => l.startsWith(`-a -t ${VIP}:80 `))
    .map((l) => l.split(" ")[4].split(":")[0])
    .sort();
const waitKernel = (want: string[]) =>
  waitFor(`real servers ${JSON.stringify(want)} in ${VIP}:80`, 30, () =>
    JSON.stringify(inKernel()) === JSON.stringify(want) ? want : undefined,
  );
const keepalived = () => onHost("director", "systemctl is-active keepalived || true").trim();
/** What is in /etc/keepalived (as shipped: the package's sample only). */
const keepalivedFiles = () => onHost("director", "ls -A /etc/keepalived").trim();
const noChanges = () => stack.must("preview", "--expect-no-changes");
const created = (r: { steps: { op: string }[] }) => r.steps.map((s) => s.op);

let before: Record<string, string>;
let shipped: string;
beforeAll(async () => {
  before = hostState(HOSTS);
  shipped = keepalivedFiles();
  expect(shipped.split("\n")).not.toContain("keepalived.conf");
  expect(keepalived()).toBe("inactive");
  await stack.init();
});
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
});

test("1. the first up of a health-checked cluster without VRRP serves: six requests alternate", async () => {
  stack.declare(cluster([backend(rsA, "a"), backend(rsB, "b")]));
  const r = await stack.up();
  expect(new Set(created(r))).toEqual(new Set(["create"]));
  expect(keepalived()).toBe("active");
  await waitKernel([rsA.lanAddress, rsB.lanAddress]);
  expectAlternating(VIP);
  await noChanges();
});

test("2. a backend whose web server stops leaves rotation, and returns when it is back", async () => {
  onHost("rs-b", "systemctl stop lab-httpd");
  try {
    await waitKernel([rsA.lanAddress]);
    expect(requestsFromClient(VIP, 4)).toEqual(Array(4).fill("This is test page,this is A."));
  } finally {
    onHost("rs-b", "systemctl start lab-httpd");
  }
  await waitKernel([rsA.lanAddress, rsB.lanAddress]);
  expectAlternating(VIP);
});

test("3. a check turned on for a service ipvsadm ran, one backend dead then: keepalived starts and only the live one serves", async () => {
  stack.declare(cluster([backend(rsA, "a"), backend(rsB, "b")], { checked: false }));
  await stack.up();
  expect(keepalived()).toBe("inactive");
  await waitKernel([rsA.lanAddress, rsB.lanAddress]);
  onHost("rs-b", "systemctl stop lab-httpd");
  try {
    stack.declare(cluster([backend(rsA, "a"), backend(rsB, "b")]));
    await stack.up();
    expect(keepalived()).toBe("active");
    await waitKernel([rsA.lanAddress]);
    expect(requestsFromClient(VIP, 4)).toEqual(Array(4).fill("This is test page,this is A."));
  } finally {
    onHost("rs-b", "systemctl start lab-httpd");
  }
  await waitKernel([rsA.lanAddress, rsB.lanAddress]);
  await noChanges();
});

test("4. removing a backend removes only it; rs-b is as it was", async () => {
  stack.declare(cluster([backend(rsA, "a")]));
  const r = await stack.up();
  expect(changes(r)).toEqual({ [`web-rs-b`]: "delete", [`web-rs-host-b-${VIP}`]: "delete" });
  await waitKernel([rsA.lanAddress]);
  expect(requestsFromClient(VIP, 3)).toEqual(Array(3).fill("This is test page,this is A."));
  expect(hostState(["rs-b"])).toEqual({ "rs-b": before["rs-b"] });
});

test("5. up to an empty stack puts every host back, keepalived included", async () => {
  stack.declare();
  const r = await stack.up();
  expect(new Set(created(r))).toEqual(new Set(["delete"]));
  expect(hostState(HOSTS)).toEqual(before);
});

test("6. a health-checked service with no backend yet: keepalived is left alone, preview is clean", async () => {
  stack.declare(...resources(false));
  const r = await stack.up();
  expect(changes(r)).toEqual({ dir: "create", svc: "create" });
  expect(keepalived()).toBe("inactive");
  expect(keepalivedFiles()).toBe(shipped);
  expect(inKernel()).toEqual([]);
  await noChanges();
});

test("7. its first backend: keepalived starts and the VIP serves", async () => {
  stack.declare(...resources(true));
  const r = await stack.up();
  expect(changes(r)).toEqual({ "host-a": "create", "rs-a": "create" });
  expect(keepalived()).toBe("active");
  await waitKernel([rsA.lanAddress]);
  expect(requestsFromClient(VIP, 2)).toEqual(Array(2).fill("This is test page,this is A."));
  await noChanges();
});

test("8. its last backend removed: keepalived put back as found, the service waits for the next one", async () => {
  stack.declare(...resources(false));
  const r = await stack.up();
  expect(changes(r)).toEqual({ "host-a": "delete", "rs-a": "delete" });
  expect(keepalived()).toBe("inactive");
  expect(keepalivedFiles()).toBe(shipped);
  await noChanges();
});

/** HTTP and its alternative port as one firewall-mark service, sticky, checked on port 80 (nftables marks both). */
const fwmark = [
  { type: "DirectorHost", name: "dir", args: { connection: conn(director), vips: [VIP] } },
  ...[rsA, rsB].map((h) => ({ type: "DrRealServerHost", name: `host-${h.name}`, args: { connection: conn(h), vips: [VIP] } })),
  {
    type: "VirtualService",
    name: "fw",
    args: {
      connection: conn(director),
      fwmark: 10,
      match: [{ address: VIP, ports: [80, 8080] }],
      scheduler: "rr",
      persistence: { timeout: 300 },
      healthCheck: { ...check, port: 80 },
    },
  },
  ...[rsA, rsB].map((h) => ({ type: "RealServer", name: `fw-${h.name}`, args: { service: "fw", address: h.lanAddress, drainTimeout: 0 } })),
];
const fwKernel = () =>
  onHost("director", "ipvsadm -S -n")
    .split("\n")
    .filter((l) => l.startsWith("-a -f 10 "))
    .map((l) => l.split(" ")[4])
    .sort();
const waitFw = (want: string[]) =>
  waitFor(`real servers ${JSON.stringify(want)} in fwmark 10`, 30, () =>
    JSON.stringify(fwKernel()) === JSON.stringify(want) ? want : undefined,
  );
/** One request to VIP:port; the page's letter. */
const page = (port: number) => requestsFromClient(VIP, 1, port)[0].replace(/^This is test page,this is (\w)\.$/, "$1");

test("9. a health-checked fwmark service (80 and 8080, sticky): a backend whose web server stops leaves both ports", async () => {
  stack.declare(...fwmark);
  await stack.up();
  expect(onHost("director", "ipvsadm -S -n")).toContain("-A -f 10 -s rr -p 300");
  await waitFw([`${rsA.lanAddress}:0`, `${rsB.lanAddress}:0`]);
  expect(["A", "B"]).toContain(page(80));
  expect(["A", "B"]).toContain(page(8080));
  onHost("rs-b", "systemctl stop lab-httpd");
  try {
    await waitFw([`${rsA.lanAddress}:0`]);
    // The client's persistence template may still name B: it expires with its backend gone.
    expect([page(80), page(8080), page(80), page(8080)]).toEqual(["A", "A", "A", "A"]);
  } finally {
    onHost("rs-b", "systemctl start lab-httpd");
  }
  await waitFw([`${rsA.lanAddress}:0`, `${rsB.lanAddress}:0`]);
  await noChanges();
});

test("10. destroy leaves every host as it was", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before);
});
