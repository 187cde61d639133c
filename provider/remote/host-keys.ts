// Host keys: which key a host must present, checked inside the SSH handshake (ssh2's
// hostVerifier), before the client authenticates. A refusal there ends the connection
// before any password, key signature or command is sent.
//
// The expected key of a hop (the target, or the jump host in connection.proxy), first that applies:
//   1. `hostKey`, pinned by the operator;
//   2. the host's entries in the OpenSSH known_hosts file at `knownHostsPath`;
//   3. the fingerprint recorded in state when the resource was created;
//   4. a key this provider process already accepted for the same host and route (the registry):
//      every resource on a host trusts what the first one to reach it saw, so a resource being
//      created cannot be the one that trusts an impostor when its neighbours know the real key.
// When none applies (first contact with a new host) any key is accepted, then recorded.
import type { ServerHostKeyAlgorithm } from "ssh2";
import { createHash, createHmac } from "crypto";
import * as fs from "fs";
import * as os from "os";
import type { ProxyConnection } from "../model";

/** Which hop of a connection: the host itself, or the jump host it is reached through. */
export type Hop = "target" | "proxy";

/** `SHA256:...` as `ssh-keygen -lf` prints it, from the key blob ssh2 hands the verifier. */
export const fingerprintOf = (keyBlob: Buffer): string =>
  "SHA256:" + createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "");

/** A public host key: its type, fingerprint, and `type base64` line as a .pub or known_hosts file has it. */
export interface HostKey {
  type: string;
  fingerprint: string;
  line: string;
}

/** The key a host presented: the type is the first string of the SSH wire-format blob. */
export function hostKeyOf(blob: Buffer): HostKey {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + len).toString("latin1");
  return { type, fingerprint: fingerprintOf(blob), line: `${type} ${blob.toString("base64")}` };
}

const BASE64_BLOB = /^AAAA[A-Za-z0-9+/]+={0,3}$/;

/** A pinned host key (an OpenSSH public key line or a SHA256 fingerprint): its fingerprint, and its type when a line. */
function pinnedKey(hostKey: string): { fingerprint: string; type?: string } {
  const t = hostKey.trim();
  if (t.startsWith("SHA256:")) return { fingerprint: t.replace(/=+$/, "") };
  const words = t.split(/\s+/);
  const at = words.findIndex((w) => BASE64_BLOB.test(w));
  if (at < 0) throw new Error(`connection.hostKey: expected "ssh-<type> AAAA..." or "SHA256:...", got ${JSON.stringify(t.slice(0, 40))}`);
  return { fingerprint: fingerprintOf(Buffer.from(words[at], "base64")), type: at > 0 ? words[at - 1] : undefined };
}

/** Normalizes a pinned host key: an OpenSSH public key line or a SHA256 fingerprint. */
export const expectedFingerprint = (hostKey: string): string => pinnedKey(hostKey).fingerprint;

// --- known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") ---

/** How known_hosts names a host: `host` on port 22, `[host]:port` on any other, lower case (as ssh looks it up). */
export const knownHostsName = (host: string, port: number): string =>
  port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;

/** One pattern of a host field: hashed (`|1|base64 salt|base64 HMAC-SHA1 of the name`), or plain with `*` and `?`. */
function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [salt, hash] = pattern.slice(3).split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  const glob = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${glob}$`).test(name);
}

/** A host field: comma-separated patterns; a negated one (`!pattern`) that matches rules the line out. */
function hostFieldMatches(field: string, name: string): boolean {
  let hit = false;
  for (const p of field.split(",")) {
    if (p.startsWith("!")) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) hit = true;
  }
  return hit;
}

/**
 * The keys a known_hosts text lists for host:port. Comments and marker lines are skipped:
 * `@cert-authority` lines name a CA, not a host key, and `@revoked` lines never make a key expected.
 */
export function knownHostsKeys(text: string, host: string, port: number): HostKey[] {
  const name = knownHostsName(host, port);
  const keys: HostKey[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("@")) continue;
    const [hosts, type, blob] = line.split(/\s+/);
    if (!blob || !BASE64_BLOB.test(blob) || !hostFieldMatches(hosts, name)) continue;
    keys.push({ type, fingerprint: fingerprintOf(Buffer.from(blob, "base64")), line: `${type} ${blob}` });
  }
  return keys;
}

/** Reads a known_hosts file (`~/` expanded). A file that was named but cannot be read is an error, never "no entry". */
export function readKnownHosts(file: string, field: string): string {
  const resolved = file.startsWith("~/") ? os.homedir() + file.slice(1) : file;
  try {
    return fs.readFileSync(resolved, "utf8");
  } catch (e) {
    throw new Error(`${field}: cannot read ${JSON.stringify(file)}: ${(e as Error).message}`);
  }
}

// --- the registry: keys this provider process has accepted ---

/**
 * Keys accepted per route (`host:port`, or `host:port via jump:port`: the same private address
 * behind two jump hosts may be two machines), at most one per key type.
 */
const seen = new Map<string, HostKey[]>();

/** Records a key a host proved it holds (the handshake completed). */
export function rememberHostKey(route: string, key: HostKey): void {
  seen.set(route, [...(seen.get(route) ?? []).filter((k) => k.type !== key.type), key]);
}
export const seenHostKeys = (route: string): HostKey[] => seen.get(route) ?? [];
/**
 * Fingerprints that other resources of the stack recorded in state for a route. The engine
 * diffs every existing resource before it creates new ones, so a new resource on a known host
 * is checked against what the stack knows even on its first contact in this process.
 */
const recordedByStack = new Map<string, Set<string>>();
export function rememberRecordedKey(route: string, fingerprint: string): void {
  recordedByStack.set(route, (recordedByStack.get(route) ?? new Set()).add(fingerprint.replace(/=+$/, "")));
}
/** Empties the registry (tests). */
export const forgetSeenHostKeys = (): void => {
  seen.clear();
  recordedByStack.clear();
};

// --- what a hop must present ---

export type KeySource = "pinned" | "known_hosts" | "recorded" | "seen";
export interface Expectation {
  source: KeySource;
  /** Any one of these is accepted (a known_hosts file may list a key per type). */
  fingerprints: string[];
  /** The expected keys' types, when known: offered first in the handshake so the host presents one of them. */
  types: string[];
  /** The known_hosts file, for messages. */
  file?: string;
}

const unique = <T>(l: T[]): T[] => [...new Set(l)];

/**
 * What `c` must present, or undefined on first contact. `knownHosts` is the text of
 * `c.knownHostsPath`; `recorded` the fingerprint in state; `route` keys the registry.
 */
export function expectedKeys(
  c: Pick<ProxyConnection, "host" | "port" | "hostKey" | "knownHostsPath">,
  route: string,
  recorded?: string,
  knownHosts?: string,
): Expectation | undefined {
  if (c.hostKey) {
    const k = pinnedKey(c.hostKey);
    return { source: "pinned", fingerprints: [k.fingerprint], types: k.type ? [k.type] : [] };
  }
  const listed = knownHosts === undefined ? [] : knownHostsKeys(knownHosts, c.host, c.port);
  if (listed.length) {
    return {
      source: "known_hosts",
      fingerprints: unique(listed.map((k) => k.fingerprint)),
      types: unique(listed.map((k) => k.type)),
      file: c.knownHostsPath,
    };
  }
  if (recorded) return { source: "recorded", fingerprints: [recorded.replace(/=+$/, "")], types: [] };
  const known = seenHostKeys(route);
  if (known.length) return { source: "seen", fingerprints: known.map((k) => k.fingerprint), types: known.map((k) => k.type) };
  const stack = recordedByStack.get(route);
  if (stack?.size) return { source: "recorded", fingerprints: [...stack], types: [] };
  return undefined;
}

/** ssh2's host key algorithms per key type (an RSA key signs with SHA-2 or SHA-1); other types ssh2 cannot use. */
const ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * Host key algorithms to offer first: a host with several keys presents the one of the first
 * algorithm both sides know, so asking for the expected type first is what makes a known
 * ecdsa key match on a host that also has an ed25519 one (OpenSSH orders them the same way).
 */
export const preferredAlgorithms = (e: Expectation | undefined): ServerHostKeyAlgorithm[] =>
  unique((e?.types ?? []).flatMap((t) => ALGORITHMS[t] ?? []));

/**
 * ssh2's hostVerifier for one dial. The expectation is read when the host presents its key, not
 * when dialing starts, so a key another resource accepted meanwhile counts. Returning false makes
 * ssh2 end the handshake before authentication.
 */
export class HostKeyCheck {
  /** The key the host presented, once the handshake got there. */
  presented?: HostKey;
  /** Set when the verifier refused: the expectation the key failed. */
  refused?: Expectation;

  constructor(private readonly expect: () => Expectation | undefined) {}

  readonly verifier = (blob: Buffer): boolean => {
    const key = hostKeyOf(blob);
    // A later key exchange on the same connection (rekeying) must present the key accepted first.
    if (this.presented && !this.refused) return key.fingerprint === this.presented.fingerprint;
    this.presented = key;
    const e = this.expect();
    if (e && !e.fingerprints.includes(key.fingerprint)) this.refused = e;
    return !this.refused;
  };
}

export interface Mismatch {
  /** user@host:port of the hop. */
  target: string;
  hop: Hop;
  expected: Expectation;
  presented: HostKey;
  /**
   * The connection had been opened earlier in this process for another resource (same
   * credentials), so the key is compared afterwards: nothing new was sent, but credentials were.
   */
  shared?: boolean;
}

export class HostKeyMismatchError extends Error {
  constructor(readonly mismatch: Mismatch) {
    super(describe(mismatch));
  }
}

function describe({ target, hop, expected, presented, shared }: Mismatch): string {
  const field = hop === "proxy" ? "connection.proxy.hostKey" : "connection.hostKey";
  const from = {
    pinned: `pinned (${field})`,
    known_hosts: `listed in ${expected.file}`,
    recorded: "recorded in state",
    seen: "seen earlier by this provider on the same host",
  }[expected.source];
  // A bare fingerprint says nothing of the key type to ask for; when a type was asked for, suggest the whole key.
  const accept = expected.types.length ? presented.line : presented.fingerprint;
  return (
    `${target}${hop === "proxy" ? " (jump host)" : ""}: host key changed: ${from} ${expected.fingerprints.join(" or ")}, host presented ${presented.fingerprint}. ` +
    (shared
      ? "Nothing was run for this resource, and nothing new was sent: the connection it would use was opened earlier in this run for another resource. "
      : "Nothing was run and no credential was sent. ") +
    `If the ${hop === "proxy" ? "jump host" : "host"} was rebuilt on purpose, accept the new key by setting ${field} to "${accept}"` +
    (expected.source === "known_hosts" ? ` or by updating ${expected.file}` : "") +
    (expected.source === "pinned" ? "." : " (then run pulumi up).") +
    " Otherwise treat this as a possible man-in-the-middle."
  );
}
