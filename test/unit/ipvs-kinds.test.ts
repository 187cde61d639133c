// The IPVS features beyond IPv4 TCP/UDP (IPv6, SCTP, firewall marks, scheduler flags,
// one-packet scheduling, timeouts, tunnel and NAT backends): validation, command text and the
// host-side decisions, without a host. The lab tests (test/e2e/ipvs-kinds.test.ts) prove them live.
import * as model from "../../provider/model";
import { validate } from "../../provider/validate";
import { ipvs, net, rules } from "../../provider/remote/commands";
import { emptyLedger, keys } from "../../provider/ledger";
import { ClaimError } from "../../provider/holds/plan";
import { emptySnapshot, run } from "./plan-support";
import { nftCommands, nftTable } from "../../provider/remote/nftables";
import { bootFiles } from "../../provider/holds/boot-files";
import { mergeThresholds, parseIpAddr, parseIpvsSave, parseTimeouts } from "../../provider/remote/parsers";
import * as fs from "fs";
import * as path from "path";

const connection = { host: "127.0.0.1", port: 2220, privateKey: "KEY" };
const failures = (schema: Parameters<typeof validate>[0], input: unknown) => {
  const v = validate(schema, input);
  if (v.kind !== "invalid") throw new Error(`expected failures, got ${v.kind}`);
  return v.failures.map((f) => `${f.property}: ${f.reason}`);
};
const valid = <T>(schema: Parameters<typeof validate>[0], input: unknown): T => {
  const v = validate(schema, input);
  if (v.kind !== "valid") throw new Error(`expected valid, got ${JSON.stringify(v)}`);
  return v.value as T;
};
const snapshot = emptySnapshot;

describe("validation of the new fields", () => {
  test("IPv6 addresses are canonical, special ones are refused by name", () => {
    const s = valid<model.VirtualServiceArgs>(model.VirtualServiceArgs, { connection, address: "2001:DB8:100:0::100", port: 80 });
    expect(s.address).toBe("2001:db8:100::100");
    expect(failures(model.VirtualServiceArgs, { connection, address: "fe80::1", port: 80 })).toEqual([
      'address: must be a unicast address, got "fe80::1" (a link-local address)',
    ]);
    expect(failures(model.VirtualServiceArgs, { connection, address: "2001:db8::g", port: 80 })[0]).toContain('"2001:db8::g"');
  });

  test("a fwmark service has no address or port; its family defaults to ipv4", () => {
    expect(valid<model.VirtualServiceArgs>(model.VirtualServiceArgs, { connection, fwmark: 1 })).toMatchObject({
      fwmark: 1,
      family: "ipv4",
    });
    expect(failures(model.VirtualServiceArgs, { connection, fwmark: 1, address: "198.51.100.100", port: 80 })).toEqual([
      'address: must not be set with fwmark (a firewall-mark service has no address), got "198.51.100.100"',
      "port: must not be set with fwmark (a firewall-mark service has no port), got 80",
    ]);
    expect(failures(model.VirtualServiceArgs, { connection, address: "198.51.100.100" })).toEqual(["port: is required with address"]);
    expect(failures(model.VirtualServiceArgs, { connection, fwmark: 0 })[0]).toContain("fwmark must be between 1 and 4294967295, got 0");
    expect(
      failures(model.VirtualServiceArgs, { connection, fwmark: 2, family: "ipv6", match: [{ address: "198.51.100.100", ports: [80] }] }),
    ).toEqual(['match.0.address: must be an ipv6 address (the service\'s family), got "198.51.100.100"']);
    expect(
      failures(model.VirtualServiceArgs, {
        connection,
        address: "198.51.100.100",
        port: 80,
        match: [{ address: "198.51.100.100", ports: [80] }],
      }),
    ).toEqual(["match: applies only to a fwmark service (it says which packets get the mark)"]);
  });

  test("scheduler flags belong to their scheduler; one-packet to UDP", () => {
    const base = { connection, address: "198.51.100.100", port: 53, protocol: "udp" };
    expect(
      valid<model.VirtualServiceArgs>(model.VirtualServiceArgs, { ...base, scheduler: "sh", schedulerFlags: ["sh-port", "sh-fallback"] })
        .schedulerFlags,
    ).toEqual(["sh-fallback", "sh-port"]);
    expect(failures(model.VirtualServiceArgs, { ...base, scheduler: "rr", schedulerFlags: ["mh-port"] })).toEqual([
      'schedulerFlags.0: mh-port applies only to scheduler mh, got scheduler "rr"',
    ]);
    expect(failures(model.VirtualServiceArgs, { ...base, protocol: "tcp", onePacket: true })).toEqual([
      'onePacket: applies to UDP only (and firewall-mark services, for their UDP packets), got protocol "tcp"',
    ]);
    expect(valid<model.VirtualServiceArgs>(model.VirtualServiceArgs, { ...base, scheduler: "twos" }).scheduler).toBe("twos");
  });

  test("persistence masks by family", () => {
    const v6 = { connection, address: "2001:db8::100", port: 80 };
    expect(failures(model.VirtualServiceArgs, { ...v6, persistence: { timeout: 60, netmask: "255.255.255.0" } })).toEqual([
      'persistence.netmask: must be a prefix length 1-128 for an IPv6 service, got "255.255.255.0"',
    ]);
    expect(
      valid<model.VirtualServiceArgs>(model.VirtualServiceArgs, { ...v6, persistence: { timeout: 60, netmask: "64" } }).persistence,
    ).toEqual({
      timeout: 60,
      netmask: "64",
    });
  });

  test("real servers: families match unless tunnelled, port 0 only for fwmark services, tunnel options", () => {
    const v6svc = { address: "2001:db8::100", port: 80, protocol: "tcp" };
    expect(failures(model.RealServerArgs, { connection, service: v6svc, address: "198.51.100.11" })).toEqual([
      'address: must be an ipv6 address like its service (only forwarding tunnel mixes families), got "198.51.100.11"',
    ]);
    expect(valid<model.RealServerArgs>(model.RealServerArgs, { connection, service: { fwmark: 1 }, address: "198.51.100.11" }).port).toBe(
      0,
    );
    expect(failures(model.RealServerArgs, { connection, service: { fwmark: 1 }, address: "198.51.100.11", port: 80 })[0]).toContain(
      "must be 0 or unset for a fwmark service",
    );
    expect(
      failures(model.RealServerArgs, {
        connection,
        service: { address: "198.51.100.100", port: 80 },
        address: "203.0.113.30",
        tunnelType: "gue",
      }),
    ).toEqual([
      'tunnelType: applies only to forwarding "tunnel", got forwarding "direct"',
      'tunnelPort: is required with tunnelType "gue"',
    ]);
  });

  test("timeouts, NAT clients", () => {
    expect(failures(model.DirectorHostArgs, { connection, vips: ["198.51.100.100"], ipvsTimeouts: {} })).toEqual([
      "ipvsTimeouts: must set at least one of tcp, tcpFin, udp (or leave ipvsTimeouts unset)",
    ]);
    expect(failures(model.NatRealServerHostArgs, { connection, director: "198.51.100.10", clients: ["198.51.100.0/33"] })).toEqual([
      'clients.0: must be a network such as 198.51.100.0/24 or 2001:db8::/64, or "default", got "198.51.100.0/33"',
    ]);
  });
});

describe("command text", () => {
  test("IPv6 in ipvsadm's bracket syntax, SCTP, fwmark with family, flags and one-packet", () => {
    const v6 = { address: "2001:db8::100", port: 80, protocol: "tcp" as const };
    expect(String(ipvs.addService({ ...v6, scheduler: "rr" }))).toBe("ipvsadm -A -t \\[2001\\:db8\\:\\:100\\]\\:80 -s rr");
    expect(rules.service({ address: "198.51.100.100", port: 9999, protocol: "sctp", scheduler: "rr" })).toBe(
      "-A --sctp-service 198.51.100.100:9999 -s rr",
    );
    expect(rules.service({ fwmark: 2, family: "ipv6", protocol: "tcp", scheduler: "wlc", persistence: { timeout: 300 } })).toBe(
      "-A -f 2 -6 -s wlc -p 300",
    );
    expect(
      rules.service({
        address: "198.51.100.100",
        port: 53,
        protocol: "udp",
        scheduler: "sh",
        schedulerFlags: ["sh-fallback", "sh-port"],
        onePacket: true,
      }),
    ).toBe("-A -u 198.51.100.100:53 -s sh -b sh-fallback,sh-port -o");
    expect(
      rules.destination(
        { fwmark: 1, protocol: "tcp" },
        { address: "203.0.113.30", port: 0, forwarding: "tunnel", tunnelType: "gue", tunnelPort: 6080, weight: 1 },
      ),
    ).toBe("-a -f 1 -r 203.0.113.30:0 -i --tun-type gue --tun-port 6080 -w 1 -x 0 -y 0");
    // IPv6 rules still go through one ipvsadm -R.
    expect(ipvs.addService({ ...v6, scheduler: "rr" }).line).toBe("-A -t [2001:db8::100]:80 -s rr");
    expect(ipvs.setTimeouts({ tcp: 900, udp: 60 })).toBe("ipvsadm --set 900 0 60");
    expect(net.addAddress({ address: "2001:db8::100", prefix: 128, dev: "eth1" })).toBe(
      "ip addr replace 2001\\:db8\\:\\:100/128 dev eth1 nodad",
    );
    expect(net.replaceRoute("default", "2001:db8::10")).toBe("ip -6 route replace default via 2001\\:db8\\:\\:10");
  });

  test("our nftables table marks each match", () => {
    expect(
      nftTable([
        { fwmark: 2, family: "ipv6", match: [{ address: "2001:db8::100", protocol: "tcp", ports: [80, 8080] }] },
        { fwmark: 1, family: "ipv4", match: [{ address: "198.51.100.100", protocol: "udp", ports: [53] }] },
      ]),
    ).toBe(
      [
        "table inet pulumi_lvs {",
        "  chain prerouting {",
        "    type filter hook prerouting priority mangle; policy accept;",
        "    ip daddr 198.51.100.100 udp dport { 53 } meta mark set 1",
        "    ip6 daddr 2001:db8::100 tcp dport { 80, 8080 } meta mark set 2",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    expect(nftTable([])).toBeNull();
  });
});

describe("host-side decisions", () => {
  const mark = { fwmark: 1, family: "ipv4" as const, match: [{ address: "198.51.100.100", protocol: "tcp" as const, ports: [80, 8080] }] };

  test("marks: the table is loaded with the first, again only on drift, deleted with the last", () => {
    const first = run(snapshot(), (p) => p.claim("svc", { marks: [mark], persist: true }));
    const load = nftCommands(emptyLedger(), first.plan.ledger, undefined);
    expect(load.join("\n")).toContain("meta mark set 1");
    expect(bootFiles(first.plan.ledger)["/etc/pulumi-lvs/nftables.nft"]).toContain("delete table inet pulumi_lvs");
    expect(nftCommands(first.plan.ledger, first.plan.ledger, { live: "a", written: "a" })).toEqual([]);
    expect(nftCommands(first.plan.ledger, first.plan.ledger, { live: "b", written: "a" }).join("\n")).toContain("nft -f -");
    const gone = run(snapshot({ ledger: first.plan.ledger }), (p) => p.claim("svc", { persist: false }));
    expect(nftCommands(first.plan.ledger, gone.plan.ledger, { live: "a", written: "a" }).join("\n")).toContain(
      "nft delete table inet pulumi_lvs",
    );
  });

  test("two services wanting one mark with different matches: the second is refused", () => {
    const first = run(snapshot(), (p) => p.claim("a", { marks: [mark], persist: true }));
    expect(() =>
      run(snapshot({ ledger: first.plan.ledger }), (p) =>
        p.claim("b", { marks: [{ ...mark, match: [{ ...mark.match[0], ports: [443] }] }], persist: true }),
      ),
    ).toThrow(ClaimError);
  });

  test("timeouts: set what is declared, put the original back on release", () => {
    const timeouts = { tcp: 900, tcpFin: 120, udp: 300 };
    const set = run(snapshot({ timeouts }), (p) => p.claim("d", { timeouts: { udp: 60 }, persist: true }));
    expect(set.commands).toEqual(["ipvsadm --set 0 0 60"]);
    expect(set.plan.ledger.entries[keys.timeouts()].original).toEqual(timeouts);
    expect(bootFiles(set.plan.ledger)["/etc/pulumi-lvs/ipvs.rules"]).toBe("--set 0 0 60\n");
    const back = run(snapshot({ timeouts: { ...timeouts, udp: 60 }, ledger: set.plan.ledger }), (p) => p.claim("d", { persist: false }));
    expect(back.commands).toEqual(["ipvsadm --set 900 120 300"]);
  });

  test("a tunnel link goes up, and back down only if it was down", () => {
    const up = run(snapshot({ links: { tunl0: false } }), (p) =>
      p.claim("t", { links: [{ dev: "tunl0", module: "ipip" }], persist: true }),
    );
    expect(up.commands).toEqual(["ip link set dev tunl0 up"]);
    expect(bootFiles(up.plan.ledger)["/etc/pulumi-lvs/links.conf"]).toBe("ipip tunl0\n");
    const down = run(snapshot({ links: { tunl0: true }, ledger: up.plan.ledger }), (p) => p.claim("t", { persist: false }));
    expect(down.commands).toEqual(["ip link set dev tunl0 down"]);
  });

  test("a NAT route replaces the gateway there was and puts it back", () => {
    const r = { network: "default", family: "ipv4" as const, via: "198.51.100.10" };
    const set = run(snapshot({ gateways: { "ipv4 default": "198.51.100.1" } }), (p) => p.claim("n", { routes: [r], persist: true }));
    expect(set.commands).toEqual(["ip route replace default via 198.51.100.10"]);
    const back = run(snapshot({ gateways: { "ipv4 default": "198.51.100.10" }, ledger: set.plan.ledger }), (p) =>
      p.claim("n", { persist: false }),
    );
    expect(back.commands).toEqual(["ip route replace default via 198.51.100.1"]);
    const none = run(snapshot(), (p) => p.claim("n", { routes: [r], persist: true }));
    const removed = run(snapshot({ gateways: { "ipv4 default": "198.51.100.10" }, ledger: none.plan.ledger }), (p) =>
      p.claim("n", { persist: false }),
    );
    expect(removed.commands).toEqual(["ip route del default via 198.51.100.10"]);
  });

  test("a service's scheduler module is loaded first: a kernel without it fails with its name", () => {
    const { commands } = run(snapshot(), (p) =>
      p.claim("s", { services: [{ address: "198.51.100.100", port: 80, protocol: "tcp", scheduler: "twos" }], persist: true }),
    );
    expect(commands[0]).toContain("scheduler twos is not available on this kernel (no module ip_vs_twos)");
  });
});

describe("parsers on output captured from the lab (every kind of service)", () => {
  const captured = (f: string) => fs.readFileSync(path.join(__dirname, "../lab/captured", f), "utf8");
  const table = mergeThresholds(parseIpvsSave(captured("ipvsadm-S-n-all-kinds.txt")), captured("ipvsadm-L-n-thresholds-all-kinds.txt"));

  test("IPv6, SCTP, fwmark (both families), flags, one-packet, tunnel types and NAT", () => {
    expect([...table.keys()].sort()).toEqual(
      [
        "tcp/198.51.100.100:80",
        "tcp/198.51.100.100:8000",
        "tcp/198.51.100.100:8082",
        "tcp/198.51.100.100:8083",
        "udp/198.51.100.100:5353",
        "sctp/198.51.100.100:9999",
        "tcp/[2001:db8:100::100]:80",
        "tcp/[2001:db8:100::100]:443",
        "fwmark/1",
        "fwmark6/2",
      ].sort(),
    );
    expect(table.get("tcp/198.51.100.100:8082")).toMatchObject({ scheduler: "sh", schedulerFlags: ["sh-fallback", "sh-port"], extra: [] });
    expect(table.get("udp/198.51.100.100:5353")).toMatchObject({ onePacket: true, extra: [] });
    expect(table.get("fwmark/1")).toMatchObject({ fwmark: 1, family: "ipv4", persistence: { timeout: 300 } });
    expect(table.get("fwmark6/2")!.destinations).toEqual([
      expect.objectContaining({ address: "2001:db8:100::12", port: 0, forwarding: "direct", weight: 1 }),
    ]);
    expect(table.get("tcp/[2001:db8:100::100]:80")!.destinations.map((d) => [d.address, d.weight])).toEqual([
      ["2001:db8:100::11", 1],
      ["2001:db8:100::12", 2],
    ]);
    const tun = table.get("tcp/198.51.100.100:80")!.destinations;
    expect(tun.map((d) => [d.address, d.forwarding, d.tunnelType, d.tunnelPort])).toEqual([
      ["198.51.100.11", "tunnel", "gue", 6080],
      ["198.51.100.12", "tunnel", "gre", undefined],
      ["203.0.113.30", "tunnel", undefined, undefined], // ipip, the default, reads as unset
    ]);
    expect(tun[2].inactConn).toBe(1);
    expect(table.get("tcp/198.51.100.100:8000")!.destinations[0]).toMatchObject({ port: 8080, forwarding: "masquerade" });
  });

  test("IPv6 addresses from ip -o addr, timeouts from ipvsadm -L --timeout", () => {
    expect(parseIpAddr(captured("ip-o-6-addr-backend.txt"))).toContainEqual({ dev: "lo", address: "2001:db8:100::100", prefix: 128 });
    expect(parseIpAddr(captured("ip-o-6-addr-director.txt"))).toContainEqual({ dev: "eth1", address: "2001:db8:100::100", prefix: 128 });
    expect(parseTimeouts(captured("ipvsadm-L-timeout-set.txt"))).toEqual({ tcp: 900, tcpFin: 60, udp: 300 });
  });
});

test("validated inputs never carry a key set to undefined (Pulumi's wire format refuses it: `Unexpected struct type`)", () => {
  const undefinedKeys = (o: unknown, at = ""): string[] =>
    o && typeof o === "object" ? Object.entries(o).flatMap(([k, v]) => (v === undefined ? [at + k] : undefinedKeys(v, `${at}${k}.`))) : [];
  for (const [schema, input] of [
    [model.VirtualServiceArgs, { connection, address: "198.51.100.100", port: 80 }],
    [model.VirtualServiceArgs, { connection, fwmark: 1, match: [{ address: "198.51.100.100", ports: [80] }] }],
    [model.RealServerArgs, { connection, service: { address: "198.51.100.100", port: 80 }, address: "198.51.100.11" }],
    [model.RealServerArgs, { connection, service: { fwmark: 1 }, address: "198.51.100.11", forwarding: "tunnel", tunnelType: "ipip" }],
    [model.NatRealServerHostArgs, { connection, director: "198.51.100.10" }],
  ] as const)
    expect(undefinedKeys(valid(schema, input))).toEqual([]);
});
