// LvsDrCluster: the whole LVS-DR topology of the original walkthrough from one object.
// Its arguments are the model's ClusterArgs (the root program reads the same from config).
import * as pulumi from "@pulumi/pulumi";
import * as model from "./model";
import { ArgsOf } from "./inputs";
import { DirectorHost, DrRealServerHost, RealServer, VirtualService } from "./resources";

export type LvsDrClusterArgs = Omit<ArgsOf<typeof model.ClusterArgs>, "backends" | "ha"> & {
  /** A plain list (each entry's fields may be Outputs): one RealServer and one DrRealServerHost each. */
  backends: ArgsOf<typeof model.ClusterBackend>[];
  /** A plain object (its fields may be Outputs): the standby director and the VRRP settings. */
  ha?: ArgsOf<typeof model.ClusterHa>;
};

export class LvsDrCluster extends pulumi.ComponentResource {
  readonly director!: DirectorHost;
  readonly service!: VirtualService;
  /** With `ha`: the standby director and its copy of the service. */
  readonly standbyDirector?: DirectorHost;
  readonly standbyService?: VirtualService;
  readonly realServers: RealServer[];
  readonly backendHosts: DrRealServerHost[];

  constructor(name: string, args: LvsDrClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("lvs:index:LvsDrCluster", name, {}, opts);
    const child = { parent: this };
    const { director: connection, vip, persist } = args;
    // The host resources are per VIP: when the VIP changes, the old VIP's are new resources'
    // predecessors, deleted last (after the old backends drained and the old service went), so
    // the old VIP keeps serving until then. Aliases keep stacks made before this naming.
    const perVip = (base: string) =>
      typeof vip === "string" ? { name: `${base}-${vip}`, opts: { ...child, aliases: [{ name: base }] } } : { name: base, opts: child };
    // With `ha`, a standby director gets the same director, service and backends: either can
    // serve, and VRRP (keepalived) decides which one holds the VIP.
    const unicast = args.ha?.unicast && pulumi.output(args.ha.unicast);
    const directors = [{ role: "", connection, priority: args.ha?.primaryPriority, peer: unicast?.standby }];
    if (args.ha)
      directors.push({ role: "standby-", connection: args.ha.standby, priority: args.ha.standbyPriority, peer: unicast?.primary });
    const hosts = args.backends.map((b, i) => {
      const id = b.name ?? (typeof b.address === "string" ? b.address : `backend-${i}`);
      const h = perVip(`${name}-rs-host-${id}`);
      return { b, id, host: new DrRealServerHost(h.name, { connection: b.connection, vips: [vip], persist }, h.opts) };
    });
    this.backendHosts = hosts.map((h) => h.host);
    this.realServers = [];
    const { ha } = args;
    for (const dir of directors) {
      const d = perVip(`${name}-${dir.role}director`);
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
      const director = new DirectorHost(
        d.name,
        { connection: dir.connection, vips: [vip], interface: args.interface, vrrp, installKeepalived: args.installKeepalived, persist },
        d.opts,
      );
      const service = new VirtualService(
        `${name}-${dir.role}service`,
        {
          connection: dir.connection,
          address: vip,
          port: args.port,
          protocol: args.protocol,
          scheduler: args.scheduler,
          persistence: args.persistence,
          healthCheck: args.healthCheck,
          sorryServer: args.sorryServer,
          installKeepalived: args.installKeepalived,
          persist,
        },
        { ...child, dependsOn: [director] },
      );
      if (!dir.role) [this.director, this.service] = [director, service];
      else [this.standbyDirector, this.standbyService] = [director, service];
      // The backend must hold the VIP before traffic is sent to it.
      for (const { b, id, host } of hosts)
        this.realServers.push(
          new RealServer(
            `${name}-${dir.role}rs-${id}`,
            { service, address: b.address, weight: b.weight, persist, drainTimeout: args.drainTimeout },
            { ...child, dependsOn: [host] },
          ),
        );
    }
    this.registerOutputs({ director: this.director, service: this.service });
  }
}
