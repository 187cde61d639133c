// The resource classes users declare. Thin on purpose: each passes its inputs to a
// dynamic provider shim (shim.ts) and declares its outputs; all behaviour is in runtime/.
import * as pulumi from "@pulumi/pulumi";
import * as model from "./model";
import { ArgsOf, ConnectionArgs, protectConnection } from "./inputs";
import { shimFor } from "./shim";
import type { ProviderName } from "./runtime";
import { DirectorHostOutputs, DrRealServerHostOutputs, RealServerOutputs, VirtualServiceOutputs } from "./model";

/** Outputs every resource has besides its inputs and its kind's outputs (runtime/kind.ts writes them). */
const COMMON_OUTPUTS = ["credentials", "owner", "hostKeyFingerprint", "proxyHostKeyFingerprint", "stateVersion"] as const;
/** Output keys declared from the kinds' output schemas, so classes and runtime cannot drift apart. */
const OUTPUT_KEYS: Record<ProviderName, string[]> = {
  DirectorHost: Object.keys(DirectorHostOutputs.shape),
  VirtualService: Object.keys(VirtualServiceOutputs.shape),
  RealServer: Object.keys(RealServerOutputs.shape),
  DrRealServerHost: Object.keys(DrRealServerHostOutputs.shape),
};

/** SDK fields every Resource has (resource.ts), read to compute a child's URN without awaiting its parent. */
type Named = { __pulumiType?: string; __parentResource?: Named };

/**
 * The URN the engine will give a resource, computed the way the engine does (parent types
 * joined by "$"). pulumi.createUrn would await the parent's URN, which deadlocks the program
 * when siblings are registered inside a component's constructor.
 */
function urnOf(name: string, type: string, parent?: pulumi.Resource): string | undefined {
  const types: string[] = [];
  for (let p = parent as Named | undefined; p && p.__pulumiType !== "pulumi:pulumi:Stack"; p = p.__parentResource) {
    if (!p.__pulumiType) return undefined; // an SDK without the field: the runtime names the owner by id
    types.unshift(p.__pulumiType);
  }
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${[...types, type].join("$")}::${name}`;
}

abstract class LvsResource extends pulumi.dynamic.Resource {
  /** The connection, without secrets (those are in the secret `credentials` output). */
  declare readonly connection: pulumi.Output<model.Connection>;
  /** SHA256 fingerprint of the host key seen at create; a different key later is refused. */
  declare readonly hostKeyFingerprint: pulumi.Output<string>;
  /** The jump host's, when `connection.proxy` is set. */
  declare readonly proxyHostKeyFingerprint: pulumi.Output<string | undefined>;
  /** This resource's URN at create: what the host's ledger names as the holder of what it claims. */
  declare readonly owner: pulumi.Output<string>;
  declare readonly stateVersion: pulumi.Output<number>;

  protected constructor(kind: ProviderName, name: string, props: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
    const connection = protectConnection(props.connection as pulumi.Input<ConnectionArgs>);
    const outputs = Object.fromEntries([...COMMON_OUTPUTS, ...OUTPUT_KEYS[kind]].map((k) => [k, undefined]));
    // The URN the engine will give this resource, computed the way the engine does.
    const owner = urnOf(name, `pulumi-nodejs:dynamic/lvs:${kind}`, opts?.parent);
    super(shimFor(kind), name, { ...outputs, ...props, connection, owner }, {
      ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "credentials"],
    }, "lvs", kind);
  }
}

export type DirectorHostArgs = Omit<ArgsOf<typeof model.DirectorHostArgs>, "owner">;
/** The director of LVS-DR: VIPs on its LAN interface, optional ip_forward and IPVS sysctls. */
export class DirectorHost extends LvsResource {
  declare readonly vips: pulumi.Output<string[]>;
  /** The interface holding the VIPs (resolved from the route when not given). */
  declare readonly interface: pulumi.Output<string>;
  constructor(name: string, args: DirectorHostArgs, opts?: pulumi.CustomResourceOptions) {
    super("DirectorHost", name, { ...args, interface: args.interface }, opts);
  }
}

export type VirtualServiceArgs = Omit<ArgsOf<typeof model.VirtualServiceArgs>, "owner">;
/** One IPVS virtual service (VIP:port/protocol) on a director. */
export class VirtualService extends LvsResource {
  declare readonly address: pulumi.Output<string>;
  declare readonly port: pulumi.Output<number>;
  declare readonly protocol: pulumi.Output<model.ServiceKey["protocol"]>;
  declare readonly scheduler: pulumi.Output<model.VirtualService["scheduler"]>;
  declare readonly persistence: pulumi.Output<model.Persistence | undefined>;
  /** True when an identical service already existed and was adopted. */
  declare readonly adopted: pulumi.Output<boolean>;
  /** The connection as given (secrets intact), so RealServers can default to it. */
  readonly connectionInput: pulumi.Input<ConnectionArgs>;
  constructor(name: string, args: VirtualServiceArgs, opts?: pulumi.CustomResourceOptions) {
    super("VirtualService", name, { protocol: undefined, scheduler: undefined, persistence: undefined, ...args }, opts);
    this.connectionInput = args.connection;
  }
}

type RealServerModelArgs = Omit<ArgsOf<typeof model.RealServerArgs>, "owner">;
export type RealServerArgs = Omit<RealServerModelArgs, "connection" | "service"> & {
  /** The VirtualService (or its key: address, port, protocol) this backend belongs to. */
  service: VirtualService | RealServerModelArgs["service"];
  /** The director's connection; defaults to the VirtualService's when `service` is one. */
  connection?: RealServerModelArgs["connection"];
};
/** One real server (backend) of a VirtualService. */
export class RealServer extends LvsResource {
  declare readonly address: pulumi.Output<string>;
  declare readonly port: pulumi.Output<number>;
  declare readonly forwarding: pulumi.Output<model.Destination["forwarding"]>;
  declare readonly weight: pulumi.Output<number>;
  declare readonly adopted: pulumi.Output<boolean>;
  /** Counters at the last create, update or refresh. */
  declare readonly activeConnections: pulumi.Output<number>;
  declare readonly inactiveConnections: pulumi.Output<number>;
  constructor(name: string, args: RealServerArgs, opts?: pulumi.CustomResourceOptions) {
    const svc = args.service;
    const isResource = svc instanceof VirtualService;
    const service = isResource ? { address: svc.address, port: svc.port, protocol: svc.protocol } : svc;
    const connection = args.connection ?? (isResource ? svc.connectionInput : undefined);
    super("RealServer", name, {
      port: undefined, forwarding: undefined, weight: undefined, ...args, service, connection,
    }, opts); // using the service's outputs already orders it after the service
  }
}

export type DrRealServerHostArgs = Omit<ArgsOf<typeof model.DrRealServerHostArgs>, "owner">;
/** A backend of LVS-DR: VIPs on lo, ARP sysctls set (and restored on delete). */
export class DrRealServerHost extends LvsResource {
  declare readonly vips: pulumi.Output<string[]>;
  declare readonly arpIgnore: pulumi.Output<number>;
  declare readonly arpAnnounce: pulumi.Output<number>;
  constructor(name: string, args: DrRealServerHostArgs, opts?: pulumi.CustomResourceOptions) {
    super("DrRealServerHost", name, { arpIgnore: undefined, arpAnnounce: undefined, ...args }, opts);
  }
}
