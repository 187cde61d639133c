// What @pulumi/pulumi/provider's server does not do for a plugin, done here and put in front of
// its handlers (everything else stays its own):
// - CheckConfig and Configure: the plugin's configuration, `lvs:connection`, a default connection
//   (user, key or agent, known_hosts, proxy, ...) that `pulumi import` logs in with and that fills
//   in what a resource's `connection` leaves out. That server answers Configure without reading it.
// - Read with an id and no state (`pulumi import`, the import option): that server cannot take it.
import * as path from "path";
import type * as grpcTypes from "@grpc/grpc-js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { DefaultConnection, SECRET_CONNECTION_FIELDS } from "../model";
import { parseOrThrow } from "../validate";

let configured: DefaultConnection = {};
/** The connection the stack's `lvs:connection` gives (empty when unset), secrets unwrapped. */
export const defaultConnection = (): DefaultConnection => configured;

/**
 * `lvs:connection` from a Configure request: the checked inputs (`args`, secrets already
 * unwrapped by `reveal`), or the older `variables` map, where each value is a JSON string.
 */
export function readDefaultConnection(args: Record<string, unknown> | undefined, variables: Map<string, string>): DefaultConnection {
  let raw: unknown = args?.connection ?? variables.get("lvs:config:connection");
  if (raw === undefined || raw === "") return {};
  if (typeof raw === "string") {
    try {
      raw = JSON.parse(raw);
    } catch {
      throw new Error(`lvs:connection must be an object (user, privateKey, ...), got a string that is not JSON`);
    }
  }
  const checked = parseOrThrow(DefaultConnection, raw, "lvs:connection");
  // Only what was set: the model's defaults (port 22, user root, ...) are the resource's to apply.
  const given = Object.keys(raw as object);
  return Object.fromEntries(Object.entries(checked).filter(([k]) => given.includes(k)));
}

/** Connection fields a resource gives win over the default's (a proxy is taken whole). */
export function withDefaults(connection: unknown): unknown {
  if (connection !== undefined && (connection === null || typeof connection !== "object")) return connection;
  if (connection === undefined && !Object.keys(configured).length) return undefined;
  return { ...configured, ...((connection as object | undefined) ?? {}) };
}

/** How the plugin sees values the engine sends: `reveal` unwraps secrets, `hide` wraps the paths given. */
interface Secrets {
  reveal(v: unknown): unknown;
  hide(props: Record<string, unknown>, paths: string[]): Record<string, unknown>;
}
/** The configuration's fields that are secrets wherever they come from (the state keeps them encrypted). */
const SECRET_CONFIG = SECRET_CONNECTION_FIELDS.flatMap((f) => [`connection.${f}`, `connection.proxy.${f}`]);

/** What `pulumi import` gets from an id alone: the live object as state, and the inputs that declare it. */
type Importer = (id: string, urn: string) => Promise<{ id: string; props: Record<string, unknown>; inputs: Record<string, unknown> }>;

/** Puts our CheckConfig, Configure and import in front of the provider server's (call before provider.main). */
export function answerServerCalls({ reveal, hide }: Secrets, importById: Importer): void {
  // The grpc module @pulumi/pulumi's server registers with (the same instance, wherever npm put it).
  const from = path.dirname(require.resolve("@pulumi/pulumi/provider/server"));
  const grpc = require(require.resolve("@grpc/grpc-js", { paths: [from] })) as typeof grpcTypes;
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (service, implementation) {
    const impl = implementation as Record<string, unknown>;
    // The configuration as the engine records it: a bad lvs:connection fails here, naming the
    // field, and its keys and passwords are kept as secrets even when set in plain text.
    impl.checkConfig = (
      call: grpcTypes.ServerUnaryCall<provproto.CheckRequest, provproto.CheckResponse>,
      callback: grpcTypes.sendUnaryData<provproto.CheckResponse>,
    ) => {
      const news = (call.request.getNews()?.toJavaScript() ?? {}) as Record<string, unknown>;
      const resp = new provproto.CheckResponse();
      try {
        const connection = readDefaultConnection(reveal(news) as Record<string, unknown>, new Map());
        // Stack config gives an object as JSON text: recorded as the object, so its secrets can be wrapped.
        const recorded = typeof reveal(news.connection) === "string" ? { ...news, connection } : news;
        resp.setInputs(structproto.Struct.fromJavaScript(hide(recorded, SECRET_CONFIG) as Record<string, structproto.JavaScriptValue>));
      } catch (e) {
        const failure = new provproto.CheckFailure();
        failure.setProperty("connection");
        failure.setReason((e as Error).message);
        resp.setInputs(call.request.getNews());
        resp.setFailuresList([failure]);
      }
      callback(null, resp);
    };
    impl.configure = (
      call: grpcTypes.ServerUnaryCall<provproto.ConfigureRequest, provproto.ConfigureResponse>,
      callback: grpcTypes.sendUnaryData<provproto.ConfigureResponse>,
    ) => {
      try {
        const args = call.request.getArgs()?.toJavaScript();
        const variables = new Map(call.request.getVariablesMap().toArray());
        configured = readDefaultConnection(reveal(args) as Record<string, unknown> | undefined, variables);
        const resp = new provproto.ConfigureResponse();
        resp.setAcceptsecrets(true);
        resp.setAcceptresources(true);
        resp.setAcceptoutputs(true);
        callback(null, resp);
      } catch (e) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message }, null);
      }
    };
    const read = impl.read as (call: unknown, callback: unknown) => unknown;
    impl.read = (
      call: grpcTypes.ServerUnaryCall<provproto.ReadRequest, provproto.ReadResponse>,
      callback: grpcTypes.sendUnaryData<provproto.ReadResponse>,
    ) => {
      if (call.request.getProperties()) return read.call(implementation, call, callback);
      importById(call.request.getId(), call.request.getUrn()).then(
        (r) => {
          const resp = new provproto.ReadResponse();
          resp.setId(r.id);
          resp.setProperties(structproto.Struct.fromJavaScript(r.props as Record<string, structproto.JavaScriptValue>));
          resp.setInputs(structproto.Struct.fromJavaScript(r.inputs as Record<string, structproto.JavaScriptValue>));
          callback(null, resp);
        },
        (e: Error) => callback({ code: grpc.status.UNKNOWN, details: e.message }, null),
      );
    };
    return addService.call(this, service, implementation);
  };
}
