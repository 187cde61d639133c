// Diff rules of every kind: which field changes update in place and which replace.
// diff and check are pure: a spy proves they never open an SSH connection.
import * as ssh from "../../provider/remote/ssh";
import { providers } from "../../provider/runtime";
import { connectionOutputs } from "../../provider/runtime/kind";
import { UNKNOWN } from "../../provider/validate";

const connectSpy = jest.spyOn(ssh, "connect");
afterAll(() => expect(connectSpy).not.toHaveBeenCalled());

const connection = { host: "127.0.0.1", port: 2220, user: "root", privateKey: "KEY", dialErrorLimit: 10, perDialTimeout: 15 };

/** Outputs as create would store them: checked inputs with the secrets moved to credentials. */
async function stored(name: keyof typeof providers, inputs: Record<string, unknown>) {
  const checked = (await providers[name].check!({}, inputs)).inputs!;
  return { checked, outs: { ...checked, ...connectionOutputs(checked.connection), stateVersion: 1 } };
}

async function diffOf(name: keyof typeof providers, base: Record<string, unknown>, change: Record<string, unknown>) {
  const { outs } = await stored(name, base);
  const news = (await providers[name].check!(outs, { ...base, ...change })).inputs!;
  return providers[name].diff!("id", outs, news);
}

const svc = { connection, address: "198.51.100.100", port: 80, protocol: "tcp", scheduler: "rr" };
const rs = { connection, service: { address: "198.51.100.100", port: 80, protocol: "tcp" }, address: "198.51.100.11", weight: 1 };
const dir = { connection, vips: ["198.51.100.100"] };
const rsh = { connection, vips: ["198.51.100.100"] };
const fwm = { connection, fwmark: 1, scheduler: "rr", match: [{ address: "198.51.100.100", ports: [80, 8080] }] };
const udp = { ...svc, protocol: "udp", scheduler: "sh" };
const tun = { ...rs, forwarding: "tunnel" };
const nat = { connection, director: "198.51.100.10", clients: ["198.51.100.20/32"] };

describe("diff", () => {
  test.each([
    ["VirtualService", svc, {}, "none"],
    ["VirtualService", svc, { scheduler: "wrr" }, "update"],
    ["VirtualService", svc, { persistence: { timeout: 300 } }, "update"],
    ["VirtualService", svc, { persist: false }, "update"],
    ["VirtualService", svc, { address: "198.51.100.101" }, "replace:address"],
    ["VirtualService", svc, { port: 8080 }, "replace:port"],
    ["VirtualService", svc, { protocol: "udp" }, "replace:protocol"],
    ["VirtualService", svc, { connection: { ...connection, host: "127.0.0.2" } }, "replace:connection.host"],
    ["VirtualService", svc, { connection: { ...connection, user: "ops" } }, "update"],
    ["VirtualService", svc, { connection: { ...connection, privateKey: "OTHER" } }, "update"],
    ["RealServer", rs, {}, "none"],
    ["RealServer", rs, { weight: 3 }, "update"],
    ["RealServer", rs, { forwarding: "tunnel" }, "update"],
    ["RealServer", rs, { upperThreshold: 100 }, "update"],
    ["RealServer", rs, { upperThreshold: 10, lowerThreshold: 1 }, "update"],
    ["RealServer", rs, { drainTimeout: 5 }, "update"],
    ["RealServer", rs, { address: "198.51.100.12" }, "replace:address"],
    ["RealServer", rs, { service: { ...rs.service, port: 81 } }, "replace:service.port"],
    ["RealServer", rs, { service: { ...rs.service, address: "198.51.100.101" } }, "replace:service.address"],
    ["DirectorHost", dir, {}, "none"],
    ["DirectorHost", dir, { vips: ["198.51.100.100", "198.51.100.101"] }, "update"],
    ["DirectorHost", dir, { ipForward: true }, "update"],
    ["DirectorHost", dir, { expireNodestConn: true }, "update"],
    ["DirectorHost", dir, { expireQuiescentTemplate: true }, "update"],
    ["DirectorHost", dir, { interface: "eth1" }, "update"],
    ["VirtualService", svc, { address: "2001:db8::100" }, "replace:address"],
    ["VirtualService", udp, { onePacket: true }, "update"],
    ["VirtualService", udp, { schedulerFlags: ["sh-port"] }, "update"],
    ["VirtualService", fwm, {}, "none"],
    ["VirtualService", fwm, { match: [{ address: "198.51.100.100", ports: [80] }] }, "update"],
    ["VirtualService", fwm, { fwmark: 2 }, "replace:fwmark"],
    ["VirtualService", fwm, { family: "ipv6", match: [{ address: "2001:db8::100", ports: [80] }] }, "replace:family"],
    ["RealServer", tun, {}, "none"],
    ["RealServer", tun, { tunnelType: "gue", tunnelPort: 6080 }, "update"],
    ["RealServer", tun, { tunnelType: "ipip" }, "none"], // the default
    ["DirectorHost", dir, { ipvsTimeouts: { udp: 60 } }, "update"],
    ["TunRealServerHost", rsh, {}, "none"],
    ["TunRealServerHost", rsh, { tunnelType: "gre" }, "update"],
    ["NatRealServerHost", nat, {}, "none"],
    ["NatRealServerHost", nat, { clients: ["198.51.100.20"] }, "none"], // the same network, as ip route writes it
    ["NatRealServerHost", nat, { clients: ["default"] }, "update"],
    ["DrRealServerHost", rsh, {}, "none"],
    ["DrRealServerHost", rsh, { vips: ["198.51.100.101"] }, "update"],
    ["DrRealServerHost", rsh, { arpIgnore: 2 }, "update"],
    ["DrRealServerHost", rsh, { arpAnnounce: 1 }, "update"],
    ["VirtualService", svc, { adopt: "own" }, "update"],
    ["RealServer", rs, { adopt: "own" }, "update"],
    ["DirectorHost", dir, { adopt: "own" }, "update"],
    ["DrRealServerHost", rsh, { adopt: "own" }, "update"],
    ["TunRealServerHost", rsh, { adopt: "own" }, "update"],
    ["NatRealServerHost", nat, { adopt: "own" }, "update"],
    ["VirtualService", svc, { adopt: "keep" }, "none"], // the default
  ] as const)("%s %j -> %s", async (name, base, change, expected) => {
    const d = await diffOf(name, base, change);
    if (expected === "none") expect(d).toMatchObject({ changes: false, replaces: [] });
    else if (expected === "update") expect(d).toMatchObject({ changes: true, replaces: [] });
    else {
      expect(d.changes).toBe(true);
      expect(d.replaces).toContain(expected.slice("replace:".length));
    }
  });

  test("deleteBeforeReplace only when the same IPVS object would be recreated", async () => {
    expect(await diffOf("VirtualService", svc, { connection: { ...connection, host: "127.0.0.2" } })).toMatchObject({
      deleteBeforeReplace: true,
    });
    expect(await diffOf("VirtualService", svc, { port: 8080 })).toMatchObject({ deleteBeforeReplace: false });
    expect(await diffOf("RealServer", rs, { address: "198.51.100.12" })).toMatchObject({ deleteBeforeReplace: false });
  });

  test("an interface resolved at create stays when the input leaves it unset", async () => {
    const { checked, outs } = await stored("DirectorHost", dir);
    const resolved = { ...outs, interface: "eth1" };
    expect(await providers.DirectorHost.diff!("id", resolved, checked)).toMatchObject({ changes: false, replaces: [] });
    // A new interface moves the VIPs in place (one transaction), never a replace that could not succeed.
    expect(await providers.DirectorHost.diff!("id", resolved, { ...checked, interface: "eth2" })).toMatchObject({
      changes: true,
      replaces: [],
    });
  });

  test.each([
    [
      "a proxy with a key",
      "DrRealServerHost",
      { ...rsh, connection: { ...connection, proxy: { host: "127.0.0.1", port: 2221, privateKey: "PK2" } } },
    ],
    [
      "a proxy with a password",
      "DrRealServerHost",
      { ...rsh, connection: { ...connection, proxy: { host: "127.0.0.1", password: "pw" } } },
    ],
    ["netmask 255.255.255.255", "VirtualService", { ...svc, persistence: { timeout: 60, netmask: "255.255.255.255" } }],
    ["thresholds given as 0", "RealServer", { ...rs, upperThreshold: 0, lowerThreshold: 0 }],
  ] as const)("no perpetual diff: %s", async (_what, name, base) => {
    const { outs } = await stored(name, base);
    // What refresh reads back from the host: ipvsadm shows neither the default mask nor 0 thresholds.
    const read = {
      ...outs,
      persistence: (outs as { persistence?: { timeout: number } }).persistence && { timeout: 60 },
      upperThreshold: undefined,
      lowerThreshold: undefined,
    };
    const news = (await providers[name].check!(read, base)).inputs!;
    expect(await providers[name].diff!("id", JSON.parse(JSON.stringify(read)), news)).toMatchObject({ changes: false });
  });

  test("state written before adopt existed previews clean (it meant keep); own there is an update", async () => {
    const { checked, outs } = await stored("VirtualService", svc);
    const { adopt: _, ...before } = outs;
    expect(await providers.VirtualService.diff!("id", before, checked)).toMatchObject({ changes: false });
    expect(await providers.VirtualService.diff!("id", before, { ...checked, adopt: "own" })).toMatchObject({ changes: true, replaces: [] });
  });

  test("refresh of state written before adopt existed is clean: the engine diffs the refreshed outputs against the stored inputs, unchecked", async () => {
    const { checked, outs } = await stored("VirtualService", svc);
    const { adopt: _, ...before } = outs;
    const { adopt: __, ...inputs } = checked;
    expect(await providers.VirtualService.diff!("id", before, inputs)).toMatchObject({ changes: false });
  });

  test("values unknown at preview count as changes", async () => {
    const { outs } = await stored("VirtualService", svc);
    expect(await providers.VirtualService.diff!("id", outs, { ...outs, scheduler: UNKNOWN })).toMatchObject({
      changes: true,
      replaces: [],
    });
    expect(await providers.VirtualService.diff!("id", outs, { ...outs, address: UNKNOWN })).toMatchObject({
      changes: true,
      replaces: ["address"],
    });
  });

  test("check reports failures naming the field, without connecting", async () => {
    const r = await providers.RealServer.check!({}, { ...rs, address: "1.2.3.4; reboot", weight: 70000 });
    expect(r.failures).toEqual(
      expect.arrayContaining([
        { property: "address", reason: expect.stringContaining("1.2.3.4; reboot") },
        { property: "weight", reason: expect.stringContaining("70000") },
      ]),
    );
  });

  test("secrets are split out of the connection kept in outputs", () => {
    const o = connectionOutputs({ ...connection, password: "pw", proxy: { ...connection, privateKey: "PK2" } } as never);
    expect(JSON.stringify(o.connection)).not.toMatch(/KEY|pw|PK2/);
    expect(o.credentials).toEqual({ privateKey: "KEY", password: "pw", proxy: { privateKey: "PK2" } });
  });
});
