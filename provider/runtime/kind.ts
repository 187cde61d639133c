// Turns one resource kind (its schema, diff rules and host operations) into a
// Pulumi dynamic ResourceProvider. Everything that is the same for every kind
// lives here: validation before any connection, diff rules, the split of the
// connection into plain outputs and secret credentials, the recorded host key,
// and the state version.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { Connection, SECRET_CONNECTION_FIELDS, STATE_VERSION } from "../model";
import { Host, Log, connect } from "../remote/ssh";
import { containsUnknown, parseOrThrow, validate } from "../validate";

type Dyn = pulumi.dynamic.ResourceProvider;
type Outs = Record<string, unknown>;

/** What one kind of resource does on its host; the generic parts are in makeProvider. */
export interface Kind<A extends { connection: Connection }> {
  /** Type name used in messages. */
  name: string;
  schema: z.ZodType<A>;
  /** Input fields (dotted paths) whose change replaces the resource; all others update in place. */
  replaceOn: string[];
  /** Input fields whose change needs an update; connection fields are compared separately. */
  updateOn: string[];
  /** Optional inputs that create resolves when unset (e.g. an interface): unset later means "keep it". */
  resolvedWhenUnset?: string[];
  /** The part of the id after the host: what identifies the object on its host. */
  identity(a: A): string;
  create(host: Host, a: A, log: Log): Promise<Outs>;
  /** Live state merged over the outputs, or undefined when the object is gone. */
  read(host: Host, outs: A & Outs): Promise<Outs | undefined>;
  update(host: Host, olds: A & Outs, news: A, log: Log): Promise<Outs>;
  delete(host: Host, outs: A & Outs, log: Log): Promise<void>;
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
  const { plain, secrets } = splitSecrets(c as unknown as Conn);
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
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Connection fields compared on diff; host change means another machine, so it replaces. */
const CONNECTION_UPDATE_FIELDS = ["port", "user", "agentSocketPath", "dialErrorLimit", "perDialTimeout", "hostKey", "proxy"];

export function makeProvider<A extends { connection: Connection }>(kind: Kind<A>): Dyn {
  const hostFor = (outs: Outs) =>
    connect(connectionFromOutputs(outs), { recorded: outs.hostKeyFingerprint as string | undefined, log });
  const outputs = (a: A, host: Host, extra: Outs): Outs => clean({
    ...a, ...connectionOutputs(a.connection), ...extra, hostKeyFingerprint: host.fingerprint, stateVersion: STATE_VERSION,
  });
  const idOf = (a: A) => `${a.connection.host}:${a.connection.port}/${kind.identity(a)}`;

  return {
    async check(_olds, news) {
      const v = validate(kind.schema, news);
      if (v.kind === "invalid") return { inputs: news, failures: v.failures };
      return { inputs: v.kind === "valid" ? (v.value as Outs) : news };
    },

    async diff(_id, olds, news) {
      const stale = (olds.stateVersion as number | undefined) ?? 0;
      if (stale > STATE_VERSION) throw new Error(`${kind.name}: state version ${stale} is newer than this pulumi-lvs understands (${STATE_VERSION}); upgrade pulumi-lvs`);
      const changed = (path: string, oldPath = path) =>
        containsUnknown(get(news, path)) ||
        (!same(get(olds, oldPath), get(news, path)) && !(kind.resolvedWhenUnset?.includes(path) && get(news, path) === undefined));
      const replaces = ["connection.host", ...kind.replaceOn].filter((f) => changed(f));
      const updates = kind.updateOn.filter((f) => changed(f));
      const connUpdates = CONNECTION_UPDATE_FIELDS.map((f) => `connection.${f}`).filter((f) => changed(f))
        .concat(SECRET_CONNECTION_FIELDS.map((f) => `connection.${f}`).filter((f) => changed(f, f.replace("connection.", "credentials."))));
      const changes = replaces.length + updates.length + connUpdates.length > 0;
      // Replacing keeps the old object until the new one exists, unless both would be the same
      // IPVS object (only the connection changed): then the old one must go first.
      const sameIdentity = replaces.every((f) => f === "connection.host");
      return { changes, replaces, deleteBeforeReplace: replaces.length > 0 && sameIdentity };
    },

    async create(inputs) {
      const a = parseOrThrow(kind.schema, inputs, kind.name);
      const host = await connect(a.connection, { log });
      const extra = await kind.create(host, a, log);
      return { id: idOf(a), outs: outputs(a, host, extra) };
    },

    async read(id, props) {
      const host = await hostFor(props);
      const live = await kind.read(host, props as A & Outs);
      if (!live) return { id: "", props: {} };
      return { id, props: clean({ ...props, ...live }) };
    },

    async update(_id, olds, news) {
      const a = parseOrThrow(kind.schema, news, kind.name);
      const host = await connect(a.connection, { recorded: olds.hostKeyFingerprint as string | undefined, log });
      const extra = await kind.update(host, olds as A & Outs, a, log);
      return { outs: outputs(a, host, extra) };
    },

    async delete(_id, props) {
      const host = await hostFor(props);
      await kind.delete(host, props as A & Outs, log);
    },
  };
}

