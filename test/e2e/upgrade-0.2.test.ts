// Upgrade from release 0.2.0 (kept as its source in test/upgrade/pulumi-lvs-0.2.0.tar.gz, with
// its own copy of the e2e program): state it wrote for two directors with VRRP and a
// health-checked service, a one-packet UDP service and a firewall-mark service with our
// nftables table previews clean under this release, refreshes, updates in place, survives a
// reboot of every host with no Pulumi run, and destroys back to the hosts as they were.
import * as fs from "fs";
import * as path from "path";
import {
  REPO,
  Stack,
  changes,
  conn,
  hostState,
  installRelease,
  labAsync,
  labHost,
  labStatus,
  onHost,
  requestsFromClient,
  waitFor,
} from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const [director, director2, rsA, rsB] = ["director", "director2", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "director2", "rs-a", "rs-b"];

const resources = (weightB = 1) => [
  {
    type: "LvsDrCluster",
    name: "web",
    args: {
      director: conn(director),
      vip: VIP,
      port: 80,
      scheduler: "wrr",
      drainTimeout: 0,
      healthCheck: { type: "http", path: "/", interval: 1, timeout: 1, retries: 1 },
      ha: {
        standby: conn(director2),
        virtualRouterId: 52,
        preempt: true,
        unicast: { primary: director.lanAddress, standby: director2.lanAddress },
      },
      backends: [
        { name: "a", address: rsA.lanAddress, connection: conn(rsA) },
        { name: "b", address: rsB.lanAddress, connection: conn(rsB), weight: weightB },
      ],
    },
  },
  { type: "VirtualService", name: "dns", args: { connection: conn(director), address: VIP, port: 5353, protocol: "udp", onePacket: true } },
  ...[rsA, rsB].map((h) => ({
    type: "RealServer",
    name: `dns-${h.name}`,
    args: { service: "dns", address: h.lanAddress, drainTimeout: 0 },
  })),
  {
    type: "VirtualService",
    name: "mark",
    args: { connection: conn(director), fwmark: 7, match: [{ address: VIP, ports: [8080] }], scheduler: "rr" },
  },
  { type: "RealServer", name: "mark-a", args: { service: "mark", address: rsA.lanAddress, drainTimeout: 0 } },
];

// The e2e program's project (lvs-e2e): the release's copy of the program has the same name.
const stack = new Stack(path.join(REPO, "test/e2e/program"), "upgrade02");
let release: string;
let before: Record<string, string>;
const noChanges = () => stack.must("preview", "--expect-no-changes");
const count = (xs: string[], page: string) => xs.filter((x) => x === `This is test page,this is ${page}.`).length;
/** The director's table carries every service of ours (keepalived adds the health-checked one's backends once checked). */
const served = () =>
  waitFor("every service of ours in the director's table", 60, () => {
    const rules = onHost("director", "ipvsadm -S -n");
    return [
      `-a -t ${VIP}:80 -r ${rsA.lanAddress}:80`,
      `-a -t ${VIP}:80 -r ${rsB.lanAddress}:80`,
      `-A -u ${VIP}:5353 -s wlc -o`,
      "-A -f 7 -s rr",
    ].every((l) => rules.includes(l))
      ? true
      : undefined;
  });

beforeAll(async () => {
  release = installRelease("0.2.0");
  before = hostState(HOSTS);
  await stack.init();
});
afterAll(async () => {
  stack.programDir = path.join(REPO, "test/e2e/program");
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  fs.rmSync(path.dirname(release), { recursive: true, force: true });
});

test("1. release 0.2.0 creates two directors (VRRP), a health-checked service, a one-packet UDP and a fwmark service", async () => {
  stack.programDir = path.join(release, "test/e2e/program");
  stack.declare(...resources());
  await stack.up();
  await served();
  // The VIP is under VRRP, just elected: a request in the moment it settles on a director may
  // go unanswered (stop 35's run had 3 of 4). Once one answers, all four must.
  await waitFor("the fwmark service on the VIP to answer from rs-a", 60, () =>
    count(requestsFromClient(VIP, 1, 8080), "A") === 1 ? true : undefined,
  );
  expect(count(requestsFromClient(VIP, 4, 8080), "A")).toBe(4);
  expect(onHost("director", "ls /etc/keepalived/pulumi-lvs.d")).toContain("vrrp-eth1-52.conf");
});

test("2. this release reads that state: preview is clean, refresh finds nothing to change", async () => {
  stack.programDir = path.join(REPO, "test/e2e/program");
  await noChanges();
  const r = await stack.refresh();
  expect(r.steps.filter((s) => s.diffs.length || (s.op !== "same" && s.op !== "refresh"))).toEqual([]);
  await noChanges();
});

test("3. an update applies in place: B at weight 3 on both directors, 8 requests give A:B = 2:6", async () => {
  stack.declare(...resources(3));
  const r = await stack.up();
  expect(changes(r)).toEqual({ "web-rs-b": "update", "web-standby-rs-b": "update" });
  await waitFor("B at weight 3", 30, () =>
    onHost("director", "ipvsadm -S -n").includes(`-r ${rsB.lanAddress}:80 -g -w 3`) ? true : undefined,
  );
  const replies = requestsFromClient(VIP, 8);
  expect([count(replies, "A"), count(replies, "B")]).toEqual([2, 6]);
});

test("4. every host rebooted: all of it back with no Pulumi run, and preview is clean", async () => {
  await Promise.all(HOSTS.map((h) => labAsync("reboot", h)));
  await served();
  await waitFor("the director (priority 150, preempt) to hold the VIP", 30, () =>
    onHost("director", "ip -o addr show dev eth1").includes(` ${VIP}/32`) ? true : undefined,
  );
  expect(count(requestsFromClient(VIP, 8), "B")).toBe(6);
  await noChanges();
});

test("5. destroy leaves every host as it was before release 0.2.0 touched it", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before);
});
