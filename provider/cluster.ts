// LvsDrCluster: the whole LVS-DR topology of the original walkthrough from one object.
// Its arguments are the model's ClusterArgs (the root program reads the same from config).
// `forwarding` picks the backends' host resource: DrRealServerHost (direct), TunRealServerHost
// (tunnel) or NatRealServerHost (masquerade, with ip_forward on the director).
import * as pulumi from "@pulumi/pulumi";
import * as model from "./model";
import { ArgsOf } from "./inputs";
import { DirectorHost, DrRealServerHost, NatRealServerHost, RealServer, TunRealServerHost, VirtualService } from "./resources";

export type LvsDrClusterArgs = Omit<ArgsOf<typeof model.ClusterArgs>, "backends" | "ha"> & {
  /** A plain list (each entry's fields may be Outputs): one RealServer and one DrRealServerHost each. */
  backends: ArgsOf<typeof model.ClusterBackend>[];
  /** A plain object (its fields may be Outputs): the standby director and the VRRP settings. */
  ha?: ArgsOf<typeof model.ClusterHa>;
};

/**
 * The resource classes a cluster declares: by default the TypeScript classes (resources of the
 * dynamic provider); the provider plugin's construct passes its own, which declare lvs:index:*
 * resources with the same arguments.
 */
export interface ClusterClasses {
  DirectorHost: typeof DirectorHost;
  VirtualService: typeof VirtualService;
  RealServer: typeof RealServer;
  DrRealServerHost: typeof DrRealServerHost;
  TunRealServerHost: typeof TunRealServerHost;
  NatRealServerHost: typeof NatRealServerHost;
}
const dynamicClasses: ClusterClasses = { DirectorHost, VirtualService, RealServer, DrRealServerHost, TunRealServerHost, NatRealServerHost };

export class LvsDrCluster extends pulumi.ComponentResource {
  readonly director!: DirectorHost;
  readonly service!: VirtualService;
  /** With `ha`: the standby director and its copy of the service. */
  readonly standbyDirector?: DirectorHost;
  readonly standbyService?: VirtualService;
  readonly realServers: RealServer[];
  readonly backendHosts: (DrRealServerHost | TunRealServerHost | NatRealServerHost)[];

  constructor(name: string, args: LvsDrClusterArgs, opts?: pulumi.ComponentResourceOptions, classes: ClusterClasses = dynamicClasses) {
    super("lvs:index:LvsDrCluster", name, {}, opts);
    const { DirectorHost, VirtualService, RealServer } = classes;
    const child = { parent: this };
    const { director: connection, vip } = args;
    // The host resources are per VIP: when the VIP changes, the old VIP's are new resources'
    // predecessors, deleted last (after the old backends drained and the old service went), so
    // the old VIP keeps serving until then. Aliases keep stacks made before this naming.
    const perVip = (base: string) =>
      typeof vip === "string" ? { name: `${base}-${vip}`, opts: { ...child, aliases: [{ name: base }] } } : { name: base, opts: child };
    // With `ha`, a standby director gets the same director, service and backends: either can
    // serve, and VRRP (keepalived) decides which one holds the VIP.
    const unicast = args.ha?.unicast && pulumi.output(args.ha.unicast);
    const directors: ClusterDirector[] = [{ role: "", connection, priority: args.ha?.primaryPriority, peer: unicast?.standby }];
    if (args.ha)
      directors.push({ role: "standby-", connection: args.ha.standby, priority: args.ha.standbyPriority, peer: unicast?.primary });
    const hosts = args.backends.map((b, i) => {
      const id = b.name ?? (typeof b.address === "string" ? b.address : `backend-${i}`);
      const h = perVip(`${name}-rs-host-${id}`);
      return { b, id, host: backendHost(classes, args, h.name, b, h.opts) };
    });
    this.backendHosts = hosts.map((h) => h.host);
    this.realServers = [];
    for (const dir of directors) {
      const d = perVip(`${name}-${dir.role}director`);
      // The standby comes up after the primary: its keepalived then finds the primary master
      // (see keepalived settle) and the priority-150 director holds the VIPs after a fresh up.
      const director = new DirectorHost(d.name, directorArgs(args, dir), dir.role ? { ...d.opts, dependsOn: [this.director] } : d.opts);
      const service = new VirtualService(`${name}-${dir.role}service`, serviceArgs(args, dir.connection), {
        ...child,
        dependsOn: [director],
      });
      if (!dir.role) [this.director, this.service] = [director, service];
      else [this.standbyDirector, this.standbyService] = [director, service];
      // The backend must hold the VIP before traffic is sent to it.
      for (const { b, id, host } of hosts)
        this.realServers.push(
          new RealServer(`${name}-${dir.role}rs-${id}`, realServerArgs(args, service, b), { ...child, dependsOn: [host] }),
        );
    }
    this.registerOutputs({ director: this.director, service: this.service });
  }
}

/** One director of the cluster: the primary (role "") or the standby, its priority and unicast peer. */
interface ClusterDirector {
  role: string;
  connection: LvsDrClusterArgs["director"];
  priority?: pulumi.Input<number>;
  peer?: pulumi.Input<string>;
}

function directorArgs(args: LvsDrClusterArgs, dir: ClusterDirector): ConstructorParameters<typeof DirectorHost>[1] {
  const { ha } = args;
  const vrrp = ha && {
    virtualRouterId: ha.virtualRouterId,
    priority: dir.priority ?? (dir.role ? 100 : 150), // ClusterHa's defaults
    preempt: ha.preempt,
    preemptDelay: ha.preemptDelay,
    advertInterval: ha.advertInterval,
    authPass: ha.authPass,
    syncDaemon: ha.syncDaemon,
    unicastPeers: dir.peer ? [dir.peer] : undefined,
  };
  return {
    connection: dir.connection,
    vips: [args.vip],
    interface: args.interface,
    vrrp,
    installKeepalived: args.installKeepalived,
    persist: args.persist,
    adopt: args.adopt,
    ...(args.forwarding === "masquerade" ? { ipForward: true } : {}),
  };
}

function serviceArgs(args: LvsDrClusterArgs, connection: ClusterDirector["connection"]): ConstructorParameters<typeof VirtualService>[1] {
  return {
    connection,
    address: args.vip,
    port: args.port,
    protocol: args.protocol,
    scheduler: args.scheduler,
    persistence: args.persistence,
    schedulerFlags: args.schedulerFlags,
    onePacket: args.onePacket,
    healthCheck: args.healthCheck,
    sorryServer: args.sorryServer,
    installKeepalived: args.installKeepalived,
    persist: args.persist,
    adopt: args.adopt,
  };
}

function realServerArgs(
  args: LvsDrClusterArgs,
  service: VirtualService,
  b: ArgsOf<typeof model.ClusterBackend>,
): ConstructorParameters<typeof RealServer>[1] {
  return {
    service,
    address: b.address,
    weight: b.weight,
    persist: args.persist,
    adopt: args.adopt,
    drainTimeout: args.drainTimeout,
    forwarding: args.forwarding,
    ...(args.forwarding === "tunnel" ? { tunnelType: args.tunnelType, tunnelPort: args.tunnelPort } : {}),
  };
}

/** The host resource a backend needs for the cluster's forwarding method. */
function backendHost(
  { DrRealServerHost, TunRealServerHost, NatRealServerHost }: ClusterClasses,
  args: LvsDrClusterArgs,
  name: string,
  b: ArgsOf<typeof model.ClusterBackend>,
  opts: pulumi.CustomResourceOptions,
) {
  const { vip, persist, adopt } = args;
  if (args.forwarding === "tunnel")
    return new TunRealServerHost(
      name,
      { connection: b.connection, vips: [vip], tunnelType: args.tunnelType, tunnelPort: args.tunnelPort, persist, adopt },
      opts,
    );
  if (args.forwarding === "masquerade") {
    if (!args.natGateway)
      throw new Error(
        `LvsDrCluster ${name}: natGateway (the director's address on the backends' network) is required with forwarding "masquerade"`,
      );
    return new NatRealServerHost(
      name,
      { connection: b.connection, director: args.natGateway, clients: args.natClients, persist, adopt },
      opts,
    );
  }
  return new DrRealServerHost(name, { connection: b.connection, vips: [vip], persist, adopt }, opts);
}
