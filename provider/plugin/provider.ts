// The provider plugin's calls (main.ts serves them): each goes to the same runtime/ the dynamic
// provider's shim uses, so there is one implementation behind two front doors. What is
// particular to this door is here: the type tokens, the owner taken from the URN, and secrets,
// which the engine hands a plugin wrapped and expects back wrapped.
import * as fs from "fs";
import * as path from "path";
import type * as provider from "@pulumi/pulumi/provider";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { SECRET_CONNECTION_FIELDS } from "../model";
import { ProviderName, kinds, providers } from "../runtime";
import { PACKAGE, token } from "./schema";
import { defaultConnection, withDefaults } from "./server-calls";
import { constructCluster } from "./construct";

type Props = Record<string, unknown>;

// How the engine marks a secret in the values it sends a plugin that accepts secrets.
const isSecret = (v: unknown): v is { value: unknown } => !!v && typeof v === "object" && (v as Props)[specialSigKey] === specialSecretSig;
const secret = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value });

/** Values with every secret unwrapped, as the runtime takes them. */
export function reveal(v: unknown): unknown {
  if (isSecret(v)) return reveal(v.value);
  if (Array.isArray(v)) return v.map(reveal);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  return v;
}

/** The dotted paths of `v` that hold secrets (as the engine sent them). */
function secretPaths(v: unknown, at = ""): string[] {
  if (isSecret(v)) return [at];
  if (v && typeof v === "object" && !Array.isArray(v)) return Object.entries(v).flatMap(([k, x]) => secretPaths(x, at ? `${at}.${k}` : k));
  return [];
}

/** `props` with the values at `paths` wrapped as secrets (paths that hold nothing are skipped). */
export function hide(props: Props, paths: string[]): Props {
  const out = structuredClone(props);
  for (const p of paths) {
    const keys = p.split(".");
    const parent = keys
      .slice(0, -1)
      .reduce<Props | undefined>((o, k) => (o?.[k] && typeof o[k] === "object" ? (o[k] as Props) : undefined), out);
    const last = keys[keys.length - 1];
    if (parent && parent[last] !== undefined && !isSecret(parent[last])) parent[last] = secret(parent[last]);
  }
  return out;
}

/** Inputs that are secrets whether or not the program said so: the connection's keys and passwords, the kind's own. */
const SECRET_INPUTS = (name: ProviderName) => [
  ...SECRET_CONNECTION_FIELDS.flatMap((f) => [`connection.${f}`, `connection.proxy.${f}`]),
  ...((kinds[name].secretInputs ?? []) as string[]),
];
/** Outputs that hold secrets (runtime/kind.ts puts them there). */
const SECRET_OUTPUTS = ["credentials", "inputSecrets"];

/** The kind a URN's type names (urn:pulumi:stack::project::[parent$]lvs:index:Kind::name). */
export function kindOf(urn: string): ProviderName {
  const type = urn.split("::")[2]?.split("$").pop() ?? "";
  const name = type.startsWith(`${PACKAGE}:index:`) ? type.slice(`${PACKAGE}:index:`.length) : "";
  if (!(name in kinds)) throw new Error(`pulumi-resource-lvs: unknown resource type ${type}`);
  return name as ProviderName;
}

/** This package's folder: the first one up from here with a package.json (built or not, installed or not). */
function packageRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir))
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
  throw new Error("pulumi-resource-lvs: no package.json above " + __dirname);
}
const packageFile = (name: string) => fs.readFileSync(path.join(packageRoot(), name), "utf8");

/** `pulumi import` (or the import option): an id alone says where the object is and what it is. */
export async function importById(id: string, urn: string) {
  const r = await providers[kindOf(urn)].importById(id, urn, defaultConnection());
  return { id: r.id, props: hide(r.props, SECRET_OUTPUTS), inputs: r.inputs };
}

export const lvs: provider.Provider = {
  version: (JSON.parse(packageFile("package.json")) as { version: string }).version,
  // The schema `make schema` wrote (with the model's doc comments), which a unit test keeps equal to the model.
  schema: JSON.stringify(JSON.parse(packageFile("schema.json"))),

  async check(urn, olds, news) {
    const name = kindOf(urn);
    const given = reveal(news) as Props;
    // What the resource's connection leaves out, the provider's lvs:connection gives.
    const connection = withDefaults(given.connection);
    const r = await providers[name].check!(reveal(olds), { ...given, ...(connection ? { connection } : {}), owner: urn });
    const kept = [...secretPaths(news), ...SECRET_INPUTS(name)];
    return { inputs: hide(r.inputs as Props, kept), failures: r.failures };
  },

  async diff(id, urn, olds, news) {
    const r = await providers[kindOf(urn)].diff!(id, reveal(olds), reveal(news));
    return { changes: r.changes, replaces: r.replaces, deleteBeforeReplace: r.deleteBeforeReplace };
  },

  async create(urn, inputs) {
    const r = await providers[kindOf(urn)].create(reveal(inputs));
    return { id: r.id, outs: hide(r.outs as Props, SECRET_OUTPUTS) };
  },

  async read(id, urn, props) {
    const r = await providers[kindOf(urn)].read!(id, reveal(props));
    return { id: r.id, props: hide((r.props ?? {}) as Props, SECRET_OUTPUTS) };
  },

  async update(id, urn, olds, news) {
    const r = await providers[kindOf(urn)].update!(id, reveal(olds), reveal(news));
    return { outs: hide((r.outs ?? {}) as Props, SECRET_OUTPUTS) };
  },

  async delete(id, urn, props) {
    await providers[kindOf(urn)].delete!(id, reveal(props));
  },

  async construct(name, type, inputs, options) {
    if (type !== token("LvsDrCluster")) throw new Error(`pulumi-resource-lvs: unknown component type ${type}`);
    return constructCluster(name, inputs, options);
  },
};
