// pulumi-lvs: Linux Virtual Server (IPVS) in Direct Routing mode as Pulumi resources.
export {
  DirectorHost,
  type DirectorHostArgs,
  DrRealServerHost,
  type DrRealServerHostArgs,
  NatRealServerHost,
  type NatRealServerHostArgs,
  TunRealServerHost,
  type TunRealServerHostArgs,
  RealServer,
  type RealServerArgs,
  VirtualService,
  type VirtualServiceArgs,
} from "./resources";
export { LvsDrCluster, type LvsDrClusterArgs } from "./cluster";
export type { ConnectionArgs } from "./inputs";
export * as model from "./model";
