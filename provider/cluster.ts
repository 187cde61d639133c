// LvsDrCluster: the whole LVS-DR topology of the original walkthrough from one object.
// Its arguments are the model's ClusterArgs (the root program reads the same from config).
import * as pulumi from "@pulumi/pulumi";
import * as model from "./model";
import { ArgsOf } from "./inputs";
import { DirectorHost, DrRealServerHost, RealServer, VirtualService } from "./resources";

export type LvsDrClusterArgs = Omit<ArgsOf<typeof model.ClusterArgs>, "backends"> & {
  /** A plain list (each entry's fields may be Outputs): one RealServer and one DrRealServerHost each. */
  backends: ArgsOf<typeof model.ClusterBackend>[];
};

export class LvsDrCluster extends pulumi.ComponentResource {
  readonly director: DirectorHost;
  readonly service: VirtualService;
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
    const d = perVip(`${name}-director`);
    this.director = new DirectorHost(d.name, { connection, vips: [vip], interface: args.interface, persist }, d.opts);
    this.service = new VirtualService(
      `${name}-service`,
      {
        connection,
        address: vip,
        port: args.port,
        protocol: args.protocol,
        scheduler: args.scheduler,
        persistence: args.persistence,
        persist,
      },
      { ...child, dependsOn: [this.director] },
    );
    this.realServers = [];
    this.backendHosts = [];
    args.backends.forEach((b, i) => {
      const id = b.name ?? (typeof b.address === "string" ? b.address : `backend-${i}`);
      const h = perVip(`${name}-rs-host-${id}`);
      const host = new DrRealServerHost(h.name, { connection: b.connection, vips: [vip], persist }, h.opts);
      this.backendHosts.push(host);
      // The backend must hold the VIP before traffic is sent to it.
      this.realServers.push(
        new RealServer(
          `${name}-rs-${id}`,
          {
            service: this.service,
            address: b.address,
            weight: b.weight,
            persist,
            drainTimeout: args.drainTimeout,
          },
          { ...child, dependsOn: [host] },
        ),
      );
    });
    this.registerOutputs({ director: this.director, service: this.service });
  }
}
