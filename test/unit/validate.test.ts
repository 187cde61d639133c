import * as model from "../../provider/model";
import { UNKNOWN, validate } from "../../provider/validate";

const connection = { host: "127.0.0.1", port: 2220, privateKey: "KEY" };
const service = { connection, address: "198.51.100.100", port: 80, scheduler: "rr" };
const realServer = { connection, service: { address: "198.51.100.100", port: 80, protocol: "tcp" }, address: "198.51.100.11" };

function failures(schema: Parameters<typeof validate>[0], input: unknown) {
  const v = validate(schema, input);
  if (v.kind !== "invalid") throw new Error(`expected failures, got ${v.kind}`);
  return v.failures;
}

describe("validation before anything connects", () => {
  test("applies the defaults of @pulumi/command's connection and of ipvsadm", () => {
    const v = validate(model.VirtualServiceArgs, { connection: { host: "h" }, address: "198.51.100.100", port: 80 });
    expect(v).toEqual({
      kind: "valid",
      value: expect.objectContaining({
        protocol: "tcp",
        scheduler: "wlc",
        persist: true,
        connection: { host: "h", port: 22, user: "root", dialErrorLimit: 10, perDialTimeout: 15 },
      }),
    });
  });

  test.each([
    ["address", { ...service, address: "1.2.3.4; reboot" }, "1.2.3.4; reboot"],
    ["address", { ...service, address: "300.1.1.1" }, "300.1.1.1"],
    ["port", { ...service, port: 0 }, "0"],
    ["port", { ...service, port: 70000 }, "70000"],
    ["scheduler", { ...service, scheduler: "fastest" }, "fastest"],
    ["protocol", { ...service, protocol: "icmp" }, "icmp"],
    ["persistence.timeout", { ...service, persistence: { timeout: -5 } }, "-5"],
    ["persistence.netmask", { ...service, persistence: { timeout: 5, netmask: "255.0.255.0" } }, "255.0.255.0"],
    ["connection.host", { ...service, connection: { host: "a b;c" } }, "a b;c"],
    ["connection.user", { ...service, connection: { host: "h", user: "root; id" } }, "root; id"],
  ])("VirtualService: %s rejected with its value", (field, input, value) => {
    const f = failures(model.VirtualServiceArgs, input);
    expect(f).toEqual([expect.objectContaining({ property: field })]);
    expect(f[0].reason).toContain(value);
  });

  test.each([
    ["weight", { ...realServer, weight: 70000 }, "70000"],
    ["weight", { ...realServer, weight: 1.5 }, "1.5"],
    ["forwarding", { ...realServer, forwarding: "nat" }, "nat"],
    ["port", { ...realServer, port: 8080 }, "8080"],
    ["address", { ...realServer, address: "198.51.100.100" }, "198.51.100.100"],
    ["lowerThreshold", { ...realServer, upperThreshold: 5, lowerThreshold: 10 }, "10"],
  ])("RealServer: %s rejected with its value", (field, input, value) => {
    const f = failures(model.RealServerArgs, input);
    expect(f.map((x) => x.property)).toContain(field);
    expect(f.find((x) => x.property === field)!.reason).toContain(value);
  });

  test.each([
    ["realServers.1.address", [{ address: "198.51.100.11" }, { address: "10.0.0.1; reboot" }], "10.0.0.1; reboot"],
    ["realServers.0.weight", [{ address: "198.51.100.11", weight: -1 }], "-1"],
    ["realServers.0.drainTimeout", [{ address: "198.51.100.11", drainTimeout: 86401 }], "86401"],
    ["realServers.0.port", [{ address: "198.51.100.11", port: 8080 }], "8080"],
    ["realServers.0.address", [{ address: "198.51.100.100" }], "198.51.100.100"],
    ["realServers.0.address", [{ address: "2001:db8::11" }], "2001:db8::11"],
    ["realServers.1", [{ address: "198.51.100.11" }, { address: "198.51.100.11", port: 80 }], "198.51.100.11:80"],
    ["realServers.0.healthCheck", [{ address: "198.51.100.11", healthCheck: { type: "tcp" } }], "healthCheck on the VirtualService"],
  ])("VirtualService realServers: %s rejected with its value", (field, realServers, value) => {
    const f = failures(model.VirtualServiceArgs, { ...service, realServers });
    expect(f).toEqual([expect.objectContaining({ property: field })]);
    expect(f[0].reason).toContain(value);
  });

  test("VirtualService realServers take a RealServer's defaults: the service's port, weight 1, direct, a 30 s drain", () => {
    const v = validate(model.VirtualServiceArgs, {
      ...service,
      realServers: [{ address: "198.51.100.11" }, { address: "198.51.100.12", weight: 3, forwarding: "tunnel", tunnelType: "ipip" }],
    });
    expect(v).toMatchObject({
      kind: "valid",
      value: {
        realServers: [
          { address: "198.51.100.11", port: 80, weight: 1, forwarding: "direct", drainTimeout: 30 },
          { address: "198.51.100.12", port: 80, weight: 3, forwarding: "tunnel", drainTimeout: 30 },
        ],
      },
    });
    if (v.kind === "valid")
      expect(v.value.realServers).toEqual([expect.not.objectContaining({ tunnelType: expect.anything() }), expect.anything()]);
    expect(validate(model.VirtualServiceArgs, service)).toEqual({
      kind: "valid",
      value: expect.not.objectContaining({ realServers: expect.anything() }),
    });
  });

  test("adopt is keep (the default) or own on every kind; anything else is refused naming adopt and the value", () => {
    const kinds: [Parameters<typeof validate>[0], object][] = [
      [model.VirtualServiceArgs, service],
      [model.RealServerArgs, realServer],
      [model.DirectorHostArgs, { connection, vips: ["198.51.100.100"] }],
      [model.DrRealServerHostArgs, { connection, vips: ["198.51.100.100"] }],
      [model.TunRealServerHostArgs, { connection, vips: ["198.51.100.100"] }],
      [model.NatRealServerHostArgs, { connection, director: "198.51.100.10" }],
      [model.ClusterArgs, { director: connection, vip: "198.51.100.100", port: 80, backends: [{ address: "198.51.100.11", connection }] }],
    ];
    for (const [schema, input] of kinds) {
      expect(validate(schema, input)).toMatchObject({ kind: "valid", value: { adopt: "keep" } });
      expect(validate(schema, { ...input, adopt: "own" })).toMatchObject({ kind: "valid", value: { adopt: "own" } });
      expect(failures(schema, { ...input, adopt: "steal" })).toEqual([
        { property: "adopt", reason: 'adopt must be one of keep, own; got "steal"' },
      ]);
    }
  });

  test("RealServer: port defaults to the service port; masquerade may map ports", () => {
    expect(validate(model.RealServerArgs, realServer)).toMatchObject({
      kind: "valid",
      value: { port: 80, forwarding: "direct", weight: 1, drainTimeout: 30 },
    });
    expect(validate(model.RealServerArgs, { ...realServer, forwarding: "masquerade", port: 8080 })).toMatchObject({ kind: "valid" });
  });

  test.each([
    ["vips.0", { connection, vips: ["nope"] }, "nope"],
    ["vips", { connection, vips: [] }, "at least one"],
    ["vips", { connection, vips: ["198.51.100.1", "198.51.100.1"] }, "198.51.100.1"],
    ["interface", { connection, vips: ["198.51.100.1"], interface: "eth0; reboot" }, "eth0; reboot"],
  ])("DirectorHost: %s rejected", (field, input, value) => {
    const f = failures(model.DirectorHostArgs, input);
    expect(f[0].property).toBe(field);
    expect(f[0].reason).toContain(value);
  });

  test.each([
    ["arpIgnore", { connection, vips: ["198.51.100.1"], arpIgnore: 9 }, "9"],
    ["arpAnnounce", { connection, vips: ["198.51.100.1"], arpAnnounce: 3 }, "3"],
  ])("DrRealServerHost: %s rejected", (field, input, value) => {
    const f = failures(model.DrRealServerHostArgs, input);
    expect(f[0].property).toBe(field);
    expect(f[0].reason).toContain(value);
  });

  test.each([
    ["0.0.0.0", "the unspecified address"],
    ["127.0.0.1", "a loopback address"],
    ["224.0.0.5", "a multicast address"],
    ["255.255.255.255", "a reserved or broadcast address"],
  ])("VIPs and backends must be unicast: %s is refused as %s", (address, why) => {
    for (const [schema, input, field] of [
      [model.VirtualServiceArgs, { ...service, address }, "address"],
      [model.RealServerArgs, { ...realServer, address }, "address"],
      [model.DirectorHostArgs, { connection, vips: [address] }, "vips.0"],
    ] as const) {
      const f = failures(schema, input);
      expect(f).toEqual([expect.objectContaining({ property: field })]);
      expect(f[0].reason).toContain(address);
      expect(f[0].reason).toContain(why);
    }
  });

  test("a malformed hostKey fails at preview, naming it; both accepted forms pass", () => {
    const f = failures(model.VirtualServiceArgs, { ...service, connection: { ...connection, hostKey: "not a key" } });
    expect(f).toEqual([expect.objectContaining({ property: "connection.hostKey", reason: expect.stringContaining("not a key") })]);
    for (const hostKey of [
      "SHA256:uJ0cNz1sGcfmX3Y2Xk5m0x7VbWq2oN4yF8dQ7tR6aBc",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIObTE/pHlJ0RXOLcsf48AqbcLfek5CY2PdtAtLRO/CRT lab",
    ]) {
      expect(validate(model.VirtualServiceArgs, { ...service, connection: { ...connection, hostKey } })).toMatchObject({ kind: "valid" });
    }
  });

  test("lowerThreshold needs upperThreshold", () => {
    const f = failures(model.RealServerArgs, { ...realServer, lowerThreshold: 10 });
    expect(f).toEqual([expect.objectContaining({ property: "lowerThreshold", reason: expect.stringContaining("needs upperThreshold") })]);
  });

  test("values unknown at preview are judged later, known bad values still fail", () => {
    expect(validate(model.VirtualServiceArgs, { ...service, address: UNKNOWN })).toEqual({ kind: "unknown" });
    expect(validate(model.RealServerArgs, { ...realServer, service: UNKNOWN, port: 8080 })).toEqual({ kind: "unknown" });
    expect(failures(model.VirtualServiceArgs, { ...service, connection: UNKNOWN, port: 70000 })).toEqual([
      expect.objectContaining({ property: "port" }),
    ]);
  });
});
