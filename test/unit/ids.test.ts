// Ids say where an object lives and what it is there; `pulumi import` reads them back.
import { formatId, parseId, parseRealServerIdentity, parseServiceKey, realServerIdentity } from "../../provider/ids";
import { serviceKeyString } from "../../provider/model";
import { readDefaultConnection, withDefaults } from "../../provider/plugin/server-calls";

describe("ids", () => {
  test("every form of login: user, IPv4, name, bracketed IPv6, and the unbracketed IPv6 ids create writes", () => {
    expect(parseId("root@192.0.2.10:2222/tcp/198.51.100.100:80", "VirtualService")).toEqual({
      at: { user: "root", host: "192.0.2.10", port: 2222 },
      identity: "tcp/198.51.100.100:80",
    });
    expect(parseId("director.example/fwmark/7", "VirtualService")).toEqual({ at: { host: "director.example" }, identity: "fwmark/7" });
    expect(parseId("ops@[2001:db8::10]:22/tcp/[2001:db8::100]:80", "VirtualService").at).toEqual({
      user: "ops",
      host: "2001:db8::10",
      port: 22,
    });
    expect(parseId("[2001:db8::10]/fwmark6/1", "VirtualService").at).toEqual({ host: "2001:db8::10" });
    const written = formatId("2001:db8::10", 22, "tcp/[2001:db8::100]:80");
    expect(parseId(written, "VirtualService")).toEqual({ at: { host: "2001:db8::10", port: 22 }, identity: "tcp/[2001:db8::100]:80" });
  });

  test("a malformed id is refused naming the id and the shape it must have", () => {
    expect(() => parseId("192.0.2.10", "VirtualService")).toThrow(/VirtualService id "192.0.2.10": .*expected \[user@\]host\[:port\]\//);
    expect(() => parseId("@192.0.2.10/tcp/1.2.3.4:80", "VirtualService")).toThrow(/empty user/);
    expect(() => parseId("192.0.2.10:99999/fwmark/1", "VirtualService")).toThrow(/port must be 1-65535, got "99999"/);
  });

  test("service keys and real server identities read back what serviceKeyString and realServerIdentity write", () => {
    type Key = Parameters<typeof serviceKeyString>[0];
    // A fwmark service's key has no protocol of its own (the model defaults it).
    const keys: Key[] = [
      { protocol: "tcp" as const, address: "198.51.100.100", port: 80 },
      { protocol: "udp" as const, address: "2001:db8::100", port: 53 },
      { fwmark: 1, family: "ipv4" as const } as Key,
      { fwmark: 2, family: "ipv6" as const } as Key,
    ];
    for (const k of keys) expect(parseServiceKey(serviceKeyString(k))).toEqual(k);
    const rs = realServerIdentity(keys[1], "2001:db8::2", 53);
    expect(parseRealServerIdentity(rs)).toEqual({ service: keys[1], address: "2001:db8::2", port: 53 });
    expect(() => parseServiceKey("icmp/1.2.3.4:80")).toThrow(
      /tcp\|udp\|sctp\/address:port or fwmark\|fwmark6\/mark, got "icmp\/1.2.3.4:80"/,
    );
    expect(() => parseServiceKey("tcp/1.2.3.4")).toThrow(/address:port/);
    expect(() => parseRealServerIdentity("tcp/1.2.3.4:80")).toThrow(/a real server: <service>\/address:port, got "tcp\/1.2.3.4:80"/);
    expect(() => parseRealServerIdentity("fwmark/1/10.0.0.2")).toThrow(/a real server's address must be address:port/);
  });
});

describe("the plugin's lvs:connection", () => {
  test("read from the checked inputs or from the variables map, checked field by field", () => {
    expect(readDefaultConnection({ connection: { user: "ops", privateKey: "KEY" } }, new Map())).toEqual({
      user: "ops",
      privateKey: "KEY",
    });
    expect(readDefaultConnection(undefined, new Map([["lvs:config:connection", '{"user":"ops","port":2222}']]))).toEqual({
      user: "ops",
      port: 2222,
    });
    expect(readDefaultConnection({}, new Map())).toEqual({});
    expect(() => readDefaultConnection({ connection: { user: "bad user" } }, new Map())).toThrow(
      /user.*must be a user name, got "bad user"/,
    );
    expect(() => readDefaultConnection({ connection: "{not json" }, new Map())).toThrow(/lvs:connection must be an object/);
  });

  test("unset, a resource's connection is its own; nothing is invented", () => {
    expect(withDefaults(undefined)).toBeUndefined();
    expect(withDefaults({ host: "192.0.2.10" })).toEqual({ host: "192.0.2.10" });
  });
});
