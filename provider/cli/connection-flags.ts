// The connection of a command-line tool: `[user@]host[:port]` and flags named after the
// connection fields, checked by the same model as a resource's connection, with named errors
// before anything connects. Tools never trust a host on first contact: its key must be pinned
// (--host-key) or in a known_hosts file (--known-hosts, default ~/.ssh/known_hosts).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Connection } from "../model";
import { knowsHostKey, label } from "../remote/ssh";

/** The flags every tool takes for its connection (util.parseArgs options). */
export const CONNECTION_OPTIONS = {
  key: { type: "string" },
  "key-passphrase-env": { type: "string" },
  "password-env": { type: "string" },
  agent: { type: "boolean" },
  "known-hosts": { type: "string" },
  "host-key": { type: "string" },
  proxy: { type: "string" },
  "lock-timeout": { type: "string" },
} as const;
type Flags = { [K in keyof typeof CONNECTION_OPTIONS]?: (typeof CONNECTION_OPTIONS)[K]["type"] extends "boolean" ? boolean : string };

/** A usage error: printed without a stack, exit status 2. */
export class UsageError extends Error {}

/** `[user@]host[:port]`, an IPv6 address in brackets: `root@[2001:db8::10]:22`. */
function parseTarget(s: string, what: string): { host: string; user?: string; port?: number } {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:@]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new UsageError(`${what}: expected [user@]host[:port], got ${JSON.stringify(s)}`);
  return { user: m[1], host: m[2].replace(/^\[|\]$/g, ""), port: m[3] === undefined ? undefined : Number(m[3]) };
}

const FLAG_OF: Record<string, string> = {
  host: "<connection>'s host",
  port: "<connection>'s port",
  user: "<connection>'s user",
  privateKey: "--key",
  privateKeyPassword: "--key-passphrase-env",
  password: "--password-env",
  agentSocketPath: "--agent (SSH_AUTH_SOCK)",
  knownHostsPath: "--known-hosts",
  hostKey: "--host-key",
  lockTimeout: "--lock-timeout",
};

const fromEnv = (name: string | undefined, flag: string): string | undefined => {
  if (name === undefined) return undefined;
  const v = process.env[name];
  if (v === undefined) throw new UsageError(`${flag}: environment variable ${name} is not set`);
  return v;
};

/** The connection `target` and `flags` describe; throws UsageError naming the flag at fault. */
export function connectionOf(target: string | undefined, flags: Flags): Connection {
  if (!target) throw new UsageError("<connection> is required: [user@]host[:port]");
  const home = path.join(os.homedir(), ".ssh", "known_hosts");
  const knownHosts = flags["known-hosts"] ?? (fs.existsSync(home) ? home : undefined);
  const keyFile = flags.key;
  let privateKey: string | undefined;
  if (keyFile !== undefined) {
    try {
      privateKey = fs.readFileSync(keyFile, "utf8");
    } catch (e) {
      throw new UsageError(`--key: cannot read ${keyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const agentSocketPath = flags.agent ? process.env.SSH_AUTH_SOCK : undefined;
  if (flags.agent && !agentSocketPath) throw new UsageError("--agent: SSH_AUTH_SOCK is not set (no ssh-agent in this shell)");
  const auth = {
    privateKey,
    privateKeyPassword: fromEnv(flags["key-passphrase-env"], "--key-passphrase-env"),
    password: fromEnv(flags["password-env"], "--password-env"),
    agentSocketPath,
    hostKey: flags["host-key"],
    knownHostsPath: flags["host-key"] ? undefined : knownHosts,
  };
  const lockTimeout = flags["lock-timeout"] === undefined ? undefined : Number(flags["lock-timeout"]);
  const proxy =
    flags.proxy === undefined
      ? undefined
      : { ...parseTarget(flags.proxy, "--proxy"), ...auth, hostKey: undefined, knownHostsPath: knownHosts };
  const parsed = Connection.safeParse(strip({ ...parseTarget(target, "<connection>"), ...auth, lockTimeout, proxy }));
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const field = i.path[0] === "proxy" ? `--proxy's ${String(i.path[1])}` : (FLAG_OF[String(i.path[0])] ?? String(i.path.join(".")));
    throw new UsageError(`${field}: ${i.message}`);
  }
  const c = parsed.data;
  if (!knowsHostKey(c)) {
    throw new UsageError(
      `${label(c)}: its host key is not known: pass --host-key "ssh-ed25519 AAAA..." or --known-hosts FILE with its entry (tried ${c.knownHostsPath ?? `${home}, which does not exist`}); nothing was sent to it`,
    );
  }
  if (c.proxy && !knowsHostKey(c, "proxy")) {
    throw new UsageError(`${label(c.proxy)} (--proxy): its host key is not in ${knownHosts}; nothing was sent to it`);
  }
  return c;
}

/** Drops undefined fields: the model treats a present undefined like any other value. */
function strip<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(
    Object.entries(o)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, v && typeof v === "object" ? strip(v as Record<string, unknown>) : v]),
  ) as T;
}
