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
  backends: z.array(model.ClusterBackend.extend({ connection: ConfigConnection })).min(1, { error: "must list at least one backend" }),
  ha: model.ClusterHa.extend({ standby: ConfigConnection }).optional(),
});
export type ClusterConfig = z.infer<typeof ClusterConfig>;
/** What the reader returns: key files already read, so it feeds LvsDrCluster as is. */
export type ClusterFromConfig = model.ClusterArgs;
const KEYS = Object.keys(ClusterConfig.shape);

/** Edit distance, to suggest the key that a misspelt one meant. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** Refuses config keys of `namespace` that the program does not read, naming the nearest known key. */
export function checkConfigKeys(namespace: string, present: string[]): void {
  const unknown = present.filter((k) => !KEYS.includes(k));
  if (!unknown.length) return;
  const hint = (k: string) => {
    const best = [...KEYS].sort((a, b) => distance(k, a) - distance(k, b))[0];
    return distance(k, best) <= Math.max(2, Math.floor(k.length / 3)) ? ` (did you mean ${namespace}:${best}?)` : "";
  };
  throw new Error(
    `invalid stack config: ${unknown.map((k) => `${namespace}:${k} is not a setting of this program${hint(k)}`).join("; ")}; known keys: ${KEYS.join(", ")}`,
  );
}

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
export function readClusterConfig(namespace: string, get: (key: string) => string | undefined, present: string[] = []): ClusterFromConfig {
  checkConfigKeys(namespace, present);
  const raw = Object.fromEntries(
    KEYS.map((k) => [k, get(k)])
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, parseValue(v!)]),
  );
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
      throw new Error(
        `invalid stack config: ${namespace}:${key}.privateKeyPath: cannot read ${JSON.stringify(privateKeyPath)}: ${(e as NodeJS.ErrnoException).code}`,
      );
    }
  };
  return {
    ...r.data,
    director: withKey(r.data.director, "director"),
    backends: r.data.backends.map((b, i) => ({ ...b, connection: withKey(b.connection, `backends[${i}].connection`) })),
    ha: r.data.ha && { ...r.data.ha, standby: withKey(r.data.ha.standby, "ha.standby") },
  };
}
