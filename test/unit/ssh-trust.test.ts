// connect() against real SSH servers in this process (ssh2's Server on 127.0.0.1, host keys
// from ssh-keygen): a host whose key is not the expected one, target or jump host, is refused
// during the handshake, and the server proves it: it never sees an authentication request.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Server } from "ssh2";
import { Connection } from "../../provider/model";
import { forgetSeenHostKeys } from "../../provider/remote/host-keys";
import { rememberStackKeys } from "../../provider/remote/ssh";
import { HostKeyMismatchError, authMethods, connect, disconnectAll } from "../../provider/remote/ssh";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-ssh-trust-"));

interface Key {
  file: string;
  pub: string;
  fp: string;
}
function keygen(name: string, type = "ed25519"): Key {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", file]);
  const fp = execFileSync("ssh-keygen", ["-lf", `${file}.pub`], { encoding: "utf8" }).split(" ")[1];
  return { file, pub: fs.readFileSync(`${file}.pub`, "utf8").trim(), fp };
}
const client = keygen("client");
const [a, b, jumpOld, jumpNew] = ["a", "b", "jump-old", "jump-new"].map((n) => keygen(n));
const ecdsa = keygen("ecdsa", "ecdsa");

/**
 * An SSH server that accepts any public key and forwards direct-tcpip channels (a jump host).
 * `auths` counts every authentication request it receives; `methods` names them in order.
 */
interface TestServer {
  port: number;
  auths: number;
  methods: string[];
  close(): Promise<void>;
}
async function serve(keys: Key[], port = 0): Promise<TestServer> {
  const clients = new Set<{ end(): void }>();
  const s: TestServer = { port, auths: 0, methods: [], close: async () => undefined };
  const server = new Server({ hostKeys: keys.map((k) => fs.readFileSync(k.file)) }, (conn) => {
    clients.add(conn);
    conn.on("close", () => clients.delete(conn));
    conn.on("authentication", (ctx) => {
      s.auths++;
      s.methods.push(ctx.method);
      if (ctx.method === "publickey") ctx.accept();
      else ctx.reject(["publickey"]);
    });
    conn.on("tcpip", (accept, _reject, info) => {
      const channel = accept();
      const sock = net.connect(info.destPort, info.destIP);
      sock.on("error", () => channel.close());
      channel.pipe(sock).pipe(channel);
    });
    conn.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  s.port = (server.address() as net.AddressInfo).port;
  s.close = () =>
    new Promise((r) => {
      for (const c of clients) c.end();
      server.close(() => r());
    });
  return s;
}
const servers: TestServer[] = [];
async function start(keys: Key[], port = 0): Promise<TestServer> {
  const s = await serve(keys, port);
  servers.push(s);
  return s;
}
/** The same address and port, a new host key: what a rebuilt host (or an impostor) looks like. */
async function rotate(s: TestServer, keys: Key[]): Promise<TestServer> {
  disconnectAll();
  await s.close();
  return start(keys, s.port);
}

const conn = (port: number, extra: Record<string, unknown> = {}) =>
  Connection.parse({ host: "127.0.0.1", port, privateKey: fs.readFileSync(client.file, "utf8"), dialErrorLimit: 1, ...extra });

beforeAll(() => delete process.env.SSH_AUTH_SOCK);
beforeEach(() => forgetSeenHostKeys());
afterEach(async () => {
  disconnectAll();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("first contact: the host key seen is the one ssh-keygen -lf reports", async () => {
  const s = await start([a]);
  const host = await connect(conn(s.port));
  expect(host.fingerprint).toBe(a.fp);
  expect(host.proxyFingerprint).toBeUndefined();
  expect(s.auths).toBeGreaterThan(0);
  // Later callers share the connection, also once the key is recorded or in the registry.
  expect(await connect(conn(s.port))).toBe(host);
  expect(await connect(conn(s.port), { recorded: { target: a.fp } })).toBe(host);
});

test("a key is offered at once: no `none` request, a round trip, before it; with no credential at all, ssh2's own order", async () => {
  const s = await start([a]);
  await connect(conn(s.port));
  // The key offered without a signature, then signed (ssh2's way): nothing before it.
  expect(s.methods).toEqual(["publickey", "publickey"]);
  expect(authMethods({ privateKey: "k" })).toEqual(["publickey"]);
  expect(authMethods({ password: "p", privateKey: "k", agent: "/run/agent.sock" })).toEqual(["password", "publickey", "agent"]);
  expect(authMethods({ agent: "" })).toBeUndefined();
});

test("a key other than the recorded one is refused before authentication; pinning the new key accepts it", async () => {
  let s = await start([a]);
  const recorded = (await connect(conn(s.port))).fingerprint;
  s = await rotate(s, [b]);
  const e = await connect(conn(s.port), { recorded: { target: recorded } }).catch((x) => x);
  expect(e).toBeInstanceOf(HostKeyMismatchError);
  expect(e.message).toContain(`root@127.0.0.1:${s.port}: host key changed: recorded in state ${a.fp}, host presented ${b.fp}.`);
  expect(e.message).toContain("Nothing was run and no credential was sent.");
  expect(e.message).toContain(`connection.hostKey to "${b.fp}"`);
  expect(s.auths).toBe(0);
  const host = await connect(conn(s.port, { hostKey: b.fp }), { recorded: { target: recorded } });
  expect(host.fingerprint).toBe(b.fp);
});

test("a pinned key is enforced during the handshake too", async () => {
  const s = await start([b]);
  const e = await connect(conn(s.port, { hostKey: a.pub })).catch((x) => x);
  expect(e).toBeInstanceOf(HostKeyMismatchError);
  expect(e.message).toContain(`pinned (connection.hostKey) ${a.fp}, host presented ${b.fp}`);
  expect(s.auths).toBe(0);
});

test("a known_hosts file (hashed) names the key; a host missing from it falls back to the recorded key", async () => {
  const s = await start([b]);
  const file = path.join(dir, "known_hosts");
  fs.writeFileSync(file, `[127.0.0.1]:${s.port} ${a.pub}\n`);
  execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
  const e = await connect(conn(s.port, { knownHostsPath: file })).catch((x) => x);
  expect(e.message).toContain(`listed in ${file} ${a.fp}, host presented ${b.fp}`);
  expect(e.message).toContain(`or by updating ${file}`);
  expect(s.auths).toBe(0);
  fs.writeFileSync(file, `[127.0.0.1]:${s.port + 1} ${a.pub}\n`);
  await expect(connect(conn(s.port, { knownHostsPath: file }), { recorded: { target: a.fp } })).rejects.toThrow(/recorded in state/);
  await expect(connect(conn(s.port, { knownHostsPath: path.join(dir, "missing") }))).rejects.toThrow(
    /connection\.knownHostsPath: cannot read/,
  );
});

test("a key pinned or listed by type is asked for first, so an ecdsa key matches on a host that also has ed25519", async () => {
  const s = await start([a, ecdsa]);
  expect((await connect(conn(s.port))).fingerprint).toBe(a.fp);
  expect((await connect(conn(s.port, { hostKey: ecdsa.pub }))).fingerprint).toBe(ecdsa.fp);
  const file = path.join(dir, "known_hosts_ecdsa");
  fs.writeFileSync(file, `[127.0.0.1]:${s.port} ${ecdsa.pub}\n`);
  expect((await connect(conn(s.port, { knownHostsPath: file }))).fingerprint).toBe(ecdsa.fp);
});

test("registry: a key seen for host:port by one resource is expected by another with no key of its own", async () => {
  let s = await start([a]);
  await connect(conn(s.port));
  s = await rotate(s, [b]);
  // Other credentials, so not the pooled connection: a fresh dial, refused by what the first one saw.
  const other = keygen("other-client");
  const e = await connect(conn(s.port, { privateKey: fs.readFileSync(other.file, "utf8") })).catch((x) => x);
  expect(e).toBeInstanceOf(HostKeyMismatchError);
  expect(e.message).toContain(`seen earlier by this provider on the same host ${a.fp}, host presented ${b.fp}`);
  expect(s.auths).toBe(0);
});

test("stack: a key other resources recorded for the host is what a new resource's first contact must see", async () => {
  let s = await start([a]);
  const recorded = (await connect(conn(s.port))).fingerprint;
  s = await rotate(s, [b]);
  forgetSeenHostKeys(); // a later pulumi run: a new provider process
  rememberStackKeys({ host: "127.0.0.1", port: s.port }, { target: recorded }); // what diff of an existing resource does
  const e = await connect(conn(s.port)).catch((x) => x); // a new resource: nothing recorded of its own
  expect(e).toBeInstanceOf(HostKeyMismatchError);
  expect(e.message).toContain(`host presented ${b.fp}`);
  expect(e.message).toContain("no credential was sent");
  expect(s.auths).toBe(0);
});

test("a shared connection reused with another expectation is refused without claiming nothing was sent", async () => {
  const s = await start([a]);
  await connect(conn(s.port));
  const e = await connect(conn(s.port), { recorded: { target: b.fp } }).catch((x) => x);
  expect(e).toBeInstanceOf(HostKeyMismatchError);
  expect(e.message).toContain(`recorded in state ${b.fp}, host presented ${a.fp}`);
  expect(e.message).not.toContain("no credential was sent");
});

describe("through a jump host", () => {
  test("the jump host's key is recorded and enforced before authenticating to it; the target is never reached", async () => {
    const target = await start([a]);
    let jump = await start([jumpOld]);
    const via = (extra: Record<string, unknown> = {}) =>
      conn(target.port, { proxy: { host: "127.0.0.1", port: jump.port, privateKey: fs.readFileSync(client.file, "utf8"), ...extra } });
    const first = await connect(via());
    expect([first.fingerprint, first.proxyFingerprint]).toEqual([a.fp, jumpOld.fp]);
    const recorded = { target: first.fingerprint, proxy: first.proxyFingerprint };

    forgetSeenHostKeys(); // a later pulumi run: a new provider process knows only the state
    jump = await rotate(jump, [jumpNew]);
    const targetAuths = target.auths;
    const e = await connect(via(), { recorded }).catch((x) => x);
    expect(e).toBeInstanceOf(HostKeyMismatchError);
    expect(e.message).toContain(
      `root@127.0.0.1:${jump.port} (jump host): host key changed: recorded in state ${jumpOld.fp}, host presented ${jumpNew.fp}.`,
    );
    expect(e.message).toContain(`connection.proxy.hostKey to "${jumpNew.fp}"`);
    expect(e.message).toContain("no credential was sent");
    expect(jump.auths).toBe(0);
    expect(target.auths).toBe(targetAuths);

    const pinned = await connect(via({ hostKey: jumpNew.fp }), { recorded });
    expect([pinned.fingerprint, pinned.proxyFingerprint]).toEqual([a.fp, jumpNew.fp]);
  });

  test("the target behind the jump host is checked too, as its own route", async () => {
    const target = await start([b]);
    const jump = await start([jumpOld]);
    const c = conn(target.port, { proxy: { host: "127.0.0.1", port: jump.port, privateKey: fs.readFileSync(client.file, "utf8") } });
    const e = await connect(c, { recorded: { target: a.fp } }).catch((x) => x);
    expect(e.message).toContain(`root@127.0.0.1:${target.port}: host key changed: recorded in state ${a.fp}, host presented ${b.fp}`);
    expect(e.message).not.toContain("jump host");
    expect(target.auths).toBe(0);
    expect(jump.auths).toBeGreaterThan(0); // the jump host itself was fine
  });
});
