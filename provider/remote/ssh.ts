// The SSH transport: every remote command of pulumi-lvs goes through here.
// One connection per (user, host, port, credentials), shared by all resources in
// the provider process (one queue per machine sends one transaction at a time, each over the
// connection its operations came with), with
// dial retries with backoff, jump hosts, host-key checks and sudo. Errors name user@host:port and
// the cause, never a secret. Host keys are checked during the handshake, before
// authentication, for the target and the jump host (host-keys.ts).
import { createHash } from "crypto";
import { hostname } from "os";
import type { NodeSSH, Config as SshConfig } from "node-ssh";
import type { Readable } from "stream";
import { Connection, ProxyConnection } from "../model";
import { LOCK_TIMEOUT, wrap } from "./commands";
import { sessionCommand } from "./session-host";
import { RemoteCommandError, Session } from "./session";
import {
  Expectation,
  HostKey,
  HostKeyCheck,
  HostKeyMismatchError,
  Hop,
  expectedKeys,
  preferredAlgorithms,
  readKnownHosts,
  rememberHostKey,
  rememberRecordedKey,
} from "./host-keys";

export { HostKeyMismatchError, expectedFingerprint, fingerprintOf } from "./host-keys";

/** Seconds a transaction may take once it holds the host lock (installing keepalived is the slowest step). */
const TRANSACTION_BUDGET = 600;

export type Log = (message: string) => void;

export const label = (c: ProxyConnection): string => `${c.user}@${c.host}:${c.port}`;

/** The stack this process works for, from the first resource URN it sees (one provider process serves one stack). */
let stack: string | undefined;
export function noteOwner(urn: string): void {
  stack ??= /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}
/** Who we are, as recorded beside the host lock while a transaction holds it. */
const holderOf = (summary: string) => `${stack ? `stack ${stack}` : "pulumi-lvs"} (pid ${process.pid} on ${hostname()}): ${summary}`;

/** Host-key fingerprints recorded in state: the target's, and the jump host's when there is one. */
export interface Recorded {
  target?: string;
  proxy?: string;
}

export { RemoteCommandError, Session };

/** A shared connection to one host, which dials again when it died between two uses. */
export class Host {
  /** The connection closed or failed (a reboot, a dropped link): the next use dials again. */
  private dead = false;
  /** Why the connection died (ssh2's error, e.g. "Keepalive timeout"), for the error of what it cut off. */
  private lost?: string;
  private redialing?: Promise<void>;

  /**
   * `key` is the host key this connection was opened with; `proxy` the jump host it goes
   * through, when `connection.proxy` is set; `redial` dials the same hop again (with the same
   * trust: only this key is accepted, and within dialErrorLimit).
   */
  constructor(
    readonly target: string,
    public ssh: NodeSSH,
    readonly key: HostKey,
    private readonly sudo: boolean,
    /** Seconds a transaction waits for the host lock (connection.lockTimeout of the resource that dialed). */
    readonly lockTimeout: number,
    private readonly redial: () => Promise<NodeSSH>,
    readonly proxy?: Host,
  ) {
    this.watch();
  }

  /** Without an error handler an error on an idle connection would crash the provider process. */
  private watch(): void {
    this.lost = undefined;
    const died = (e?: Error) => {
      this.dead = true;
      this.lost ??= e?.message ?? "closed by the host";
    };
    this.ssh.connection?.on("error", died);
    this.ssh.connection?.on("close", () => died());
  }

  /** The live client: dialed again first if the connection died since its last use (once for all waiting callers). */
  private async client() {
    if (this.dead || !this.ssh.connection) {
      this.redialing ??= (async () => {
        this.ssh.dispose();
        this.ssh = await this.redial();
        this.dead = false;
        this.watch();
      })().finally(() => (this.redialing = undefined));
      await this.redialing;
    }
    return this.ssh.connection!;
  }

  /** The machine this reaches, whoever logs in: host:port, and the jump host's machine when there is one. */
  get machine(): string {
    return this.target.slice(this.target.lastIndexOf("@") + 1) + (this.proxy ? ` via ${this.proxy.machine}` : "");
  }

  /** The host key's fingerprint (what state records as hostKeyFingerprint). */
  get fingerprint(): string {
    return this.key.fingerprint;
  }

  /** The jump host's key fingerprint, when this connection goes through one. */
  get proxyFingerprint(): string | undefined {
    return this.proxy?.fingerprint;
  }

  /** Opens a TCP channel through this host (when it serves as a jump host). */
  async forward(host: string, port: number): Promise<Readable> {
    const client = await this.client();
    return new Promise((resolve, reject) =>
      client.forwardOut("127.0.0.1", 0, host, port, (err, stream) =>
        err ? reject(new Error(`${this.target}: jump host cannot reach ${host}:${port}: ${err.message}`)) : resolve(stream),
      ),
    );
  }

  /**
   * Opens one locked session in one exec channel (remote/session.ts): the host lock is taken and
   * `read` runs; its output is the session's read(). Each write runs with the lock still held,
   * so nothing can change on the host between a read and the write decided on it. `reread`: what
   * the host reads after a round of rules only; `readOnly`: the session ends after its read (see
   * session-host.sessionCommand).
   */
  async open(read: string, summary: string, how: { reread?: string; readOnly?: boolean } = {}): Promise<Session> {
    const client = await this.client();
    return new Promise((resolve, reject) => {
      const command = wrap(sessionCommand(read, how), {
        sudo: this.sudo,
        lockTimeout: this.lockTimeout,
        holder: holderOf(summary),
      });
      client.exec(command, (err, stream) => {
        if (err) return reject(new Error(`${this.target}: cannot start \`${summary}\`: ${err.message}`));
        const ctx = {
          target: this.target,
          summary,
          sudo: this.sudo,
          lost: () => (this.dead ? this.lost : undefined),
          abandon: () => this.ssh.dispose(),
        };
        resolve(new Session(stream, ctx, this.lockTimeout + TRANSACTION_BUDGET, TRANSACTION_BUDGET));
      });
    });
  }

  /**
   * One locked read that writes nothing (refresh, scan): the host runs `read` under the lock and
   * the session ends; no script can run in it.
   */
  async readOnce(read: string, summary: string): Promise<string> {
    const session = await this.open(read, summary, { readOnly: true });
    try {
      return await session.read();
    } finally {
      await session.close();
    }
  }

  /**
   * For a connection opened by another caller (resources with the same credentials share it):
   * refuses it when its keys, the target's and the jump host's, are not what `c` expects, e.g.
   * this resource's state records another key. Its handshake is over, so this only compares:
   * nothing new is sent either way.
   */
  verify(c: Connection, recorded: Recorded = {}, hop: Hop = "target"): void {
    const expected = trustOf(c, hop, recorded.target).expect();
    if (expected && !expected.fingerprints.includes(this.fingerprint)) {
      throw new HostKeyMismatchError({ target: this.target, hop, expected, presented: this.key, shared: true });
    }
    if (c.proxy && this.proxy) this.proxy.verify(c.proxy, { target: recorded.proxy }, "proxy");
  }
}

/** What one hop must present (host-keys.ts); `expect` consults the registry each time it is called. */
interface Trust {
  hop: Hop;
  route: string;
  expect: () => Expectation | undefined;
}

/** Whether `c` names the key its host must present (pinned or in known_hosts): tools refuse first contact. */
export const knowsHostKey = (c: Connection, hop: Hop = "target"): boolean => trustOf(c, hop, undefined).expect() !== undefined;

/** Where a host is reached from: the same private address behind two jump hosts may be two machines. */
const routeOf = (c: Pick<Connection, "host" | "port" | "proxy">): string =>
  `${c.host}:${c.port}` + (c.proxy ? ` via ${c.proxy.host}:${c.proxy.port}` : "");

/** Makes the keys a resource recorded in state expected for every resource on the same hosts (see host-keys.ts). */
export function rememberStackKeys(c: Pick<Connection, "host" | "port" | "proxy">, recorded: { target?: string; proxy?: string }): void {
  if (recorded.target) rememberRecordedKey(routeOf(c), recorded.target);
  if (c.proxy && recorded.proxy) rememberRecordedKey(routeOf(c.proxy), recorded.proxy);
}

function trustOf(c: Connection, hop: Hop, recorded: string | undefined): Trust {
  const field = `${label(c)}: connection${hop === "proxy" ? ".proxy" : ""}.knownHostsPath`;
  // Read once per connect: a file that changes mid-run applies from the next operation on.
  const knownHosts = c.knownHostsPath ? readKnownHosts(c.knownHostsPath, field) : undefined;
  const route = routeOf(c);
  return { hop, route, expect: () => expectedKeys(c, route, recorded, knownHosts) };
}

const pool = new Map<string, Promise<Host>>();

function poolKey(c: Connection): string {
  const secret = createHash("sha256")
    .update(`${c.privateKey ?? ""}\0${c.password ?? ""}\0${c.agentSocketPath ?? ""}`)
    .digest("hex");
  return `${label(c)}#${secret}` + (c.proxy ? `via(${poolKey(c.proxy)})` : "");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The authentication methods a dial tries, in ssh2's own order, without its opening `none`
 * attempt: that one only asks the server which methods it takes, a round trip on every dial (50
 * ms over a WAN) that a configured credential makes useless. With no credential at all, ssh2's
 * default (undefined): `none` is then all there is to try.
 */
export function authMethods(c: {
  password?: string;
  privateKey?: string;
  agent?: string;
}): ("password" | "publickey" | "agent")[] | undefined {
  const methods = [
    ...(c.password !== undefined ? (["password"] as const) : []),
    ...(c.privateKey !== undefined ? (["publickey"] as const) : []),
    ...(c.agent ? (["agent"] as const) : []),
  ];
  return methods.length ? methods : undefined;
}

/** Connects once (one attempt); the host key is checked as the handshake presents it, before authentication. */
async function dialOnce(c: ProxyConnection, trust: Trust, sock: Readable | undefined, log: Log): Promise<{ ssh: NodeSSH; key: HostKey }> {
  // Loaded at the first dial, not with the provider: a run that connects nowhere (a no-op up, a
  // preview) does not pay for ssh2's load (about 70 ms).
  const ssh = new (await import("node-ssh")).NodeSSH();
  const check = new HostKeyCheck(trust.expect);
  const prefer = preferredAlgorithms(trust.expect());
  const agent = c.agentSocketPath ?? process.env.SSH_AUTH_SOCK;
  const config: SshConfig = {
    host: c.host,
    port: c.port,
    username: c.user,
    password: c.password,
    privateKey: c.privateKey,
    passphrase: c.privateKeyPassword,
    agent,
    authHandler: authMethods({ password: c.password, privateKey: c.privateKey, agent }),
    readyTimeout: c.perDialTimeout > 0 ? c.perDialTimeout * 1000 : 2 ** 31 - 1,
    // A half-open session (a frozen host, a NAT that dropped the flow) is noticed within ~15 s.
    keepaliveInterval: 5000,
    keepaliveCountMax: 3,
    sock,
    hostVerifier: check.verifier,
    // The expected key types first, then ssh2's usual order (so another key still shows up, and is refused by name).
    algorithms: prefer.length ? { serverHostKey: { remove: prefer, prepend: prefer, append: [] } } : undefined,
  };
  try {
    await ssh.connect(config);
  } catch (e) {
    ssh.dispose();
    if (check.refused && check.presented) {
      throw new HostKeyMismatchError({ target: label(c), hop: trust.hop, expected: check.refused, presented: check.presented });
    }
    throw e;
  }
  const key = check.presented!;
  if (!trust.expect()) {
    log(
      `${label(c)}: first contact${trust.hop === "proxy" ? " with this jump host" : ""}: trusting its host key ${key.fingerprint} (${key.type}); ` +
        `pin it with connection${trust.hop === "proxy" ? ".proxy" : ""}.hostKey or knownHostsPath to check it from the first connection on`,
    );
  }
  // Authenticated, so the host proved it holds this key: other resources on this route now expect it.
  rememberHostKey(trust.route, key);
  return { ssh, key };
}

/** Dials with retries: a host that was just created may not accept SSH yet. */
async function dial(c: ProxyConnection, trust: Trust, proxy: Host | undefined, log: Log): Promise<{ ssh: NodeSSH; key: HostKey }> {
  const limit = c.dialErrorLimit < 0 ? Infinity : Math.max(1, c.dialErrorLimit);
  for (let attempt = 1; ; attempt++) {
    try {
      const sock = proxy ? await proxy.forward(c.host, c.port) : undefined;
      return await dialOnce(c, trust, sock, log);
    } catch (e) {
      // Retrying cannot fix these: a wrong key or credentials, an unreadable key, a changed host key.
      if (e instanceof HostKeyMismatchError) throw e;
      if (/authentication methods failed|All configured authentication/i.test(String(e))) {
        throw new Error(`${label(c)}: authentication failed: ${(e as Error).message}`);
      }
      if (/Cannot parse privateKey|Encrypted private (OpenSSH )?key detected|passphrase/i.test(String(e))) {
        throw new Error(`${label(c)}: connection.privateKey cannot be used: ${(e as Error).message} (is privateKeyPassword right?)`);
      }
      const cause = (e as Error).message;
      if (attempt >= limit) {
        throw new Error(`${label(c)}: cannot connect after ${attempt} attempt(s)${proxy ? ` via ${proxy.target}` : ""}: ${cause}`);
      }
      const wait = Math.min(1000 * 2 ** (attempt - 1), 10000);
      log(
        `${label(c)}: not reachable yet (attempt ${attempt}/${limit === Infinity ? "unlimited" : limit}: ${cause}); retrying in ${wait / 1000}s`,
      );
      await sleep(wait);
    }
  }
}

/** The shared connection to one hop: dialed on first use (through its jump host, if any), else reused and re-checked. */
async function open(c: Connection, hop: Hop, recorded: Recorded, log: Log): Promise<Host> {
  const trust = trustOf(c, hop, recorded.target);
  // Connections configured to ask for other key types (a pinned key line, known_hosts) may be
  // presented another of the host's keys: they are not shared. Types learnt from the registry
  // are left out: they are those of the pooled connection itself.
  const own = trust.expect();
  const types = own?.source === "pinned" || own?.source === "known_hosts" ? preferredAlgorithms(own).join(",") : "";
  const key = `${poolKey(c)}#${types}`;
  const pooled = pool.get(key);
  if (pooled) {
    const host = await pooled;
    host.verify(c, recorded, hop);
    return host;
  }
  const p = (async () => {
    const proxy = c.proxy ? await open(c.proxy, "proxy", { target: recorded.proxy }, log) : undefined;
    const { ssh, key: hostKey } = await dial(c, trust, proxy, log);
    // Dialing again accepts only the key this connection proved it holds (the registry
    // remembers it for this route), through the jump host's own (revived) connection.
    const redial = async () => {
      log(`${label(c)}: the connection was lost; dialing again`);
      return (await dial(c, trust, proxy, log)).ssh;
    };
    return new Host(label(c), ssh, hostKey, c.user !== "root", c.lockTimeout ?? LOCK_TIMEOUT, redial, proxy);
  })();
  pool.set(key, p);
  p.catch(() => pool.get(key) === p && pool.delete(key));
  return p;
}

/**
 * The shared connection for `c`, through `c.proxy` if set. Each hop must present its expected
 * key during the handshake (host-keys.ts: pinned, known_hosts, `recorded` in state, or seen by
 * this process); any other key fails with HostKeyMismatchError before a credential is sent.
 */
export function connect(c: Connection, opts: { recorded?: Recorded; log?: Log } = {}): Promise<Host> {
  return open(c, "target", opts.recorded ?? {}, opts.log ?? (() => undefined));
}

/** Closes every pooled connection (tests; a process that is done with its hosts). */
export function disconnectAll(): void {
  for (const p of pool.values())
    p.then(
      (h) => h.ssh.dispose(),
      () => undefined,
    );
  pool.clear();
}
