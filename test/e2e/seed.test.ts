// The walkthrough's proof, through the real pulumi CLI against the VM lab: the root
// program converges a director and two backends so the client's requests to the VIP
// alternate between A and B, changes apply in place, drift is found and repaired,
// destroy leaves every host as it was, and a hand-made service survives it all.
import * as fs from "fs";
import { REPO, Stack, conn, ipvsRules, labHost, labStatus, onHost, opCounts, requestsFromClient, waitFor } from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const SYSCTLS = [
  "net.ipv4.conf.lo.arp_ignore",
  "net.ipv4.conf.all.arp_ignore",
  "net.ipv4.conf.lo.arp_announce",
  "net.ipv4.conf.all.arp_announce",
];
const HAND_MADE = ["-A -t 198.51.100.200:8080 -s wlc", "-a -t 198.51.100.200:8080 -r 198.51.100.11:8080 -g -w 5"];

const stack = new Stack(REPO, "seed");
// Keys by path, as an operator would write a stack file: a key written into plain config
// would be plain in the state too (Pulumi hands all config to the dynamic provider).
const backend = (h: typeof rsA, name: string, weight = 1) => ({ name, address: h.lanAddress, weight, connection: conn(h) });
const config = (extra: Record<string, unknown> = {}) => ({
  "pulumi-lvs:vip": VIP,
  "pulumi-lvs:port": 80,
  "pulumi-lvs:scheduler": "rr",
  "pulumi-lvs:director": conn(director),
  "pulumi-lvs:backends": [backend(rsA, "a"), backend(rsB, "b")],
  ...extra,
});

const sysctls = (host: string) =>
  onHost(host, `sysctl -n ${SYSCTLS.join(" ")}`)
    .trim()
    .split("\n")
    .map(Number);
const loAddrs = (host: string) => onHost(host, "ip -o -4 addr show dev lo").trim();
const ourRules = () => ipvsRules().filter((l) => l.includes(`${VIP}:80`));
const count = (xs: string[], page: string) => xs.filter((x) => x === `This is test page,this is ${page}.`).length;

let before: { rules: string[]; sysctls: Record<string, number[]>; lo: Record<string, string>; eth1: string };

beforeAll(async () => {
  // A service configured by hand beside ours (scenario 7) and the hosts' state before anything.
  onHost("director", `ipvsadm -A -t 198.51.100.200:8080 -s wlc && ipvsadm -a -t 198.51.100.200:8080 -r 198.51.100.11:8080 -g -w 5`);
  before = {
    rules: ipvsRules(),
    sysctls: { "rs-a": sysctls("rs-a"), "rs-b": sysctls("rs-b") },
    lo: { "rs-a": loAddrs("rs-a"), "rs-b": loAddrs("rs-b") },
    eth1: onHost("director", "ip -o -4 addr show dev eth1").trim(),
  };
  expect(before.rules).toEqual(expect.arrayContaining(HAND_MADE));
  await stack.init();
});

afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  onHost("director", "ipvsadm -D -t 198.51.100.200:8080", { allowFail: true });
});

test("1. preview lists the resources to create and changes nothing on any host", async () => {
  stack.setConfig(config());
  const r = await stack.preview();
  expect(new Set(r.steps.map((s) => s.type.replace(/^pulumi-nodejs:dynamic\//, "")))).toEqual(
    new Set(["lvs:index:LvsDrCluster", "lvs:DirectorHost", "lvs:VirtualService", "lvs:RealServer", "lvs:DrRealServerHost"]),
  );
  // The component, the director, the service, and a real server and a host per backend.
  expect(opCounts(r)).toEqual({ create: 7 });
  expect(ipvsRules()).toEqual(before.rules);
  expect(loAddrs("rs-a")).toBe(before.lo["rs-a"]);
  expect(sysctls("rs-b")).toEqual(before.sysctls["rs-b"]);
});

test("2. up converges the seed topology and announces the VIP; six requests alternate A and B", async () => {
  // The client's ARP cache still names another machine for the VIP (it moved): the director's
  // gratuitous ARP corrects it at once, before the client sends anything.
  onHost("client", `ip neigh replace ${VIP} lladdr 02:00:00:00:00:99 dev eth1 nud stale`);
  await stack.up();
  const mac = onHost("director", "cat /sys/class/net/eth1/address").trim();
  await waitFor("the client's ARP entry for the VIP to name the director", 10, () =>
    onHost("client", `ip neigh show ${VIP} dev eth1`).includes(`lladdr ${mac}`) ? true : undefined,
  );
  expect(ourRules()).toEqual(
    [`-A -t ${VIP}:80 -s rr`, `-a -t ${VIP}:80 -r ${rsA.lanAddress}:80 -g -w 1`, `-a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 1`].sort(),
  );
  expect(onHost("director", "ip -o -4 addr show dev eth1")).toContain(`inet ${VIP}/32`);
  for (const h of ["rs-a", "rs-b"]) {
    expect(loAddrs(h)).toContain(`inet ${VIP}/32`);
    expect(sysctls(h)).toEqual([1, 1, 2, 2]);
  }
  const replies = requestsFromClient(VIP, 6);
  expect(count(replies, "A")).toBe(3);
  expect(count(replies, "B")).toBe(3);
  for (let i = 1; i < replies.length; i++) expect(replies[i]).not.toBe(replies[i - 1]);
  // Direct routing: replies leave the backends, not the director.
  const stats = onHost("director", `ipvsadm -L -n --stats -t ${VIP}:80`);
  expect(stats).toMatch(new RegExp(`TCP\\s+${VIP.replace(/\./g, "\\.")}:80\\s+\\d+\\s+\\d+\\s+0\\s`));
});

test("secrets: the exported state holds no private key material in plaintext", async () => {
  const state = await stack.exportState();
  const key = fs.readFileSync(director.keyPath, "utf8");
  const body = key.split("\n").filter((l) => l && !l.startsWith("-----"));
  expect(body.length).toBeGreaterThan(0);
  // On failure, show where in the state the key material sits.
  const leaks = body.filter((l) => state.includes(l)).map((l) => state.slice(Math.max(0, state.indexOf(l) - 600), state.indexOf(l) + 80));
  expect(leaks).toEqual([]);
  expect(state).not.toContain("PRIVATE KEY");
  expect(state).toContain("ciphertext");
});

test("3. wrr with B at weight 3 is an in-place update; 8 requests give A:B = 2:6", async () => {
  stack.setConfig(config({ "pulumi-lvs:scheduler": "wrr", "pulumi-lvs:backends": [backend(rsA, "a"), backend(rsB, "b", 3)] }));
  const r = await stack.up();
  expect(opCounts(r)).toEqual({ update: 2 });
  expect(ourRules()).toEqual(expect.arrayContaining([`-A -t ${VIP}:80 -s wrr`, `-a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 3`]));
  const replies = requestsFromClient(VIP, 8);
  expect([count(replies, "A"), count(replies, "B")]).toEqual([2, 6]);
});

test("4. removing backend B from the program removes only B", async () => {
  stack.setConfig(config({ "pulumi-lvs:scheduler": "wrr", "pulumi-lvs:backends": [backend(rsA, "a")] }));
  await stack.up();
  expect(ourRules()).toEqual([`-A -t ${VIP}:80 -s wrr`, `-a -t ${VIP}:80 -r ${rsA.lanAddress}:80 -g -w 1`].sort());
  expect(loAddrs("rs-b")).toBe(before.lo["rs-b"]);
  expect(sysctls("rs-b")).toEqual(before.sysctls["rs-b"]);
  expect(requestsFromClient(VIP, 4)).toEqual(Array(4).fill("This is test page,this is A."));
});

test("5. drift: a backend deleted by hand is reported by refresh and restored by up", async () => {
  onHost("director", `ipvsadm -d -t ${VIP}:80 -r ${rsA.lanAddress}:80`);
  expect(requestsFromClient(VIP, 1)).toEqual(["FAILED"]);
  await stack.refresh();
  const names = (JSON.parse(await stack.exportState()) as { deployment: { resources: { urn: string }[] } }).deployment.resources.map((x) =>
    x.urn.split("::").pop(),
  );
  expect(names).not.toContain("lvs-rs-a");
  expect(names).toContain(`lvs-rs-host-a-${VIP}`);
  await stack.up();
  expect(ourRules()).toContain(`-a -t ${VIP}:80 -r ${rsA.lanAddress}:80 -g -w 1`);
  expect(requestsFromClient(VIP, 2)).toEqual(Array(2).fill("This is test page,this is A."));
});

test("6. destroy returns every host to its prior state", async () => {
  await stack.destroy();
  expect(ourRules()).toEqual([]);
  expect(onHost("director", "ip -o -4 addr show dev eth1").trim()).toBe(before.eth1);
  for (const h of ["rs-a", "rs-b"]) {
    expect(loAddrs(h)).toBe(before.lo[h]);
    expect(sysctls(h)).toEqual(before.sysctls[h]);
    expect(
      onHost(
        h,
        "ls /etc/pulumi-lvs /etc/sysctl.d/90-pulumi-lvs* /etc/systemd/system/pulumi-lvs-restore.service 2>/dev/null || true",
      ).trim(),
    ).toBe("");
  }
  expect(onHost("director", "ls /etc/pulumi-lvs /etc/systemd/system/pulumi-lvs-restore.service 2>/dev/null || true").trim()).toBe("");
});

test("7. the service configured by hand is untouched after all of it", () => {
  expect(ipvsRules()).toEqual(before.rules);
});
