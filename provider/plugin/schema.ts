// The package schema of pulumi-lvs as a Pulumi provider plugin (package `lvs`), made from the
// zod model: a resource's inputs are its kind's schema, its outputs those plus what the kind
// adds and what every resource records (runtime/kind.ts). Never written by hand: `make schema`
// writes schema.json from here, and a unit test fails when the two disagree.
import { z } from "zod";
import { ClusterArgs, DefaultConnection, SECRET_CONNECTION_FIELDS } from "../model";
import { ProviderName, kinds } from "../runtime";

export const PACKAGE = "lvs";
export const token = (name: string): string => `${PACKAGE}:index:${name}`;

/** The part of JSON Schema (draft 2020-12) that zod writes for our model. */
interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
}
/** A type in Pulumi's schema: a primitive, an array, a map, a named object type, or one of several. */
interface TypeSpec {
  type?: string;
  items?: TypeSpec;
  additionalProperties?: TypeSpec;
  $ref?: string;
  oneOf?: TypeSpec[];
}
type PropertySpec = TypeSpec & { description?: string; secret?: boolean; default?: unknown; replaceOnChanges?: boolean };
interface ObjectSpec {
  type: "object";
  properties: Record<string, PropertySpec>;
  required?: string[];
}
export interface PackageSchema {
  name: string;
  displayName: string;
  description: string;
  license: string;
  meta: { moduleFormat: string };
  language: Record<string, Record<string, unknown>>;
  config: { variables: Record<string, PropertySpec> };
  provider: { description: string; inputProperties: Record<string, PropertySpec> };
  resources: Record<string, { description: string } & Record<string, unknown>>;
  types: Record<string, ObjectSpec>;
}

const ANY: TypeSpec = { $ref: "pulumi.json#/Any" };
const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** backends -> Backend: an array's item type is named in the singular. */
const singular = (s: string) => (s.endsWith("s") && !s.endsWith("ss") ? s.slice(0, -1) : s);

/** Every resource's outputs besides its inputs and its kind's own (runtime/kind.ts writes them). */
const COMMON_OUTPUTS: Record<string, PropertySpec> = {
  credentials: { ...ANY, secret: true, description: "The connection's secrets (password, keys), kept apart from the plain `connection`." },
  inputSecrets: { ...ANY, secret: true, description: "Inputs that are secrets (a VRRP password), kept apart from the plain outputs." },
  owner: { type: "string", description: "Who holds this resource's objects in the host's ledger: its URN and what it identifies there." },
  hostKeyFingerprint: {
    type: "string",
    description: "SHA256 fingerprint of the host key seen at create; a different key later is refused.",
  },
  proxyHostKeyFingerprint: { type: "string", description: "The jump host's, when `connection.proxy` is set." },
  stateVersion: { type: "integer", description: "Version of this resource's state." },
  imported: {
    type: "boolean",
    description: "True from `pulumi import` until the first update, which may change the object it found (given back as found on delete).",
  },
};

/** The resources' names, which no object type may take. */
const RESOURCE_NAMES: string[] = [...Object.keys(kinds), "LvsDrCluster", "Provider"];

/** Converts zod's JSON Schema to Pulumi's, collecting named object types in `types`. */
class Converter {
  readonly types: Record<string, ObjectSpec> = {};
  /** Dotted paths of the resource being converted whose values are secrets (a VRRP password). */
  secretPaths: string[] = [];
  /** What `docs` keys the resource being converted under ("VirtualService", "Cluster", "Provider"). */
  root = "";

  /** `docs`: the model's doc comments by root and dotted path (tools/model-docs.js). */
  constructor(private readonly docs: Record<string, string>) {}

  /** `name` names the type an object gets; `path` (dotted) decides what is secret. */
  type(js: JsonSchema, name: string, path: string): TypeSpec {
    const options = (js.anyOf ?? js.oneOf)?.filter((o) => o.type !== "null");
    if (options) {
      if (options.length === 1) return this.type(options[0], name, path);
      const specs = options.map((o, i) => this.type(o, `${name}${i + 1}`, path));
      const distinct = [...new Map(specs.map((s) => [JSON.stringify(s), s])).values()];
      return distinct.length === 1 ? distinct[0] : { oneOf: distinct };
    }
    if (js.const !== undefined || js.enum) return { type: primitive(js.const ?? js.enum![0]) };
    switch (js.type) {
      case "string":
      case "integer":
      case "number":
      case "boolean":
        return { type: js.type };
      case "array":
        return { type: "array", items: js.items ? this.type(js.items, singular(name), path) : ANY };
      case "object":
        if (js.properties) return { $ref: `#/types/${token(this.object(js, name, path))}` };
        return typeof js.additionalProperties === "object"
          ? { type: "object", additionalProperties: this.type(js.additionalProperties, name, path) }
          : ANY;
      default:
        return ANY;
    }
  }

  /** The properties of an object schema, `omit` left out. */
  properties(js: JsonSchema, prefix: string, path: string, omit: string[] = []): Record<string, PropertySpec> {
    const out: Record<string, PropertySpec> = {};
    for (const [k, v] of Object.entries(js.properties ?? {})) {
      if (omit.includes(k)) continue;
      const at = path ? `${path}.${k}` : k;
      const secret = (SECRET_CONNECTION_FIELDS as readonly string[]).includes(k) || this.secretPaths.includes(at);
      const description = v.description ?? this.docs[`${this.root}.${at}`];
      out[k] = {
        ...this.type(v, `${prefix}${pascal(k)}`, at),
        ...(description ? { description } : {}),
        ...(isPrimitive(v.default) ? { default: v.default } : {}),
        ...(secret ? { secret: true } : {}),
      };
    }
    return out;
  }

  /**
   * Registers an object type, named `name` (or, when another shape has that name, a longer one);
   * returns its name. A shape already registered under another name is that type.
   */
  private object(js: JsonSchema, name: string, path: string): string {
    // A type named like a resource would clash with it in the SDKs (VirtualService.realServers: VirtualServiceRealServer).
    if (RESOURCE_NAMES.includes(name)) name = `${this.root}${name}`;
    const spec: ObjectSpec = { type: "object", properties: this.properties(js, name, path) };
    if (js.required?.length) spec.required = [...js.required].sort();
    const same = Object.entries(this.types).find(([, t]) => JSON.stringify(t) === JSON.stringify(spec));
    if (same) return same[0].slice(token("").length);
    for (let candidate = name, n = 2; ; candidate = `${name}${n++}`) {
      const existing = this.types[token(candidate)];
      if (!existing) this.types[token(candidate)] = spec;
      if (!existing || JSON.stringify(existing) === JSON.stringify(spec)) return candidate;
    }
  }
}

const primitive = (v: unknown) =>
  typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v === "boolean" ? "boolean" : "string";
const isPrimitive = (v: unknown) => ["string", "number", "boolean"].includes(typeof v);
const jsonSchema = (s: z.ZodType, io: "input" | "output") => z.toJSONSchema(s, { io, unrepresentable: "any" }) as JsonSchema;

/**
 * The package schema, as `pulumi package get-schema` and the language hosts read it; `docs`
 * gives its descriptions (the model's doc comments, which only the TypeScript compiler sees:
 * `make schema` reads them with tools/model-docs.js, and the plugin serves the file it wrote).
 */
export function packageSchema(docs: Record<string, string> = {}): PackageSchema {
  const resources: PackageSchema["resources"] = {};
  const convert = new Converter(docs);
  for (const name of Object.keys(kinds).sort() as ProviderName[]) {
    const kind = kinds[name];
    convert.root = name;
    convert.secretPaths = (kind.secretInputs ?? []) as string[];
    const inputs = jsonSchema(kind.schema, "input");
    const outputs = jsonSchema(kind.outputs, "output");
    // The owner is the resource's URN, which the plugin knows: not an input.
    const inputProperties = convert.properties(inputs, "", "", ["owner"]);
    // A change to these replaces the resource (the kind's rules; nested paths mark their top field).
    for (const field of new Set((kind.replaceOn as string[]).map((p) => p.split(".")[0])))
      if (inputProperties[field]) inputProperties[field] = { ...inputProperties[field], replaceOnChanges: true };
    const requiredInputs = (inputs.required ?? []).filter((k) => k !== "owner");
    resources[token(name)] = {
      description: `pulumi-lvs ${name} (see the README of pulumi-lvs).`,
      inputProperties,
      requiredInputs: requiredInputs.sort(),
      properties: { ...inputProperties, ...convert.properties(outputs, name, ""), ...COMMON_OUTPUTS },
      required: [...new Set([...requiredInputs, ...(outputs.required ?? []), "owner", "hostKeyFingerprint", "stateVersion"])].sort(),
    };
  }
  // The whole topology as one component (plugin/construct.ts), its inputs the model's ClusterArgs.
  convert.root = "Cluster";
  convert.secretPaths = ["ha.authPass"];
  const cluster = jsonSchema(ClusterArgs, "input");
  resources[token("LvsDrCluster")] = {
    isComponent: true,
    description: "The walkthrough's whole LVS-DR topology in one component: director, service, backends (see LvsDrCluster in the README).",
    inputProperties: convert.properties(cluster, "Cluster", ""),
    requiredInputs: [...(cluster.required ?? [])].sort(),
    properties: {
      director: { $ref: `#/resources/${token("DirectorHost")}`, description: "The (primary) director." },
      service: { $ref: `#/resources/${token("VirtualService")}`, description: "Its virtual service." },
      vip: { type: "string", description: "The VIP." },
      directorInterface: { type: "string", description: "The (primary) director's interface that holds the VIP." },
    },
    required: ["director", "directorInterface", "service", "vip"],
  };
  // The provider's configuration: a default connection, every field optional (plugin/server-calls.ts).
  convert.root = "Provider";
  const defaults: PropertySpec = {
    ...convert.type(jsonSchema(DefaultConnection, "input"), "DefaultConnection", "connection"),
    description:
      "The connection `pulumi import` logs in with, and what fills in any field a resource's `connection` leaves out " +
      "(user, privateKey or agentSocketPath, knownHostsPath, proxy, ...); a resource's own fields win.",
  };
  const types = Object.fromEntries(Object.entries(convert.types).sort(([a], [b]) => a.localeCompare(b)));
  return {
    name: PACKAGE,
    displayName: "LVS (IPVS)",
    description: "Linux Virtual Server (IPVS) load balancers converged over SSH: directors, services, real servers.",
    license: "Apache-2.0",
    meta: { moduleFormat: "(.*)" },
    // Where the generated SDKs live (sdk/, `make sdk`): the Go module is sdk/go (module pulumi-lvs/sdk/go).
    language: {
      go: { importBasePath: "pulumi-lvs/sdk/go/lvs", generateResourceContainerTypes: false },
      python: { packageName: "pulumi_lvs" },
      csharp: { rootNamespace: "PulumiLvs" },
    },
    config: { variables: { connection: defaults } },
    provider: { description: "The lvs provider: its configuration is `lvs:connection`.", inputProperties: { connection: defaults } },
    resources,
    types,
  };
}
