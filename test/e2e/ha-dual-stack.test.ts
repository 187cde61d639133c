// Two directors with VRRP carrying an IPv4 and an IPv6 VIP (one instance: the IPv6 VIP moves
// with it as an excluded address), each director with a service per family and both backends.
// After every fresh create the priority-150 director holds both VIPs (three times); when its
// keepalived dies the standby takes both over while a client requests each family every 0.5 s
// (the failed requests are printed: the figures of a failover); without preempt the standby
// keeps them when the primary is back; destroy leaves every host as it was.
import * as path from "path";
import { REPO, Stack, changes, conn, hostState, labHost, labStatus, onHost, waitFor, stackLifecycle } from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const [VIP, VIP6] = [lab.vip, lab.vip6];
const [director, director2, rsA, rsB] = ["director", "director2", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "director2", "rs-a", "rs-b"];
const stack = new Stack(path.join(REPO, "test/e2e/program"), "ha-dual-stack");

const vrrp = (priority: number, peer: string) => ({ virtualRouterId: 53, priority, unicastPeers: [peer], syncDaemon: false });
const directors = [
  {
    type: "DirectorHost",
    name: "primary",
    args: { connection: conn(director), vips: [VIP, VIP6], interface: "eth1", vrrp: vrrp(150, director2.lanAddress) },
  },
  {
    type: "DirectorHost",
    name: "standby",
    args: { connection: conn(director2), vips: [VIP, VIP6], interface: "eth1", vrrp: vrrp(100, director.lanAddress) },
    // As LvsDrCluster does: the standby's keepalived starts once the primary won its first election.
    dependsOn: ["primary"],
  },
];
const services = [director, director2].flatMap((d) =>
  [
    { name: `${d.name}-v4`, address: VIP, backends: [rsA.lanAddress, rsB.lanAddress] },
    { name: `${d.name}-v6`, address: VIP6, backends: [rsA.lanAddress6, rsB.lanAddress6] },
  ].flatMap((s) => [
    { type: "VirtualService", name: s.name, args: { connection: conn(d), address: s.address, port: 80, scheduler: "rr" } },
    ...s.backends.map((b, i) => ({
      type: "RealServer",
      name: `${s.name}-${"ab"[i]}`,
      args: { service: s.name, address: b, drainTimeout: 0 },
    })),
  ]),
);
const backends = [rsA, rsB].map((h) => ({
  type: "DrRealServerHost",
  name: `host-${h.name}`,
  args: { connection: conn(h), vips: [VIP, VIP6] },
}));

/** Which directors hold `vip` on eth1. */
const holders = (vip: string) =>
  ["director", "director2"].filter((h) => onHost(h, "ip -o addr show dev eth1").includes(` ${vip}/${vip.includes(":") ? 128 : 32} `));
const waitHeld = (h: string) =>
  waitFor(`${h} alone to hold ${VIP} and ${VIP6}`, 30, () =>
    JSON.stringify([holders(VIP), holders(VIP6)]) === JSON.stringify([[h], [h]]) ? true : undefined,
  );
const url = (vip: string) => (vip.includes(":") ? `http://[${vip}]/` : `http://${vip}/`);
const fetchOnce = (vip: string) => onHost("client", `curl -s -g --max-time 5 ${url(vip)} || echo FAILED`).trim();

const before = stackLifecycle(stack, HOSTS);

test("1. a fresh up: the primary holds both VIPs and each family serves", async () => {
  stack.declare(...backends, ...directors, ...services);
  await stack.up();
  await waitHeld("director");
  for (const vip of [VIP, VIP6])
    expect(new Set([fetchOnce(vip), fetchOnce(vip)])).toEqual(new Set(["This is test page,this is A.", "This is test page,this is B."]));
  await stack.must("preview", "--expect-no-changes");
});

test("2. the directors created afresh twice more: each time the primary holds both VIPs", async () => {
  for (let i = 0; i < 2; i++) {
    stack.declare(...backends, ...services);
    expect(changes(await stack.up())).toEqual({ primary: "delete", standby: "delete" });
    expect([holders(VIP), holders(VIP6)]).toEqual([[], []]);
    stack.declare(...backends, ...directors, ...services);
    expect(changes(await stack.up())).toEqual({ primary: "create", standby: "create" });
    await waitHeld("director");
  }
});

test("3. the primary's keepalived dies: the standby takes both VIPs over; a client polling every 0.5 s sees few failures", async () => {
  // 60 rounds of one request per family, 0.5 s apart, in the background on the client.
  onHost(
    "client",
    `rm -f /tmp/poll.*; (for i in $(seq 60); do echo $i > /tmp/poll.n; curl -s --max-time 1 ${url(VIP)} >/dev/null || echo v4 >> /tmp/poll.fail; ` +
      `curl -s -g --max-time 1 ${url(VIP6)} >/dev/null || echo v6 >> /tmp/poll.fail; sleep 0.5; done; touch /tmp/poll.done) >/dev/null 2>&1 &`,
  );
  await waitFor("the client's first rounds", 30, () =>
    Number(onHost("client", "cat /tmp/poll.n 2>/dev/null || echo 0")) >= 4 ? true : undefined,
  );
  onHost("director", "systemctl stop keepalived");
  await waitHeld("director2");
  await waitFor("the client's polling to end", 120, () =>
    onHost("client", "ls /tmp/poll.done 2>/dev/null || true").trim() ? true : undefined,
  );
  const failed = onHost("client", "cat /tmp/poll.fail 2>/dev/null || true").trim().split("\n").filter(Boolean);
  const v4 = failed.filter((f) => f === "v4").length;
  const v6 = failed.filter((f) => f === "v6").length;
  console.log(`failover: ${v4} of 60 IPv4 and ${v6} of 60 IPv6 requests failed (one per family every 0.5 s)`);
  // Three missed adverts (1 s each) and the take-over: a handful of requests, never the whole window.
  expect(v4).toBeLessThan(15);
  expect(v6).toBeLessThan(15);
  for (const vip of [VIP, VIP6]) expect(["This is test page,this is A.", "This is test page,this is B."]).toContain(fetchOnce(vip));
});

test("4. without preempt the standby keeps both VIPs when the primary's keepalived is back", async () => {
  onHost("director", "systemctl start keepalived");
  // For longer than a preempting primary takes to take them back (three adverts and more), every second.
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    expect([holders(VIP), holders(VIP6)]).toEqual([["director2"], ["director2"]]);
    await new Promise((r) => setTimeout(r, 1000)); // an invariant sampled every second, not a wait for something
  }
});

test("5. destroy leaves every host as it was", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before());
});
