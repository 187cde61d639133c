// The one domain model of pulumi-lvs: IPVS services, real servers and the host network settings
// of directors and backends, as zod schemas. Every TypeScript type of these objects is derived
// from here (z.infer); validation messages name the field and the offending value, and run
// before anything connects to a host. Layered bottom to top: primitives, connection, ipvs,
// keepalived, args (each resource's inputs), cluster, outputs, each built only on those before
// it. What this file lists is the model; the rest of each file is how its rules are built.

/** Schema version written into every resource's outputs so later releases can read older state. */
export const STATE_VERSION = 2;

export { canonicalIpv6, familyOf, hostPort, interfaceName, ipAddress, port, vipPrefix, type Family } from "./primitives";
export { Connection, DefaultConnection, ProxyConnection, SECRET_CONNECTION_FIELDS } from "./connection";
export {
  Destination,
  FAMILIES,
  FORWARDING,
  Forwarding,
  IpvsTimeouts,
  KERNEL_TIMEOUTS,
  MarkMatch,
  Persistence,
  PROTOCOLS,
  Protocol,
  SCHED_FLAGS,
  SCHEDULERS,
  Scheduler,
  ServiceKey,
  serviceKeyString,
  TUNNEL_TYPES,
  VirtualService,
  type DestinationCounters,
} from "./ipvs";
export { CHECK_TYPES, HealthCheck, SorryServer, Vrrp } from "./keepalived";
export {
  DirectorHostArgs,
  DirectorSysctls,
  DrRealServerHostArgs,
  InlineRealServer,
  NatRealServerHostArgs,
  RealServerArgs,
  TunRealServerHostArgs,
  VirtualServiceArgs,
} from "./args";
export { ClusterArgs, ClusterBackend, ClusterHa } from "./cluster";
export {
  DirectorHostOutputs,
  DrRealServerHostOutputs,
  NatRealServerHostOutputs,
  RealServerOutputs,
  TunRealServerHostOutputs,
  VirtualServiceOutputs,
} from "./outputs";
