// Reading a cluster from stack config (the root program): validated with the same
// zod model, with errors naming the config key, e.g. `pulumi-lvs:backends[1].address`.
import * as fs from "fs";
import * as os from "os";
import { z } from "zod";
import * as model from "./model";

/** In config a connection may name a key file instead of holding the key. */
const ConfigConnection = model.Connection.extend({ privateKeyPath: z.string().optional() });
export const ClusterConfig = model.ClusterArgs.extend({
  director: ConfigConnection,
  backends: z.array(model.ClusterArgs.shape.backends.element.extend({ connection: ConfigConnection, name: z.string().optional() })).min(1, { error: "must list at least one backend" }),
  persist: z.boolean().default(true),
  drainTimeout: z.number().int().min(0).default(30),
});
export type ClusterConfig = z.infer<typeof ClusterConfig>;
/** What the reader returns: key files already read, so it feeds LvsDrCluster as is. */
export type ClusterFromConfig = Omit<ClusterConfig, "director" | "backends"> & {
  director: model.Connection;
  backends: (Omit<ClusterConfig["backends"][number], "connection"> & { connection: model.Connection })[];
};
const KEYS = Object.keys(ClusterConfig.shape);

function keyName(namespace: string, path: PropertyKey[]): string {
  const [head, ...rest] = path;
  return `${namespace}:${String(head)}` + rest.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

/** Config values arrive as text: structured ones (maps, lists, numbers) as JSON. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // a plain string such as an address
  }
}

/** Validates the raw config values; `get` is `new pulumi.Config().get`. */
export function readClusterConfig(namespace: string, get: (key: string) => string | undefined): ClusterFromConfig {
  const raw = Object.fromEntries(KEYS.map((k) => [k, get(k)]).filter(([, v]) => v !== undefined).map(([k, v]) => [k, parseValue(v!)]));
  const r = ClusterConfig.safeParse(raw);
  if (!r.success) {
    throw new Error("invalid stack config: " + r.error.issues.map((i) => `${keyName(namespace, i.path)}: ${i.message}`).join("; "));
  }
  const withKey = ({ privateKeyPath, ...c }: z.infer<typeof ConfigConnection>, key: string): model.Connection => {
    if (!privateKeyPath) return c;
    const file = privateKeyPath.replace(/^~(?=\/)/, os.homedir());
    try {
      return { ...c, privateKey: fs.readFileSync(file, "utf8") };
    } catch (e) {
      throw new Error(`invalid stack config: ${namespace}:${key}.privateKeyPath: cannot read ${JSON.stringify(privateKeyPath)}: ${(e as NodeJS.ErrnoException).code}`);
    }
  };
  return {
    ...r.data,
    director: withKey(r.data.director, "director"),
    backends: r.data.backends.map((b, i) => ({ ...b, connection: withKey(b.connection, `backends[${i}].connection`) })),
  };
}
