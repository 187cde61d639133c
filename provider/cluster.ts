// LvsDrCluster: the whole LVS-DR topology of the original walkthrough from one object.
import * as pulumi from "@pulumi/pulumi";
import * as model from "./model";
import { ArgsOf } from "./inputs";
import { DirectorHost, DrRealServerHost, RealServer, VirtualService } from "./resources";

type Model = ArgsOf<typeof model.ClusterArgs>;
type BackendModel = ArgsOf<typeof model.ClusterArgs.shape.backends.element>;

export type LvsDrClusterArgs = Omit<Model, "backends"> & {
  /** A plain list (each entry's fields may be Outputs): one RealServer and one DrRealServerHost each. */
  backends: (BackendModel & {
    /** Stable name for the backend's resources; defaults to its address when that is a plain string. */
    name?: string;
  })[];
  /** Reboot persistence for every resource (default true). */
  persist?: pulumi.Input<boolean>;
  /** Seconds to drain a removed backend (default 30). */
  drainTimeout?: pulumi.Input<number>;
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
    this.director = new DirectorHost(`${name}-director`, { connection, vips: [vip], interface: args.interface, persist }, child);
    this.service = new VirtualService(`${name}-service`, {
      connection, address: vip, port: args.port, protocol: args.protocol, scheduler: args.scheduler, persistence: args.persistence, persist,
    }, { ...child, dependsOn: [this.director] });
    this.realServers = [];
    this.backendHosts = [];
    args.backends.forEach((b, i) => {
      const id = b.name ?? (typeof b.address === "string" ? b.address : `backend-${i}`);
      const host = new DrRealServerHost(`${name}-rs-host-${id}`, { connection: b.connection, vips: [vip], persist }, child);
      this.backendHosts.push(host);
      // The backend must hold the VIP before traffic is sent to it.
      this.realServers.push(new RealServer(`${name}-rs-${id}`, {
        service: this.service, address: b.address, weight: b.weight, persist, drainTimeout: args.drainTimeout,
      }, { ...child, dependsOn: [host] }));
    });
    this.registerOutputs({ director: this.director, service: this.service });
  }
}
