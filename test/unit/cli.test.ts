// The command-line tool's pure parts: its connection flags (checked by the model, errors named
// by flag, no host trusted on first contact) and the ledger table.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError, connectionOf } from "../../provider/cli/connection-flags";
import { ownerParts, ownersOf, rows, table } from "../../provider/cli/ledger";
import { scanCommand } from "../../provider/cli/scan";
import { Ledger, keys } from "../../provider/ledger";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-cli-"));
const knownHosts = path.join(dir, "known_hosts");
fs.writeFileSync(knownHosts, `[192.0.2.10]:2222 ${KEY}\n`);
const keyFile = path.join(dir, "id");
fs.writeFileSync(keyFile, "not really a key\n");

const usage = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("no error");
};

describe("scan's flags", () => {
  test("--inline with --format config is refused, naming the flag, before anything connects", async () => {
    // A port nothing listens on: were it dialled, the error would be a connection's, not this one.
    const scan = scanCommand(["root@127.0.0.1:1", "--host-key", KEY, "--format", "config", "--inline"], () => undefined);
    await expect(scan).rejects.toBeInstanceOf(UsageError);
    await expect(scan).rejects.toThrow(
      "--inline: applies to --format ts, yaml and json (an LvsDrCluster's config has no RealServers to inline)",
    );
  });
});

describe("connection flags", () => {
  test("[user@]host[:port] with a known_hosts entry and a key file", () => {
    const c = connectionOf("ops@192.0.2.10:2222", { "known-hosts": knownHosts, key: keyFile });
    expect(c).toMatchObject({ host: "192.0.2.10", port: 2222, user: "ops", privateKey: "not really a key\n", knownHostsPath: knownHosts });
    expect(connectionOf("[2001:db8::10]", { "host-key": KEY })).toMatchObject({
      host: "2001:db8::10",
      port: 22,
      user: "root",
      hostKey: KEY,
    });
  });

  test("errors name the flag, before anything connects", () => {
    expect(usage(() => connectionOf(undefined, {}))).toBe("<connection> is required: [user@]host[:port]");
    expect(usage(() => connectionOf("a@b@c", {}))).toBe('<connection>: expected [user@]host[:port], got "a@b@c"');
    expect(usage(() => connectionOf("192.0.2.10:70000", { "host-key": KEY }))).toBe(
      "<connection>'s port: port must be between 1 and 65535, got 70000",
    );
    expect(usage(() => connectionOf("192.0.2.10", { "host-key": "nonsense" }))).toMatch(/^--host-key: must be an OpenSSH public key/);
    expect(usage(() => connectionOf("192.0.2.10", { "host-key": KEY, "lock-timeout": "0" }))).toBe(
      "--lock-timeout: lockTimeout must be between 1 and 86400, got 0",
    );
    expect(usage(() => connectionOf("192.0.2.10", { "host-key": KEY, key: path.join(dir, "missing") }))).toBe(
      `--key: cannot read ${path.join(dir, "missing")}: ENOENT`,
    );
    expect(usage(() => connectionOf("192.0.2.10", { "host-key": KEY, "password-env": "PULUMI_LVS_NO_SUCH_VAR" }))).toBe(
      "--password-env: environment variable PULUMI_LVS_NO_SUCH_VAR is not set",
    );
  });

  test("a host whose key is not known is refused: tools never trust on first contact", () => {
    expect(usage(() => connectionOf("root@192.0.2.99", { "known-hosts": knownHosts }))).toBe(
      `root@192.0.2.99:22: its host key is not known: pass --host-key "ssh-ed25519 AAAA..." or --known-hosts FILE with its entry (tried ${knownHosts}); nothing was sent to it`,
    );
  });

  test("a password comes from the environment, never from the command line", () => {
    process.env.PULUMI_LVS_TEST_PW = "s3cret";
    expect(connectionOf("192.0.2.10", { "host-key": KEY, "password-env": "PULUMI_LVS_TEST_PW" }).password).toBe("s3cret");
    delete process.env.PULUMI_LVS_TEST_PW;
  });
});

describe("the ledger as a table", () => {
  const A =
    "urn:pulumi:prod::web::lvs:index:LvsDrCluster$pulumi-nodejs:dynamic/lvs:RealServer::web-rs-1#tcp/198.51.100.100:80/198.51.100.11:80";
  const B = "urn:pulumi:stall::web::pulumi-nodejs:dynamic/lvs:RealServer::r2#tcp/198.51.100.100:80/198.51.100.11:80";
  const d = {
    service: { address: "198.51.100.100", port: 80, protocol: "tcp" as const },
    dest: { address: "198.51.100.11", port: 80, forwarding: "direct" as const, weight: 1 },
  };
  const ledger: Ledger = {
    version: 1,
    entries: {
      [keys.dest(d.service, d.dest)]: {
        kind: "dest",
        where: d,
        original: null,
        holders: { [A]: { value: d, persist: true, since: "2026-12-02T04:00:00.000Z" }, [B]: { value: d, persist: true } },
      },
      [keys.sysctl("net.ipv4.vs.conntrack")]: {
        kind: "sysctl",
        where: "net.ipv4.vs.conntrack",
        original: 0,
        holders: { [B]: { value: 1, persist: true } },
        adopted: "keep",
      },
    },
  };

  test("owners: stack and resource from the URN", () => {
    expect(ownerParts(A)).toEqual({ stack: "prod", resource: "web-rs-1 (lvs:RealServer)" });
    expect(ownerParts("urn:pulumi:old::web::pulumi-nodejs:dynamic:Resource::vs")).toEqual({ stack: "old", resource: "vs (pulumi-lvs)" });
    expect(ownerParts("not-a-urn")).toEqual({ stack: "?", resource: "not-a-urn" });
    expect(ownersOf(ledger, { stack: "stall" })).toEqual([B]);
    expect(ownersOf(ledger, { owner: [A] })).toEqual([A]);
  });

  test("one row per holder, aligned, with how its object was adopted (- when pulumi-lvs created it)", () => {
    expect(table(rows(ledger)).split("\n")).toEqual([
      "OBJECT                                              STACK  RESOURCE                   VALUE                                        ADOPTED  SINCE",
      "real server tcp/198.51.100.100:80 198.51.100.11:80  prod   web-rs-1 (lvs:RealServer)  forwarding direct, weight 1, thresholds 0/0  -        2026-12-02T04:00:00.000Z",
      "real server tcp/198.51.100.100:80 198.51.100.11:80  stall  r2 (lvs:RealServer)        forwarding direct, weight 1, thresholds 0/0  -        (before 0.3)",
      "sysctl net.ipv4.vs.conntrack                        stall  r2 (lvs:RealServer)        value 1                                      keep     (before 0.3)",
    ]);
    expect(rows(ledger).map((r) => r.adopted)).toEqual([undefined, undefined, "keep"]);
  });
});
