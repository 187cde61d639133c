// All of IPVS (issue: IPv6, SCTP, firewall marks, one-packet scheduling, timeouts, tunnel and
// NAT backends), through the real CLI on the lab, as explicit ordered steps. One stack holds a
// dual-stack director with every kind of service at once; a reboot of every host keeps them;
// then the same backends serve through a tunnel (rs-c sits on a second segment behind
// director2, reachable only by routing) and through NAT; destroy leaves every host as it was.
import * as path from "path";
import { REPO, Stack, conn, hostState, labAsync, labCli, labHost, labStatus, onHost, waitFor } from "./harness";

jest.setTimeout(30 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const VIP6 = lab.vip6;
/** The fwmark service's VIP: a packet marked for it must not also match an address service. */
const VIP_FWM = "198.51.100.107";
const [director, rsA, rsB, rsC, client] = ["director", "rs-a", "rs-b", "rs-c", "client"].map((n) => labHost(lab, n));
const HOSTS = ["director", "rs-a", "rs-b", "rs-c"];
/** A second source address on the client: persistence is per client address. */
const CLIENT2 = "198.51.100.21";

const stack = new Stack(path.join(REPO, "test/e2e/program"), "ipvs-kinds");
const declare = stack.declare.bind(stack);
const base = { drainTimeout: 0 };
const rs = (name: string, service: string, address: string, extra: Record<string, unknown> = {}) => ({
  type: "RealServer",
  name,
  args: { service, address, ...base, ...extra },
});

/** Step 1's stack: dual-stack DR, SCTP, a fwmark service for 80+8080, one-packet UDP, timeouts. */
const everyKind = () => {
  const backends = [rsA, rsB];
  return [
    {
      type: "DirectorHost",
      name: "director",
      args: { connection: conn(director), vips: [VIP, VIP6, VIP_FWM], ipvsTimeouts: { tcp: 600, udp: 45 } },
    },
    ...backends.map((b) => ({
      type: "DrRealServerHost",
      name: `host-${b.name}`,
      args: { connection: conn(b), vips: [VIP, VIP6, VIP_FWM] },
    })),
    { type: "VirtualService", name: "web4", args: { connection: conn(director), address: VIP, port: 80, scheduler: "rr" } },
    { type: "VirtualService", name: "web6", args: { connection: conn(director), address: VIP6, port: 80, scheduler: "rr" } },
    {
      type: "VirtualService",
      name: "sctp",
      args: { connection: conn(director), address: VIP, port: 9999, protocol: "sctp", scheduler: "rr" },
    },
    {
      type: "VirtualService",
      name: "dns",
      args: { connection: conn(director), address: VIP, port: 5353, protocol: "udp", scheduler: "rr", onePacket: true },
    },
    {
      type: "VirtualService",
      name: "sticky",
      args: {
        connection: conn(director),
        fwmark: 7,
        scheduler: "rr",
        persistence: { timeout: 600 },
        match: [{ address: VIP_FWM, ports: [80, 8080] }],
      },
    },
    ...backends.flatMap((b) => [
      rs(`web4-${b.name}`, "web4", b.lanAddress),
      rs(`web6-${b.name}`, "web6", b.lanAddress6),
      rs(`sctp-${b.name}`, "sctp", b.lanAddress),
      rs(`dns-${b.name}`, "dns", b.lanAddress),
      rs(`sticky-${b.name}`, "sticky", b.lanAddress),
    ]),
  ];
};

const PAGE = /^This is test page,this is ([A-C])\.$/;
/**
 * The client's source ports, each used once in this file: below the kernel's ephemeral range
 * (which other files' requests use), a fresh one per request. Through LVS-NAT, where the backend
 * closes first, the director keeps each connection in TIME_WAIT for 2 minutes, and a new
 * connection from a port that one still holds can be lost (IPVS's port-reuse handling).
 */
let nextPort = 20000;
/** Which backend answered each of `count` HTTP requests from the client ("A", "B", "C", or "FAILED <curl's exit status>"). */
const pages = (url: string, count: number, curlArgs = ""): string[] => {
  const first = nextPort;
  nextPort += count * 4;
  return onHost(
    "client",
    `for i in $(seq 0 ${count - 1}); do p=$((${first} + i * 4)); curl -gs --max-time 5 --local-port $p-$((p + 3)) ${curlArgs} '${url}' || echo "FAILED $?"; done`,
  )
    .trim()
    .split("\n")
    .map((l) => PAGE.exec(l)?.[1] ?? l);
};
/** Six answers alternate between two backends, three each. */
function expectAlternation(answers: string[], a: string, b: string): void {
  const n = (x: string) => answers.filter((y) => y === x).length;
  if (n(a) !== answers.length / 2 || n(b) !== answers.length / 2)
    throw new Error(`expected ${a}/${b} alternating, got ${JSON.stringify(answers)}`);
}
/** One UDP datagram per run from the same source port: without one-packet scheduling they would stick to one backend. */
const udpAnswers = (count: number) =>
  onHost("client", `for i in $(seq ${count}); do echo q | socat -t2 -T2 - UDP4:${VIP}:5353,sourceport=40053,reuseaddr || echo FAILED; done`)
    .trim()
    .split("\n");
const sctpAnswers = (count: number) =>
  onHost("client", `for i in $(seq ${count}); do timeout 5 socat -u SCTP:${VIP}:9999 - || echo FAILED; done`).trim().split("\n");
/** From each client address: the backend of port 80, then of 8080, on the fwmark VIP. */
const stickyPairs = () =>
  [client.lanAddress, CLIENT2].map((src) => [
    pages(`http://${VIP_FWM}:80/`, 1, `--interface ${src}`)[0],
    pages(`http://${VIP_FWM}:8080/`, 1, `--interface ${src}`)[0],
  ]);
const nftTables = (h: string) => onHost(h, "nft list tables").trim().split("\n").sort();

/** What step 1 built, asserted on live state; again after the reboot. */
function expectEveryKindServes(): void {
  expectAlternation(pages(`http://[${VIP6}]/`, 6), "A", "B");
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "B");
  expectAlternation(udpAnswers(6), "A", "B");
  expectAlternation(sctpAnswers(4), "A", "B");
  const pairs = stickyPairs();
  // Each client address sticks to one backend for both ports, and the two addresses were scheduled apart.
  expect(pairs.map(([p80, p8080]) => p80 === p8080)).toEqual([true, true]);
  expect(new Set(pairs.map(([p]) => p))).toEqual(new Set(["A", "B"]));
  expect(onHost("director", "ipvsadm -L --timeout").trim()).toBe("Timeout (tcp tcpfin udp): 600 120 45");
  const rules = onHost("director", "ipvsadm -S -n");
  for (const line of [
    `-A --sctp-service ${VIP}:9999 -s rr`,
    `-a --sctp-service ${VIP}:9999 -r ${rsA.lanAddress}:9999 -g -w 1`,
    `-a --sctp-service ${VIP}:9999 -r ${rsB.lanAddress}:9999 -g -w 1`,
    `-A -u ${VIP}:5353 -s rr -o`,
    `-A -t [${VIP6}]:80 -s rr`,
    `-a -t [${VIP6}]:80 -r [${rsA.lanAddress6}]:80 -g -w 1`,
    `-A -f 7 -s rr -p 600`,
    `-a -f 7 -r ${rsB.lanAddress}:0 -g -w 1`,
  ])
    expect(rules.split("\n")).toContain(line);
  expect(onHost("director", "ip -o -6 addr show dev eth1")).toContain(`${VIP6}/128`);
  for (const h of ["rs-a", "rs-b"]) expect(onHost(h, "ip -o -6 addr show dev lo")).toContain(`${VIP6}/128`);
  expect(onHost("director", "nft list table inet pulumi_lvs")).toMatch(
    new RegExp(`ip daddr ${VIP_FWM.replace(/\./g, "\\.")} tcp dport \\{ 80, 8080 \\} meta mark set 0x00000007`),
  );
}

let before: Record<string, string>;
let foreignTables: string[];
beforeAll(async () => {
  onHost("client", `ip addr replace ${CLIENT2}/24 dev eth1`);
  // A table of someone else's on the director: destroy must leave it.
  onHost("director", "nft add table inet operator_table");
  foreignTables = nftTables("director");
  before = hostState(HOSTS);
  await stack.init();
});
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  onHost("client", `ip addr del ${CLIENT2}/24 dev eth1`, { allowFail: true });
  onHost("director", "nft delete table inet operator_table", { allowFail: true });
  labCli("up");
});

test("1. one up: dual-stack DR, SCTP, a fwmark service for 80+8080 with persistence, one-packet UDP, IPVS timeouts", async () => {
  // The client's neighbour cache still names another machine for the IPv6 VIP (it moved): the
  // director's unsolicited neighbour advertisement corrects it at once, before any request.
  onHost("client", `ip -6 neigh replace ${VIP6} lladdr 02:00:00:00:00:99 dev eth1 nud stale`);
  declare(...everyKind());
  await stack.up();
  const mac = onHost("director", "cat /sys/class/net/eth1/address").trim();
  await waitFor("the client's neighbour entry for the IPv6 VIP to name the director", 10, () =>
    onHost("client", `ip -6 neigh show ${VIP6} dev eth1`).includes(`lladdr ${mac}`) ? true : undefined,
  );
  expectEveryKindServes();
});

test("2. preview after up is clean; refresh finds nothing changed", async () => {
  await stack.must("preview", "--expect-no-changes");
  await stack.refresh();
  await stack.must("preview", "--expect-no-changes");
});

test("3. our nftables table and the IPVS timeouts changed by hand are drift: refresh reports them, up puts them back", async () => {
  onHost("director", "nft flush chain inet pulumi_lvs prerouting; ipvsadm --set 900 0 300");
  await stack.refresh();
  expect((await stack.outputsOf("sticky")).drift).toEqual(["the nftables table inet pulumi_lvs was changed outside pulumi-lvs"]);
  expect((await stack.outputsOf("director")).ipvsTimeouts).toEqual({ tcp: 900, udp: 300 });
  await stack.up();
  expect(stickyPairs().map(([p80, p8080]) => p80 === p8080)).toEqual([true, true]);
  expect(onHost("director", "ipvsadm -L --timeout").trim()).toBe("Timeout (tcp tcpfin udp): 600 120 45");
  await stack.must("preview", "--expect-no-changes");
});

test("4. after rebooting every host, everything serves again with no pulumi run, and preview is clean", async () => {
  await Promise.all(["director", "rs-a", "rs-b"].map((h) => labAsync("reboot", h)));
  // The operator's table lives in their own nftables.conf: back at boot like ours (here: by hand).
  onHost("director", "nft add table inet operator_table");
  await waitFor("the director's IPv6 VIP to answer", 60, () => (pages(`http://[${VIP6}]/`, 1)[0].length === 1 ? true : undefined));
  expectEveryKindServes();
  await stack.must("preview", "--expect-no-changes");
});

const tunnelled = (tunnel: Record<string, unknown>) => [
  { type: "DirectorHost", name: "director", args: { connection: conn(director), vips: [VIP] } },
  { type: "DrRealServerHost", name: "host-rs-a", args: { connection: conn(rsA), vips: [VIP] } },
  { type: "TunRealServerHost", name: "host-rs-c", args: { connection: conn(rsC), vips: [VIP], ...tunnel } },
  { type: "VirtualService", name: "web4", args: { connection: conn(director), address: VIP, port: 80, scheduler: "rr" } },
  rs("web4-rs-a", "web4", rsA.lanAddress),
  rs("web4-rs-c", "web4", rsC.lanAddress, { forwarding: "tunnel", ...tunnel }),
];

test("5. LVS-TUN: rs-c, on another segment, serves through an IP-in-IP tunnel beside rs-a's direct routing", async () => {
  expect(onHost("director", `ip -o route get ${rsC.lanAddress}`)).toContain(`via ${labHost(lab, "director2").lanAddress}`);
  declare(...tunnelled({}));
  await stack.up();
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "C");
  expect(onHost("rs-c", "ip -o addr show dev tunl0")).toContain(`${VIP}/32`);
  expect(onHost("rs-c", "sysctl -n net.ipv4.conf.tunl0.rp_filter net.ipv4.conf.all.rp_filter").trim().split("\n")).toEqual(["0", "0"]);
  // rs-c answers the client itself, from the VIP, through director2 (not through the director).
  expect(onHost("rs-c", `ip -o route get ${client.lanAddress}`)).toContain("via 203.0.113.1");
  await stack.must("preview", "--expect-no-changes");
});

test("6. the same backend through GUE: tunnelType changes in place on both sides", async () => {
  declare(...tunnelled({ tunnelType: "gue", tunnelPort: 6080 }));
  const up = await stack.up();
  expect(up.steps.filter((s) => s.op !== "same" && s.op !== "update")).toEqual([]);
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-r ${rsC.lanAddress}:80 -i -w 1 --tun-type gue --tun-port 6080`);
  expect(onHost("rs-c", "ip fou show")).toContain("port 6080 gue");
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "C");
});

test("6b. after rebooting rs-c, GUE serves again with no pulumi run (module, port, device, VIP, rp_filter restored)", async () => {
  await labAsync("reboot", "rs-c");
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "C");
  await stack.must("preview", "--expect-no-changes");
});

test("6c. and through GRE", async () => {
  declare(...tunnelled({ tunnelType: "gre" }));
  await stack.up();
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-r ${rsC.lanAddress}:80 -i -w 1 --tun-type gre`);
  expect(onHost("rs-c", "ip -o addr show dev gre0")).toContain(`${VIP}/32`);
  expect(onHost("rs-c", "ip fou show")).not.toContain("6080");
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "C");
});

test("7. LVS-NAT: requests alternate through the director, which maps port 80 to the backends' 8080", async () => {
  declare(
    { type: "DirectorHost", name: "director", args: { connection: conn(director), vips: [VIP], ipForward: true } },
    ...[rsA, rsB].map((b) => ({
      type: "NatRealServerHost",
      name: `nat-${b.name}`,
      args: { connection: conn(b), director: director.lanAddress, clients: [`${client.lanAddress}/32`] },
    })),
    { type: "VirtualService", name: "web4", args: { connection: conn(director), address: VIP, port: 80, scheduler: "rr" } },
    rs("web4-rs-a", "web4", rsA.lanAddress, { forwarding: "masquerade", port: 8080 }),
    rs("web4-rs-b", "web4", rsB.lanAddress, { forwarding: "masquerade", port: 8080 }),
  );
  await stack.up();
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "B");
  for (const h of ["rs-a", "rs-b"]) {
    expect(onHost(h, `ip -o route get ${client.lanAddress}`)).toContain(`via ${director.lanAddress}`);
    expect(onHost(h, "ip -o addr show dev lo")).not.toContain(VIP);
  }
  // The backends hold no VIP and listen on 8080 only: an answer reaches the client as VIP:80 only
  // because it passed the director, which rewrote it.
  await stack.must("preview", "--expect-no-changes");
});

test("7b. a NAT route removed by hand is drift that up repairs; a reboot of both backends keeps NAT serving", async () => {
  onHost("rs-a", `ip route del ${client.lanAddress} via ${director.lanAddress}`);
  await stack.refresh();
  expect((await stack.outputsOf("nat-rs-a")).clients).toEqual([]);
  await stack.up();
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "B");
  await Promise.all(["rs-a", "rs-b"].map((h) => labAsync("reboot", h)));
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "B");
  await stack.must("preview", "--expect-no-changes");
});

test("7c. LvsDrCluster with forwarding masquerade builds the NAT backends and the director's forwarding", async () => {
  declare({
    type: "LvsDrCluster",
    name: "nat",
    args: {
      director: conn(director),
      vip: VIP,
      port: 80,
      scheduler: "rr",
      drainTimeout: 0,
      forwarding: "masquerade",
      natGateway: director.lanAddress,
      natClients: [`${client.lanAddress}/32`],
      backends: [rsA, rsB].map((b) => ({ name: b.name, address: b.lanAddress, connection: conn(b) })),
    },
  });
  await stack.up();
  expectAlternation(pages(`http://${VIP}/`, 6), "A", "B");
  expect(onHost("director", "sysctl -n net.ipv4.ip_forward").trim()).toBe("1");
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-r ${rsA.lanAddress}:80 -m -w 1`);
});

test("7d. LvsDrCluster with forwarding tunnel: rs-a on the LAN and rs-c behind director2 both through IP-in-IP", async () => {
  declare({
    type: "LvsDrCluster",
    name: "tun",
    args: {
      director: conn(director),
      vip: VIP,
      port: 8080,
      scheduler: "rr",
      drainTimeout: 0,
      forwarding: "tunnel",
      backends: [rsA, rsC].map((b) => ({ name: b.name, address: b.lanAddress, connection: conn(b) })),
    },
  });
  await stack.up();
  expectAlternation(pages(`http://${VIP}:8080/`, 6), "A", "C");
  for (const h of ["rs-a", "rs-c"]) expect(onHost(h, "ip -o addr show dev tunl0")).toContain(`${VIP}/32`);
  expect(onHost("director", "sysctl -n net.ipv4.ip_forward").trim()).toBe("0");
});

test("8. destroy leaves every host as it was; someone else's nftables table stays", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before);
  expect(nftTables("director")).toEqual(foreignTables);
});
