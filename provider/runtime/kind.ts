// Turns one resource kind (its input and output schemas, diff rules and host operations)
// into a Pulumi dynamic ResourceProvider. Everything that is the same for every kind lives
// here: validation before any connection, diff rules, the split of the connection into plain
// outputs and secret credentials, the owner id, the recorded host keys, the state version.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { Connection, SECRET_CONNECTION_FIELDS, STATE_VERSION } from "../model";
import { Host, Log, connect, noteOwner, rememberStackKeys } from "../remote/ssh";
import { watchEngine } from "./engine-watch";
import { containsUnknown, parseOrThrow, validate } from "../validate";
import { canonical } from "../ledger";
import { formatId, parseId } from "../ids";

type Dyn = pulumi.dynamic.ResourceProvider;
type Outs = Record<string, unknown>;

/** Dotted paths into an input type, two levels deep: what diff rules may name. */
export type Path<A> = {
  [K in keyof A & string]: K | (NonNullable<A[K]> extends Record<string, unknown> ? `${K}.${keyof NonNullable<A[K]> & string}` : never);
}[keyof A & string];

/** What an operation knows besides its inputs: who holds what it claims, and where progress goes. */
export interface Ctx {
  owner: string;
  log: Log;
  /** The resource came in by `pulumi import` and has not been written since (see Claim.imported). */
  imported: boolean;
}

/** What one kind of resource does on its host; the generic parts are in makeProvider. */
export interface Kind<A extends { connection: Connection }, O extends Outs> {
  /** Type name used in messages. */
  name: string;
  schema: z.ZodType<A>;
  /** The outputs this kind adds to its inputs. */
  outputs: z.ZodType<O>;
  /** Input fields whose change replaces the resource; all others update in place. */
  replaceOn: Path<A>[];
  /** Input fields whose change needs an update; connection fields are compared separately. */
  updateOn: Path<A>[];
  /** Inputs that are secrets (e.g. a VRRP password): kept in the secret `inputSecrets` output, not in plain state. */
  secretInputs?: Path<A>[];
  /** Optional inputs that create resolves when unset (e.g. an interface): unset later means "keep it". */
  resolvedWhenUnset?: Path<A>[];
  /** The part of the id after the host: what identifies the object on its host. */
  identity(a: A): string;
  /** The inputs an identity names (identity's inverse), for `pulumi import`; unset: the kind is not importable. */
  fromIdentity?(identity: string): Record<string, unknown>;
  create(host: Host, a: A, ctx: Ctx): Promise<O>;
  /** Live state merged over the outputs, or undefined when the object is gone. */
  read(host: Host, outs: A & O, ctx: Ctx): Promise<Outs | undefined>;
  update(host: Host, olds: A & O, news: A, ctx: Ctx): Promise<O>;
  delete(host: Host, outs: A & O, ctx: Ctx): Promise<void>;
}

/** Progress goes to the provider's stderr, which the engine shows in `pulumi up`. */
export const log: Log = (m) => console.error(`pulumi-lvs: ${m}`);

// --- the connection in state: plain fields in `connection`, secrets in `credentials` ---

type Conn = Record<string, unknown> & { proxy?: Record<string, unknown> };
function splitSecrets(c: Conn): { plain: Conn; secrets: Conn } {
  const plain: Conn = {};
  const secrets: Conn = {};
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined) continue;
    if ((SECRET_CONNECTION_FIELDS as readonly string[]).includes(k)) secrets[k] = v;
    else if (k === "proxy" && v) {
      const p = splitSecrets(v as Conn);
      plain.proxy = p.plain;
      if (Object.keys(p.secrets).length) secrets.proxy = p.secrets;
    } else plain[k] = v;
  }
  return { plain, secrets };
}

/** Connection as stored in outputs: `credentials` is listed in additionalSecretOutputs by every resource class. */
export function connectionOutputs(c: Connection): { connection: Conn; credentials: Conn } {
  const { plain, secrets } = splitSecrets(c);
  return { connection: plain, credentials: secrets };
}

/** Rebuilds the full connection from outputs (read and delete get only outputs). */
export function connectionFromOutputs(outs: Outs): Connection {
  const plain = (outs.connection ?? {}) as Conn;
  const secrets = (outs.credentials ?? {}) as Conn;
  const merged: Conn = { ...plain, ...secrets };
  if (plain.proxy) merged.proxy = { ...plain.proxy, ...((secrets.proxy as Conn) ?? {}) };
  return parseOrThrow(Connection, merged, "connection in state");
}

/** Outputs as the engine's protobuf Struct accepts them: no undefined anywhere. */
const clean = (o: Outs): Outs => JSON.parse(JSON.stringify(o));

const get = (o: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Outs)[k] : undefined), o);
/** A copy of `o` with `path` set to `value` (removed when undefined); missing parents are created only for a value. */
function withPath(o: Outs, path: string, value: unknown): Outs {
  const [k, ...rest] = path.split(".");
  if (!rest.length) return { ...o, [k]: value };
  const inner = o[k];
  if (!inner || typeof inner !== "object") return value === undefined ? o : { ...o, [k]: withPath({}, rest.join("."), value) };
  return { ...o, [k]: withPath(inner as Outs, rest.join("."), value) };
}
/** Equal values, whatever the order of their keys (secret inputs are put back last). */
const same = (a: unknown, b: unknown): boolean => canonical(a ?? null) === canonical(b ?? null);
const withoutHost = (c: unknown) => ({ ...((c as Conn) ?? {}), host: undefined });

/** The keys recorded in state: the target's and the jump host's. */
const recordedKeys = (outs: Outs) => ({
  target: outs.hostKeyFingerprint as string | undefined,
  proxy: outs.proxyHostKeyFingerprint as string | undefined,
});

/** Secret inputs move out of the plain outputs into `inputSecrets` (listed in additionalSecretOutputs), and back. */
function secretInputs(paths: string[]) {
  return {
    hide(o: Outs): Outs {
      const found = paths.filter((p) => get(o, p) !== undefined);
      if (!found.length) return o;
      const plain = found.reduce((acc, p) => withPath(acc, p, undefined), o);
      return { ...plain, inputSecrets: Object.fromEntries(found.map((p) => [p, get(o, p)])) };
    },
    /** State as the kind sees it: secret inputs back in place. */
    restore: (o: Outs): Outs => Object.entries((o.inputSecrets as Outs | undefined) ?? {}).reduce((acc, [p, v]) => withPath(acc, p, v), o),
  };
}

/**
 * Inputs every kind gained after 0.2, with what state written without them means, on either
 * side: the old state's, and the new inputs, which a refresh takes unchecked from that state
 * (so it previews and refreshes clean).
 */
const ADDED_INPUTS: Record<string, unknown> = { adopt: "keep" };

/**
 * The engine's diff for a kind: which fields replace, which update, from the stored state
 * (secrets back in place) and the checked new inputs. Pure: it never connects.
 */
function diffOf<A extends { connection: Connection }, O extends Outs>(kind: Kind<A, O>, olds: Outs, news: Outs): pulumi.dynamic.DiffResult {
  // The engine diffs existing resources before it creates new ones: their recorded keys
  // become what a new resource on the same host must see on its first contact.
  const recorded = olds.connection as Connection | undefined;
  if (recorded?.host) rememberStackKeys(recorded, recordedKeys(olds));
  const stale = (olds.stateVersion as number | undefined) ?? 0;
  if (stale > STATE_VERSION)
    throw new Error(
      `${kind.name}: state version ${stale} is newer than this pulumi-lvs understands (${STATE_VERSION}); upgrade pulumi-lvs`,
    );
  const changed = (path: string) =>
    containsUnknown(get(news, path)) ||
    (!same(get(olds, path) ?? ADDED_INPUTS[path], get(news, path) ?? ADDED_INPUTS[path]) &&
      !((kind.resolvedWhenUnset as string[] | undefined)?.includes(path) && get(news, path) === undefined));
  const replaces = ["connection.host", ...kind.replaceOn].filter((f) => changed(f));
  const updates: string[] = kind.updateOn.filter((f) => changed(f));
  // The connection is compared as it is stored: plain fields and secrets apart (a proxy's key included).
  if (containsUnknown(news.connection)) updates.push("connection");
  else {
    const n = connectionOutputs(news.connection as Connection);
    if (!same(withoutHost(olds.connection), withoutHost(n.connection))) updates.push("connection");
    if (!same(olds.credentials ?? {}, n.credentials)) updates.push("credentials");
  }
  // Refresh found something pulumi-lvs wrote changed behind its back: an update repairs it.
  if ((olds.drift as string[] | undefined)?.length) updates.push("drift");
  const changes = replaces.length + updates.length > 0;
  // Replacing keeps the old object until the new one exists, unless both would be the same
  // object on the same host (only the connection changed): then the old one must go first.
  const sameIdentity = replaces.every((f) => f === "connection.host");
  return { changes, replaces, deleteBeforeReplace: replaces.length > 0 && sameIdentity };
}

/** What `pulumi import` gets: the live object as state, and the inputs that declare it. */
export interface Imported {
  id: string;
  props: Outs;
  inputs: Outs;
}
/** A kind's provider: the engine's five calls, each a few lines over the kind's own operations, and import. */
export type KindProvider = Dyn & {
  /**
   * The object an id names, read live from its host and described as state and inputs, for
   * `pulumi import`. The id's login fields win over `defaults` (the plugin's configured connection).
   */
  importById(id: string, urn: string, defaults: Partial<Connection>): Promise<Imported>;
};

/** A kind's provider (see KindProvider). */
export function makeProvider<A extends { connection: Connection; owner?: string }, O extends Outs>(kind: Kind<A, O>): KindProvider {
  watchEngine();
  const secrets = secretInputs((kind.secretInputs ?? []) as string[]);
  const idOf = (a: A) => formatId(a.connection.host, a.connection.port, kind.identity(a));
  /** The input fields a live object can tell (what diff rules name), the connection aside. */
  const inputFields = [...new Set([...kind.replaceOn, ...kind.updateOn].map((p) => p.split(".")[0]))].filter((f) => f !== "connection");
  // The owner is the resource's URN and what it identifies on its host, derived once at create:
  // a replacement (same URN, another object) never releases what its successor holds. A
  // resource created by an older release (or without the resource classes) is named by its id.
  const ownerOf = (a: A, id: string) => (a.owner ? `${a.owner}#${kind.identity(a)}` : `${kind.name}:${id}`);
  const outputs = (a: A, host: Host, owner: string, extra: O): Outs =>
    clean({
      ...secrets.hide(a),
      ...connectionOutputs(a.connection),
      ...parseOrThrow(kind.outputs, extra, `${kind.name} outputs`),
      owner,
      hostKeyFingerprint: host.fingerprint,
      proxyHostKeyFingerprint: host.proxyFingerprint,
      stateVersion: STATE_VERSION,
    });
  const ctx = (owner: string, imported = false): Ctx => (noteOwner(owner), { owner, log, imported });

  return {
    async check(_olds, news) {
      const v = validate(kind.schema, news);
      if (v.kind === "invalid") return { inputs: news, failures: v.failures };
      return { inputs: v.kind === "valid" ? (v.value as Outs) : news };
    },

    async diff(_id, stored, news) {
      return diffOf(kind, secrets.restore(stored), news);
    },

    async create(inputs) {
      const a = parseOrThrow(kind.schema, inputs, kind.name);
      const id = idOf(a);
      const owner = ownerOf(a, id);
      const host = await connect(a.connection, { log });
      return { id, outs: outputs(a, host, owner, await kind.create(host, a, ctx(owner))) };
    },

    async read(id, stored) {
      const props = secrets.restore(stored);
      const host = await connect(connectionFromOutputs(props), { recorded: recordedKeys(props), log });
      const live = await kind.read(host, props as A & O, ctx((props.owner as string | undefined) ?? ownerOf(props as A, id)));
      if (!live) return { id: "", props: {} };
      return {
        id,
        props: clean({ ...stored, ...live, hostKeyFingerprint: host.fingerprint, proxyHostKeyFingerprint: host.proxyFingerprint }),
      };
    },

    async update(id, stored, news) {
      const olds = secrets.restore(stored);
      const a = parseOrThrow(kind.schema, news, kind.name);
      const owner = (olds.owner as string | undefined) ?? ownerOf(a, id);
      const host = await connect(a.connection, { recorded: recordedKeys(olds), log });
      return { outs: outputs(a, host, owner, await kind.update(host, olds as A & O, a, ctx(owner, olds.imported === true))) };
    },

    async delete(id, props) {
      const host = await connect(connectionFromOutputs(props), { recorded: recordedKeys(props), log });
      await kind.delete(host, props as A & O, ctx((props.owner as string | undefined) ?? ownerOf(props as A, id)));
    },

    async importById(id, urn, defaults) {
      if (!kind.fromIdentity)
        throw new Error(`${kind.name} cannot be imported: declare it as it is, and pulumi-lvs adopts what is already on the host`);
      const { at, identity } = parseId(id, kind.name);
      let key: Record<string, unknown>;
      try {
        key = kind.fromIdentity(identity);
      } catch (e) {
        throw new Error(`${kind.name} id ${JSON.stringify(id)}: ${(e as Error).message}`);
      }
      const connection = parseOrThrow(
        Connection,
        { ...defaults, ...at },
        "connection (the import id's, over the provider's lvs:connection)",
      );
      const probe = parseOrThrow(kind.schema, { ...key, connection, owner: urn }, `${kind.name} ${identity}`);
      const host = await connect(connection, { log });
      const owner = ownerOf(probe, idOf(probe));
      const live = await kind.read(host, probe as A & O, ctx(owner));
      if (!live) throw new Error(`${kind.name}: nothing to import: ${connection.host} has no ${identity}`);
      // What a program declares for it: the id's login (secrets stay in the provider's
      // configuration) and what the host shows; everything else takes its default.
      const declared = Object.fromEntries(inputFields.filter((f) => live[f] !== undefined).map((f) => [f, live[f]]));
      const inputs = clean({ ...key, ...declared, connection: connectionOutputs({ ...at } as Connection).connection });
      const a = parseOrThrow(kind.schema, { ...inputs, connection, owner: urn }, `${kind.name} ${identity}`);
      // It was there before pulumi-lvs: adopted, so left in place on delete, like any identical object it finds.
      const extra = parseOrThrow(kind.outputs, { adopted: true, drift: [], ...live }, `${kind.name} outputs`);
      return { id: idOf(a), props: { ...outputs(a, host, owner, extra), imported: true }, inputs };
    },
  };
}
