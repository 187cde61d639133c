// How pulumi-lvs reaches a host: the field names and defaults of @pulumi/command's
// remote.ConnectionArgs, plus the host-key pin and the lock timeout.
import { z } from "zod";
import { intIn, port } from "./primitives";

/** POSIX portable user names. */
const userName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, {
  error: (i) => `must be a user name, got ${JSON.stringify(i.input)}`,
});
/** A host name or IP address as ssh would accept it; never put into a shell. */
const hostName = z.string().regex(/^[A-Za-z0-9_.:[\]-]{1,253}$/, {
  error: (i) => `must be a host name or IP address, got ${JSON.stringify(i.input)}`,
});

/** A SHA256 fingerprint as ssh-keygen -l prints it, or a public key line: type, base64 blob, optional comment. */
const HOST_KEY =
  /^\s*(SHA256:[A-Za-z0-9+/]{43}=?|(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+AAAA[A-Za-z0-9+/]+={0,3}(\s+.*)?)\s*$/;

const connectionFields = {
  host: hostName,
  port: port.default(22),
  user: userName.default("root"),
  password: z.string().optional(),
  privateKey: z.string().optional(),
  privateKeyPassword: z.string().optional(),
  agentSocketPath: z.string().optional(),
  /** Attempts at dialing before giving up; -1 means no limit. */
  dialErrorLimit: intIn(-1, 1000, "dialErrorLimit").default(10),
  /** Seconds per dial attempt; 0 means no limit. */
  perDialTimeout: intIn(0, 3600, "perDialTimeout").default(15),
  /**
   * Seconds an operation waits for the host lock (another run, or another resource of this
   * one, is writing to the host) before it fails naming the holder; default 120. Not pulumi-command's.
   */
  lockTimeout: intIn(1, 86400, "lockTimeout").optional(),
  /** Pinned host key: an OpenSSH public key line ("ssh-ed25519 AAAA...") or a "SHA256:..." fingerprint. */
  hostKey: z
    .string()
    .regex(HOST_KEY, {
      error: (i) =>
        `must be an OpenSSH public key ("ssh-ed25519 AAAA...") or a SHA256 fingerprint ("SHA256:..."), got ${JSON.stringify(i.input)}`,
    })
    .optional(),
  /** An OpenSSH known_hosts file (hashed entries included) to take the host key from; hostKey wins. */
  knownHostsPath: z.string().min(1).optional(),
};
export const ProxyConnection = z.object(connectionFields);
export const Connection = z.object({ ...connectionFields, proxy: ProxyConnection.optional() });
export type ProxyConnection = z.infer<typeof ProxyConnection>;
export type Connection = z.infer<typeof Connection>;
/** A default connection (the provider plugin's `lvs:connection`): any field, none required. */
export const DefaultConnection = Connection.partial();
export type DefaultConnection = z.infer<typeof DefaultConnection>;
/** Connection fields that are secrets: never logged, stored only encrypted. */
export const SECRET_CONNECTION_FIELDS = ["password", "privateKey", "privateKeyPassword"] as const;
