// pulumi-lvs: Linux Virtual Server (IPVS) in Direct Routing mode as Pulumi resources.
export {
  DirectorHost,
  DirectorHostArgs,
  DrRealServerHost,
  DrRealServerHostArgs,
  NatRealServerHost,
  NatRealServerHostArgs,
  TunRealServerHost,
  TunRealServerHostArgs,
  RealServer,
  RealServerArgs,
  VirtualService,
  VirtualServiceArgs,
} from "./resources";
export { LvsDrCluster, LvsDrClusterArgs } from "./cluster";
export { ConnectionArgs } from "./inputs";
export * as model from "./model";
