// The SSH transport: every remote command of pulumi-lvs goes through here.
// One connection per (user, host, port, credentials), shared by all resources in
// the provider process, with a per-host concurrency limit, dial retries with
// backoff, jump hosts, host-key checks and sudo. Errors name user@host:port and
// the cause, never a secret.
import { createHash } from "crypto";
import { NodeSSH, Config as SshConfig } from "node-ssh";
import pLimit from "p-limit";
import type { Readable } from "stream";
import { Connection, ProxyConnection } from "../model";
import { wrap } from "./commands";

/** Concurrent commands per host: well under OpenSSH's default MaxSessions (10). */
const PER_HOST_CONCURRENCY = 4;

export type Log = (message: string) => void;

/** `SHA256:...` as `ssh-keygen -lf` prints it, from the key blob ssh2 hands the verifier. */
export const fingerprintOf = (keyBlob: Buffer): string =>
  "SHA256:" + createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "");

/** Normalizes a pinned host key: an OpenSSH public key line or a SHA256 fingerprint. */
export function expectedFingerprint(hostKey: string): string {
  const t = hostKey.trim();
  if (t.startsWith("SHA256:")) return t.replace(/=+$/, "");
  const blob = t.split(/\s+/).find((w) => /^AAAA[A-Za-z0-9+/=]+$/.test(w));
  if (!blob) throw new Error(`connection.hostKey: expected "ssh-<type> AAAA..." or "SHA256:...", got ${JSON.stringify(t.slice(0, 40))}`);
  return fingerprintOf(Buffer.from(blob, "base64"));
}

export const label = (c: ProxyConnection): string => `${c.user}@${c.host}:${c.port}`;

export class HostKeyMismatchError extends Error {
  constructor(target: string, expected: string, presented: string, pinned: boolean) {
    super(
      `${target}: host key changed: ${pinned ? "pinned (connection.hostKey)" : "recorded in state"} ${expected}, host presented ${presented}. ` +
        `Nothing was run. If the host was rebuilt on purpose, accept the new key by setting connection.hostKey to "${presented}"` +
        (pinned ? "." : " (then run pulumi up).") + " Otherwise treat this as a possible man-in-the-middle.",
    );
  }
}

export class RemoteCommandError extends Error {
  constructor(target: string, public readonly summary: string, public readonly exitCode: number | null, public readonly stderr: string) {
    super(`${target}: \`${summary}\` failed (exit ${exitCode}): ${stderr.trim() || "(no output on stderr)"}`);
  }
}

/** A live, shared connection to one host. */
export class Host {
  private readonly limit = pLimit(PER_HOST_CONCURRENCY);
  constructor(readonly target: string, readonly ssh: NodeSSH, readonly fingerprint: string, private readonly sudo: boolean) {}

  /** Opens a TCP channel through this host (when it serves as a jump host). */
  forward(host: string, port: number): Promise<Readable> {
    const client = this.ssh.connection;
    if (!client) return Promise.reject(new Error(`${this.target}: jump host connection is closed`));
    return new Promise((resolve, reject) =>
      client.forwardOut("127.0.0.1", 0, host, port, (err, stream) =>
        err ? reject(new Error(`${this.target}: jump host cannot reach ${host}:${port}: ${err.message}`)) : resolve(stream)),
    );
  }

  /**
   * Runs a script and returns its stdout; throws RemoteCommandError on a non-zero exit.
   * `lock` serializes writers on the host; `summary` is what errors show (never secrets).
   */
  run(script: string, opts: { lock?: boolean; summary?: string; allowFail?: boolean } = {}): Promise<string> {
    return this.limit(async () => {
      const cmd = wrap(script, { sudo: this.sudo, lock: !!opts.lock });
      const r = await this.ssh.execCommand(cmd);
      if (this.sudo && /sudo: (a password is required|a terminal is required)/.test(r.stderr)) {
        throw new Error(`${this.target}: sudo wants a password; pulumi-lvs runs commands with \`sudo -n\`, so grant this user passwordless sudo (NOPASSWD) or connect as root`);
      }
      if (r.code !== 0 && !opts.allowFail) {
        throw new RemoteCommandError(this.target, opts.summary ?? script.split("\n").filter((l) => l !== "set -e")[0], r.code, r.stderr);
      }
      return r.stdout;
    });
  }

  /** Host-key check before any command runs: refuses a key other than the pinned or recorded one. */
  verify(c: Connection, recorded?: string): void {
    const pinned = c.hostKey ? expectedFingerprint(c.hostKey) : undefined;
    const expected = pinned ?? recorded;
    if (expected && expected !== this.fingerprint) throw new HostKeyMismatchError(this.target, expected, this.fingerprint, !!pinned);
  }
}

const pool = new Map<string, Promise<Host>>();

function poolKey(c: ProxyConnection & { proxy?: ProxyConnection }): string {
  const secret = createHash("sha256").update(`${c.privateKey ?? ""}\0${c.password ?? ""}\0${c.agentSocketPath ?? ""}`).digest("hex");
  return `${label(c)}#${secret}` + (c.proxy ? `via(${poolKey(c.proxy)})` : "");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects once (one attempt), verifying the host key as the handshake presents it. */
async function dialOnce(c: ProxyConnection, sock: Readable | undefined, pinned: string | undefined): Promise<{ ssh: NodeSSH; fingerprint: string }> {
  const ssh = new NodeSSH();
  let fingerprint = "";
  const config: SshConfig = {
    host: c.host, port: c.port, username: c.user,
    password: c.password, privateKey: c.privateKey, passphrase: c.privateKeyPassword,
    agent: c.agentSocketPath ?? process.env.SSH_AUTH_SOCK,
    readyTimeout: c.perDialTimeout > 0 ? c.perDialTimeout * 1000 : 2 ** 31 - 1,
    keepaliveInterval: 15000,
    sock,
    hostVerifier: (key: Buffer) => {
      fingerprint = fingerprintOf(key);
      return !pinned || pinned === fingerprint;
    },
  };
  try {
    await ssh.connect(config);
  } catch (e) {
    ssh.dispose();
    if (pinned && fingerprint && pinned !== fingerprint) throw new HostKeyMismatchError(label(c), pinned, fingerprint, true);
    throw e;
  }
  return { ssh, fingerprint };
}

/** Dials with retries: a host that was just created may not accept SSH yet. */
async function dial(c: ProxyConnection, proxy: Host | undefined, log: Log): Promise<{ ssh: NodeSSH; fingerprint: string }> {
  const limit = c.dialErrorLimit < 0 ? Infinity : Math.max(1, c.dialErrorLimit);
  const pinned = c.hostKey ? expectedFingerprint(c.hostKey) : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const sock = proxy ? await proxy.forward(c.host, c.port) : undefined;
      return await dialOnce(c, sock, pinned);
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
      log(`${label(c)}: not reachable yet (attempt ${attempt}/${limit === Infinity ? "unlimited" : limit}: ${cause}); retrying in ${wait / 1000}s`);
      await sleep(wait);
    }
  }
}

/**
 * The shared connection for `c` (dialing, through `c.proxy` if set, on first use), checked
 * against the pinned host key or the one `recorded` in state before it is returned.
 */
export async function connect(c: Connection, opts: { recorded?: string; log?: Log } = {}): Promise<Host> {
  const log = opts.log ?? (() => undefined);
  const key = poolKey(c);
  let p = pool.get(key);
  if (!p) {
    p = (async () => {
      const proxy = c.proxy ? await connect(c.proxy, { log }) : undefined;
      const { ssh, fingerprint } = await dial(c, proxy, log);
      const host = new Host(label(c), ssh, fingerprint, c.user !== "root");
      // Without a handler an error on an idle pooled connection would crash the provider process.
      ssh.connection?.on("error", () => pool.delete(key));
      ssh.connection?.on("close", () => pool.delete(key));
      return host;
    })();
    pool.set(key, p);
    p.catch(() => pool.delete(key));
  }
  const host = await p;
  host.verify(c, opts.recorded);
  return host;
}

