// The resource classes users declare. Thin on purpose: each passes its inputs to a
// dynamic provider shim (shim.ts) and declares its outputs; all behaviour is in runtime/.
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import * as model from "./model";
import { ArgsOf, ConnectionArgs, protectConnection, protectField } from "./inputs";
import { dynamicType, shimText } from "./shim";
import type { ProviderName } from "./runtime";
import {
  DirectorHostOutputs,
  DrRealServerHostOutputs,
  NatRealServerHostOutputs,
  RealServerOutputs,
  TunRealServerHostOutputs,
  VirtualServiceOutputs,
} from "./model";

/** Outputs every resource has besides its inputs and its kind's outputs (runtime/kind.ts writes them). */
const COMMON_OUTPUTS = ["credentials", "inputSecrets", "owner", "hostKeyFingerprint", "proxyHostKeyFingerprint", "stateVersion"] as const;
/** Output keys declared from the kinds' output schemas, so classes and runtime cannot drift apart. */
const OUTPUT_KEYS: Record<ProviderName, string[]> = {
  DirectorHost: Object.keys(DirectorHostOutputs.shape),
  VirtualService: Object.keys(VirtualServiceOutputs.shape),
  RealServer: Object.keys(RealServerOutputs.shape),
  DrRealServerHost: Object.keys(DrRealServerHostOutputs.shape),
  TunRealServerHost: Object.keys(TunRealServerHostOutputs.shape),
  NatRealServerHost: Object.keys(NatRealServerHostOutputs.shape),
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

abstract class LvsResource extends pulumi.CustomResource {
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
    const owner = urnOf(name, dynamicType(kind), opts?.parent);
    // The SDK gives each of a resource's ~20 properties four promises, each stamped with a
    // `new Error().stack` kept only for its promise-leak report; in a TypeScript program
    // ts-node maps every such stack through source maps: 0.65 s of the 0.8 s a program took to
    // declare 101 resources (measured; 0.15 s without). Those errors capture no frames here, unless
    // PULUMI_DEBUG_PROMISE_LEAKS asks for the report. The resource's source position is kept:
    // the SDK lifts the limit itself to take it. An error thrown here gets its stack back.
    const stackLimit = Error.stackTraceLimit;
    if (!process.env.PULUMI_DEBUG_PROMISE_LEAKS) Error.stackTraceLimit = 0;
    try {
      // What pulumi.dynamic.Resource registers (its type token, the provider text as `__provider`),
      // with our short shim in place of a serialized closure (shim.ts says why).
      super(
        dynamicType(kind),
        name,
        { ...outputs, ...props, connection, owner, __provider: shimText(kind) },
        {
          ...opts,
          additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "credentials", "inputSecrets"],
        },
      );
    } catch (e) {
      Error.stackTraceLimit = stackLimit;
      if (e instanceof Error) Error.captureStackTrace(e);
      throw e;
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
  }
}

/**
 * A resource's output properties, derived from its kind's schemas: the inputs as the provider
 * stored them (without the connection's secrets) and the outputs the kind adds. Declared on the
 * classes through interface merging, so no output is listed by hand.
 */
type Props<Inputs, Outputs extends z.ZodType> = {
  readonly [K in keyof (Omit<Inputs, "connection" | "owner"> & z.output<Outputs>)]-?: pulumi.Output<
    (Omit<Inputs, "connection" | "owner"> & z.output<Outputs>)[K]
  >;
};

export type DirectorHostArgs = Omit<ArgsOf<typeof model.DirectorHostArgs>, "owner">;
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface DirectorHost extends Props<model.DirectorHostArgs, typeof DirectorHostOutputs> {}
/** The director of LVS-DR: VIPs on its LAN interface, optional ip_forward and IPVS sysctls. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class DirectorHost extends LvsResource {
  constructor(name: string, args: DirectorHostArgs, opts?: pulumi.CustomResourceOptions) {
    // The VRRP password is a secret in state (inputs included), like the connection's.
    super("DirectorHost", name, { ...args, interface: args.interface, vrrp: protectField(args.vrrp, "authPass") }, opts);
  }
}

export type VirtualServiceArgs = Omit<ArgsOf<typeof model.VirtualServiceArgs>, "owner">;
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface VirtualService extends Props<model.VirtualServiceArgs, typeof VirtualServiceOutputs> {}
/** One IPVS virtual service (VIP:port/protocol) on a director. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class VirtualService extends LvsResource {
  /** The connection as given (secrets intact), so RealServers can default to it. */
  readonly connectionInput: pulumi.Input<ConnectionArgs>;
  /**
   * The service's key as RealServers take it, from its outputs (so they are created after it):
   * only the fields of its form, since an output the provider never sets is unknown at preview.
   */
  readonly key: Record<string, pulumi.Output<unknown>>;
  constructor(name: string, args: VirtualServiceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "VirtualService",
      name,
      {
        address: undefined,
        port: undefined,
        protocol: undefined,
        fwmark: undefined,
        family: undefined,
        scheduler: undefined,
        persistence: undefined,
        schedulerFlags: undefined,
        onePacket: undefined,
        realServers: undefined,
        ...args,
      },
      opts,
    );
    this.connectionInput = args.connection;
    this.key =
      args.fwmark !== undefined
        ? { fwmark: this.fwmark, family: this.family }
        : { address: this.address, port: this.port, protocol: this.protocol };
  }
}

type RealServerModelArgs = Omit<ArgsOf<typeof model.RealServerArgs>, "owner">;
export type RealServerArgs = Omit<RealServerModelArgs, "connection" | "service"> & {
  /** The VirtualService (or its key: address, port, protocol) this backend belongs to. */
  service: VirtualService | RealServerModelArgs["service"];
  /** The director's connection; defaults to the VirtualService's when `service` is one. */
  connection?: RealServerModelArgs["connection"];
};
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface RealServer extends Props<model.RealServerArgs, typeof RealServerOutputs> {}
/** One real server (backend) of a VirtualService. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class RealServer extends LvsResource {
  constructor(name: string, args: RealServerArgs, opts?: pulumi.CustomResourceOptions) {
    const svc = args.service;
    const isResource = svc instanceof VirtualService;
    const service = isResource ? svc.key : svc;
    const connection = args.connection ?? (isResource ? svc.connectionInput : undefined);
    super(
      "RealServer",
      name,
      {
        port: undefined,
        forwarding: undefined,
        weight: undefined,
        ...args,
        service,
        connection,
      },
      opts,
    ); // using the service's outputs already orders it after the service
  }
}

export type DrRealServerHostArgs = Omit<ArgsOf<typeof model.DrRealServerHostArgs>, "owner">;
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface DrRealServerHost extends Props<model.DrRealServerHostArgs, typeof DrRealServerHostOutputs> {}
/** A backend of LVS-DR: VIPs on lo, ARP sysctls set (and restored on delete). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class DrRealServerHost extends LvsResource {
  constructor(name: string, args: DrRealServerHostArgs, opts?: pulumi.CustomResourceOptions) {
    super("DrRealServerHost", name, { arpIgnore: undefined, arpAnnounce: undefined, ...args }, opts);
  }
}

export type TunRealServerHostArgs = Omit<ArgsOf<typeof model.TunRealServerHostArgs>, "owner">;
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface TunRealServerHost extends Props<model.TunRealServerHostArgs, typeof TunRealServerHostOutputs> {}
/** A backend of LVS-TUN: tunnel device up with the VIPs on it, reverse-path filter relaxed (restored on delete). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class TunRealServerHost extends LvsResource {
  constructor(name: string, args: TunRealServerHostArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "TunRealServerHost",
      name,
      { tunnelType: undefined, tunnelPort: undefined, arpIgnore: undefined, arpAnnounce: undefined, ...args },
      opts,
    );
  }
}

export type NatRealServerHostArgs = Omit<ArgsOf<typeof model.NatRealServerHostArgs>, "owner">;
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface NatRealServerHost extends Props<model.NatRealServerHostArgs, typeof NatRealServerHostOutputs> {}
/** A backend of LVS-NAT: the clients' networks routed through the director, ICMP redirects refused (restored on delete). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class NatRealServerHost extends LvsResource {
  constructor(name: string, args: NatRealServerHostArgs, opts?: pulumi.CustomResourceOptions) {
    super("NatRealServerHost", name, { clients: undefined, ...args }, opts);
  }
}
