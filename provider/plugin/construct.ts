// LvsDrCluster as the plugin's component (the engine's Construct): the same cluster code as the
// TypeScript class (../cluster.ts), declaring the plugin's own resources, lvs:index:*, instead
// of dynamic ones. Their arguments are the TypeScript classes' arguments, passed on as they are.
import * as pulumi from "@pulumi/pulumi";
import { ClusterClasses, LvsDrCluster, LvsDrClusterArgs } from "../cluster";
import { ClusterArgs } from "../model";
import { validate } from "../validate";
import { token } from "./schema";

type Args = Record<string, unknown>;

class PluginResource extends pulumi.CustomResource {
  constructor(kind: string, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(token(kind), name, props, opts);
  }
}
const plain = (kind: string) =>
  class extends PluginResource {
    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
      super(kind, name, args, opts);
    }
  };

/** A service that gives its real servers its key and its connection, as the TypeScript class does. */
class VirtualService extends PluginResource {
  readonly connectionInput: unknown;
  readonly key: Record<string, unknown>;
  constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
    const key = ["address", "port", "protocol", "fwmark", "family"];
    super("VirtualService", name, { ...Object.fromEntries(key.map((k) => [k, undefined])), ...args }, opts);
    // The key from the service's outputs, so its real servers are created after it.
    const out = this as unknown as Record<string, pulumi.Output<unknown>>;
    this.connectionInput = args.connection;
    this.key =
      args.fwmark !== undefined
        ? { fwmark: out.fwmark, family: out.family }
        : { address: out.address, port: out.port, protocol: out.protocol };
  }
}
class RealServer extends PluginResource {
  constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
    const svc = args.service;
    const ours = svc instanceof VirtualService;
    const connection = args.connection ?? (ours ? svc.connectionInput : undefined);
    super("RealServer", name, { ...args, service: ours ? svc.key : svc, connection }, opts);
  }
}

// The cluster only passes these their arguments and orders them: they stand in for the TypeScript classes.
const classes = {
  DirectorHost: plain("DirectorHost"),
  VirtualService,
  RealServer,
  DrRealServerHost: plain("DrRealServerHost"),
  TunRealServerHost: plain("TunRealServerHost"),
  NatRealServerHost: plain("NatRealServerHost"),
} as unknown as ClusterClasses;

/** Inputs that decide the cluster's shape (which resources, their names): needed as values, not outputs. */
const SHAPE = ["vip", "backends", "ha", "forwarding", "natGateway"];

/** What an Output of this SDK holds besides its public face: whether its value is known, and the value. */
type OutputInside = { isKnown: Promise<boolean>; promise(): Promise<unknown> };

/** An input's value when it came as an output of a known value; an unknown one is refused, naming it. */
async function known(name: string, field: string, v: unknown): Promise<unknown> {
  if (!pulumi.Output.isInstance(v)) return v;
  const inside = v as unknown as OutputInside;
  if (!(await inside.isKnown))
    throw new Error(`LvsDrCluster ${name}: ${field} must be known when the cluster is declared (it decides which resources there are)`);
  return inside.promise();
}

const containsOutputs = (v: unknown): boolean =>
  pulumi.Output.isInstance(v) || (!!v && typeof v === "object" && Object.values(v).some(containsOutputs));

/** The plugin's construct: an LvsDrCluster of lvs:index:* resources. */
export async function constructCluster(name: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions) {
  const args: Args = { ...inputs };
  for (const field of SHAPE) args[field] = await known(name, field, args[field]);
  // Bad input fails here, naming the field, before any resource is declared (so no host is
  // dialled); fields that are outputs of other resources are checked by the resources they reach.
  const checked = containsOutputs(args) ? undefined : validate(ClusterArgs, args);
  if (checked?.kind === "invalid")
    throw new Error(`LvsDrCluster ${name}: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
  const cluster = new LvsDrCluster(name, args as unknown as LvsDrClusterArgs, options, classes);
  // The director and service as resources (as the TypeScript class registers them), and plain
  // values a YAML program can use without reaching into them.
  const state = { director: cluster.director, service: cluster.service, vip: args.vip, directorInterface: cluster.director.interface };
  return { urn: cluster.urn, state };
}
