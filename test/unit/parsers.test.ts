// Parsers fed with output captured from the lab's real hosts (test/lab/capture.sh).
import * as fs from "fs";
import * as path from "path";
import { mergeThresholds, parseIpAddr, parseIpvsSave, parseRouteDev, parseSysctls } from "../../provider/remote/parsers";

const captured = (name: string) => fs.readFileSync(path.join(__dirname, "../lab/captured", name), "utf8");

describe("ipvsadm parsers (captured output)", () => {
  const table = mergeThresholds(parseIpvsSave(captured("ipvsadm-S-n.txt")), captured("ipvsadm-L-n-thresholds.txt"));

  test("reads every service with scheduler, persistence and unmodelled flags", () => {
    expect([...table.keys()]).toEqual([
      "tcp/198.51.100.100:80",
      "tcp/198.51.100.100:443",
      "tcp/198.51.100.100:8080",
      "tcp/198.51.100.100:8081",
      "udp/198.51.100.100:53",
    ]);
    expect(table.get("tcp/198.51.100.100:80")).toMatchObject({
      address: "198.51.100.100",
      port: 80,
      protocol: "tcp",
      scheduler: "rr",
      persistence: undefined,
      extra: [],
    });
    expect(table.get("udp/198.51.100.100:53")).toMatchObject({ scheduler: "wlc", persistence: { timeout: 300, netmask: "255.255.255.0" } });
    expect(table.get("tcp/198.51.100.100:8081")).toMatchObject({ schedulerFlags: ["sh-fallback", "sh-port"], extra: [] });
  });

  test("reads destinations with forwarding and weight, and thresholds with counters from -L --thresholds", () => {
    expect(table.get("tcp/198.51.100.100:443")!.destinations).toEqual([
      {
        address: "198.51.100.11",
        port: 443,
        forwarding: "direct",
        weight: 3,
        upperThreshold: 100,
        lowerThreshold: 10,
        activeConn: 0,
        inactConn: 0,
      },
      { address: "198.51.100.12", port: 443, forwarding: "direct", weight: 1, activeConn: 0, inactConn: 0 },
    ]);
    expect(table.get("tcp/198.51.100.100:80")!.destinations.map((d) => d.inactConn)).toEqual([6, 6]);
    expect(table.get("tcp/198.51.100.100:8080")!.destinations[1].weight).toBe(0);
  });

  test("splits a combined read into its sections", () => {
    const both = mergeThresholds(parseIpvsSave(captured("ipvsadm-S-n.txt")), captured("ipvsadm-L-n-thresholds.txt"));
    expect(both.get("tcp/198.51.100.100:443")!.destinations[0].upperThreshold).toBe(100);
  });

  test("an empty table reads as nothing", () => {
    expect(parseIpvsSave("").size).toBe(0);
  });

  test("tunnel and masquerade forwarding", () => {
    const t = parseIpvsSave(
      "-A -t 192.0.2.1:80 -s wlc\n-a -t 192.0.2.1:80 -r 192.0.2.2:80 -i -w 1\n-a -t 192.0.2.1:80 -r 192.0.2.3:8080 -m -w 2\n",
    );
    expect(t.get("tcp/192.0.2.1:80")!.destinations.map((d) => [d.forwarding, d.port])).toEqual([
      ["tunnel", 80],
      ["masquerade", 8080],
    ]);
  });
});

describe("ip and sysctl parsers (captured output)", () => {
  test("ip -o addr: VIPs as /32 on lo (backend) and eth1 (director), IPv6 link-local addresses too", () => {
    expect(parseIpAddr(captured("ip-o-addr-backend.txt"))).toEqual([
      { dev: "lo", address: "127.0.0.1", prefix: 8 },
      { dev: "lo", address: "198.51.100.100", prefix: 32 },
      { dev: "lo", address: "::1", prefix: 128 },
      { dev: "eth0", address: "10.0.2.15", prefix: 24 },
      { dev: "eth0", address: "fe80::5054:ff:fe10:2", prefix: 64 },
      { dev: "eth1", address: "198.51.100.11", prefix: 24 },
      { dev: "eth1", address: "fe80::5054:ff:fe20:2", prefix: 64 },
    ]);
    expect(parseIpAddr(captured("ip-o-addr-director.txt"))).toContainEqual({ dev: "eth1", address: "198.51.100.100", prefix: 32 });
  });

  test("ip route get names the device", () => {
    expect(parseRouteDev("198.51.100.100 dev eth1 src 198.51.100.10 uid 0 \\    cache ")).toBe("eth1");
    expect(parseRouteDev("local 198.51.100.100 dev lo table local src 198.51.100.100 uid 0")).toBe("lo");
  });

  test("sysctl key=value lines, a missing key reads as undefined", () => {
    expect(parseSysctls(captured("sysctl-backend.txt"))).toMatchObject({
      "net.ipv4.conf.all.arp_ignore": 1,
      "net.ipv4.conf.lo.arp_announce": 2,
      "net.ipv4.ip_forward": 0,
    });
    expect(parseSysctls("net.ipv4.vs.expire_nodest_conn=\n")).toEqual({ "net.ipv4.vs.expire_nodest_conn": undefined });
  });
});
