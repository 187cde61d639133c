// LvsDrCluster: the whole seed topology in one object (what the component and the root program take).
import { z } from "zod";
import { adopt, drainTimeout, NatRealServerHostArgs, persist } from "./args";
import { Connection } from "./connection";
import { Forwarding, Persistence, Protocol, Scheduler, TUNNEL_TYPES, virtualServiceFields } from "./ipvs";
import { HealthCheck, installKeepalived, SorryServer, Vrrp } from "./keepalived";
import { intIn, interfaceName, ipAddress, oneOf, port, unicastIpv4 } from "./primitives";

export const ClusterBackend = z.object({
  connection: Connection,
  address: ipAddress,
  weight: intIn(0, 65535, "weight").default(1),
  /** Stable name for the backend's resources; defaults to its address. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,63}$/, {
      error: (i) => `must be letters, digits, dots, dashes or underscores, got ${JSON.stringify(i.input)}`,
    })
    .optional(),
});
/** A standby director for LvsDrCluster: VRRP between the two, the same service and backends on both. */
export const ClusterHa = Vrrp.omit({ priority: true, unicastPeers: true }).extend({
  standby: Connection,
  primaryPriority: intIn(1, 254, "ha.primaryPriority").default(150),
  standbyPriority: intIn(1, 254, "ha.standbyPriority").default(100),
  /** The directors' LAN addresses, for VRRP over unicast (networks without multicast). */
  unicast: z.object({ primary: unicastIpv4, standby: unicastIpv4 }).optional(),
});
/** The whole seed topology in one object: what LvsDrCluster and the root program take. */
export const ClusterArgs = z.object({
  director: Connection,
  vip: ipAddress,
  port,
  protocol: Protocol.default("tcp"),
  scheduler: Scheduler.default("rr"),
  persistence: Persistence.optional(),
  schedulerFlags: virtualServiceFields.schedulerFlags,
  onePacket: virtualServiceFields.onePacket,
  /** How the director reaches the backends: direct routing (same LAN), tunnel (any network) or masquerade (NAT). */
  forwarding: Forwarding.default("direct"),
  tunnelType: oneOf(TUNNEL_TYPES, "tunnelType").default("ipip"),
  tunnelPort: port.optional(),
  /** With masquerade: the director's address on the backends' network, their gateway to the clients. */
  natGateway: ipAddress.optional(),
  /** With masquerade: the clients' networks, routed through the director on each backend. */
  natClients: NatRealServerHostArgs.shape.clients,
  interface: interfaceName.optional(),
  backends: z.array(ClusterBackend).min(1, { error: "must list at least one backend" }),
  /** Reboot persistence for every resource of the cluster. */
  persist,
  /** What every resource of the cluster does with what it finds already on the hosts (see the resources' adopt). */
  adopt,
  /** Seconds to drain a removed backend. */
  drainTimeout,
  /** Health-check the backends through keepalived (see VirtualService.healthCheck). */
  healthCheck: HealthCheck.optional(),
  sorryServer: SorryServer.optional(),
  /** A standby director that takes the VIP over (VRRP) and carries the same service and backends. */
  ha: ClusterHa.optional(),
  installKeepalived,
});
export type ClusterArgs = z.infer<typeof ClusterArgs>;
